"""Scan- and photo-condition augmentation of whole pages with their handwritten-block box (cv2, deterministic).

``augment_page(page, box, rng, params)`` takes a uint8 gray page (H, W) of any size and the block box
(x, y, w, h) as fractions of it, and returns a uint8 (H, W) variant and the box, transformed exactly. Pixel-sized
parameters (blur, noise) act at the size given: the paragraph trainer augments pages already reduced to the
network input (372x266), which is 10x cheaper than at 1120x800.

1. framing: each side is cropped (never into the block) or padded with a margin, and one axis is stretched by
   cropping/padding so the page takes another aspect ratio; the result is fitted back into (H, W) with
   ``resize_image`` exactly as inference does (letterbox in paper colour);
2. one similarity warp about the centre: scale, rotation of a few degrees, translation (the reference's
   -x/-y); uncovered areas are paper-coloured, or dark as for a page photographed on a table. The box is the
   bounding box of the block's transformed ink pixels (plus the margins the box had around that ink), clipped to
   the page: the box of the four transformed corners would grow a rotated block by w * sin(angle) even where the
   corners hold no ink (an indented first line, a short last one), and a net trained on it learns to draw boxes
   too tall;
3. photometric (boxes unchanged): uneven illumination (a linear light gradient plus a smooth shadow field, as on
   phone photos), contrast and brightness, gamma, Gaussian blur, Gaussian noise, JPEG compression.

Same page, box and Generator state -> same output.
"""
from dataclasses import dataclass

import cv2
import numpy as np

from ocr.core.geometry import background_level, resize_image


@dataclass
class PageAugmentParams:
    """Ranges of the random changes; 0 disables one. Geometry in fractions of the page size, angles in degrees.

    translate_x/y: shift up to +-fraction of W/H; scale: zoom factor in 1 +- scale; rotation: +-degrees;
    margin: each side cropped or padded by up to this fraction of the page side; aspect: one axis lengthened
    by up to this fraction (page aspect ratio change); dark_border: probability that padding and uncovered
    areas are dark (a table) rather than paper; illumination: max darkening by uneven light (fraction of the
    grey level); contrast: contrast factor in 1 +- contrast; brightness: shift up to +-fraction of the grey
    range; gamma: drawn log-uniformly in [1/gamma, gamma] (<= 1 disables); blur: max Gaussian sigma in pixels
    (applied half of the time); noise: max std of Gaussian noise in grey levels; jpeg: lowest JPEG quality
    (0 disables; applied half of the time).
    """
    translate_x: float = 0.05
    translate_y: float = 0.05
    scale: float = 0.10
    rotation: float = 3.0
    margin: float = 0.08
    aspect: float = 0.25
    dark_border: float = 0.2
    illumination: float = 0.35
    contrast: float = 0.3
    brightness: float = 0.1
    gamma: float = 1.5
    blur: float = 1.0
    noise: float = 10.0
    jpeg: int = 30


INK_CONTRAST = 60        # grey levels below the paper from which a pixel inside the block counts as ink
NO_AUGMENT = PageAugmentParams(**{name: 0 for name in PageAugmentParams.__dataclass_fields__})


def _box_px(box, shape):
    """Fractional (x, y, w, h) -> float pixel corners (x1, y1, x2, y2) in an image of shape (H, W)."""
    height, width = shape[:2]
    x, y, w, h = box
    return x * width, y * height, (x + w) * width, (y + h) * height


def reframe(page: np.ndarray, box: tuple[float, float, float, float], rng: np.random.Generator,
            params: PageAugmentParams, fill: int) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Step 1 (framing): crop or pad each side and change the aspect ratio, then fit back into page.shape.

    page: uint8 (H, W); box: (x, y, w, h) fractions of page; fill: grey level of the padding.
    Returns (uint8 (H, W), box as fractions of the new page).
    """
    height, width = page.shape
    bx1, by1, bx2, by2 = _box_px(box, page.shape)
    # signed cuts per side in pixels: > 0 crops (at most up to the block), < 0 pads
    left, right = rng.uniform(-1, 1, 2) * params.margin * width
    top, bottom = rng.uniform(-1, 1, 2) * params.margin * height
    stretch = rng.uniform(0, params.aspect)
    if rng.random() < 0.5:
        left, right = left - stretch * width / 2, right - stretch * width / 2
    else:
        top, bottom = top - stretch * height / 2, bottom - stretch * height / 2
    x1 = int(round(min(left, bx1)))
    y1 = int(round(min(top, by1)))
    x2 = int(round(max(width - right, bx2)))
    y2 = int(round(max(height - bottom, by2)))
    pad = [max(0, -y1), max(0, y2 - height), max(0, -x1), max(0, x2 - width)]
    framed = cv2.copyMakeBorder(page[max(0, y1):min(height, y2), max(0, x1):min(width, x2)], *pad,
                                cv2.BORDER_CONSTANT, value=int(fill))
    fitted, (cx, cy, cw, ch) = resize_image(framed, (height, width))
    fw, fh = x2 - x1, y2 - y1
    new_box = (cx + (bx1 - x1) / fw * cw, cy + (by1 - y1) / fh * ch, (bx2 - bx1) / fw * cw, (by2 - by1) / fh * ch)
    return fitted, new_box


def _ink_pixels(page, box_px):
    """(xs, ys) int arrays: page pixels (uint8 (H, W)) inside box_px = (x1, y1, x2, y2) float pixels that are at
    least INK_CONTRAST darker than the paper (empty when there is no ink)."""
    height, width = page.shape
    bx1, by1 = max(0, int(np.floor(box_px[0]))), max(0, int(np.floor(box_px[1])))
    bx2, by2 = min(width, int(np.ceil(box_px[2]))), min(height, int(np.ceil(box_px[3])))
    ys, xs = np.nonzero(page[by1:by2, bx1:bx2] < background_level(page) - INK_CONTRAST)
    return xs + bx1, ys + by1


def similarity_warp(page: np.ndarray, box: tuple[float, float, float, float], rng: np.random.Generator,
                    params: PageAugmentParams, fill: int) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Step 2: scale, rotate and translate page (uint8 (H, W)) about its centre; box (x, y, w, h) fractions ->
    (uint8 (H, W), the box of the block's transformed ink grown by the box's margins around that ink (the box of
    its transformed corners when it holds no ink), clipped to the page, fractions). fill: grey level of the
    uncovered areas."""
    height, width = page.shape
    angle = rng.uniform(-params.rotation, params.rotation)
    zoom = 1.0 + rng.uniform(-params.scale, params.scale)
    shift = (rng.uniform(-params.translate_x, params.translate_x) * width,
             rng.uniform(-params.translate_y, params.translate_y) * height)
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, zoom)
    matrix[:, 2] += shift
    warped = cv2.warpAffine(page, matrix, (width, height), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=int(fill))
    x1, y1, x2, y2 = _box_px(box, page.shape)
    xs, ys = _ink_pixels(page, (x1, y1, x2, y2))
    if not len(xs):
        points, margins = np.array([[x1, y1], [x2, y1], [x1, y2], [x2, y2]], np.float64), np.zeros(4)
    else:
        points = np.concatenate([np.stack([xs, ys], 1) + corner                 # every ink pixel's corners
                                 for corner in ([0, 0], [1, 0], [0, 1], [1, 1])]).astype(np.float64)
        margins = zoom * np.maximum(0, [xs.min() - x1, ys.min() - y1, x2 - (xs.max() + 1), y2 - (ys.max() + 1)])
    moved = np.hstack([points, np.ones((len(points), 1))]) @ matrix.T
    nx1, ny1 = np.clip(moved.min(axis=0) - margins[:2], 0, [width, height])
    nx2, ny2 = np.clip(moved.max(axis=0) + margins[2:], 0, [width, height])
    return warped, (nx1 / width, ny1 / height, (nx2 - nx1) / width, (ny2 - ny1) / height)


def illumination_field(shape: tuple[int, ...], rng: np.random.Generator, strength: float) -> np.ndarray:
    """Multiplicative light field float32 (H, W) in [1 - strength, 1]: a linear gradient in a random direction
    plus a smooth random shadow, the way a phone photo of a page is lit (built on an 8x8 grid, then upsampled to
    ``shape`` (H, W) pixels)."""
    grid = np.linspace(0, 1, 8, dtype=np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(theta) * grid[None, :] + np.sin(theta) * grid[:, None]
    ramp = (ramp - ramp.min()) / max(1e-6, float(ramp.max() - ramp.min()))
    coarse = rng.random((rng.integers(2, 5), rng.integers(2, 5))).astype(np.float32)
    shadow = np.clip(cv2.resize(coarse, (8, 8), interpolation=cv2.INTER_CUBIC), 0, 1)
    darkness = rng.uniform(0, 1) * ramp + rng.uniform(0, 1) * shadow
    darkness /= max(1e-6, float(darkness.max()))
    small = 1.0 - rng.uniform(0, strength) * darkness
    return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def photometric(page: np.ndarray, rng: np.random.Generator, params: PageAugmentParams) -> np.ndarray:
    """Step 3: lighting, contrast, brightness, gamma, blur, noise, JPEG on uint8 (H, W) -> uint8 (H, W)."""
    image = page.astype(np.float32) / 255.0
    if params.illumination:
        image *= illumination_field(page.shape, rng, params.illumination)
    contrast = 1.0 + rng.uniform(-params.contrast, params.contrast)
    mean = float(image.mean())
    image = (image - mean) * contrast + mean + rng.uniform(-params.brightness, params.brightness)
    image = np.clip(image, 0, 1)
    if params.gamma > 1:
        image = image ** np.exp(rng.uniform(-np.log(params.gamma), np.log(params.gamma)))
    if params.blur and rng.random() < 0.5:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, max(0.3, params.blur)))
    if params.noise:
        image = image + rng.standard_normal(image.shape, dtype=np.float32) * (rng.uniform(0, params.noise) / 255)
    out = np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)
    if params.jpeg and rng.random() < 0.5:
        quality = int(rng.integers(params.jpeg, 96))
        out = cv2.imdecode(cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_GRAYSCALE)
    return out


def augment_page(page: np.ndarray, box: tuple[float, float, float, float], rng: np.random.Generator,
                 params: PageAugmentParams = PageAugmentParams()
                 ) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Random scan/photo variant of a page: uint8 (H, W), box (x, y, w, h) fractions of it, numpy Generator ->
    (uint8 (H, W), box (x, y, w, h) fractions, exact for the geometry). See the module docstring."""
    fill = int(rng.integers(0, 80)) if rng.random() < params.dark_border else background_level(page)
    page, box = reframe(page, box, rng, params, fill)
    page, box = similarity_warp(page, box, rng, params, fill)
    return photometric(page, rng, params), tuple(float(v) for v in box)
