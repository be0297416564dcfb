"""Line-image augmentation for recogniser training (cv2, deterministic given a numpy Generator).

``augment_line(image, rng, params)`` takes a fitted uint8 gray line (H, W), ink dark on light, and returns a
uint8 (H, W) variant: one random affine warp (scale, shear, translation; white border) that is shrunk when it
would push ink outside the image (so labels stay true), a smooth elastic warp (each glyph bends a little
differently, as no font renders twice), random stroke width, then photometric changes (paper and ink levels,
a smooth uneven background, gamma, blur, noise). Same image, same Generator state -> same output.
"""
from dataclasses import dataclass

import cv2
import numpy as np

INK_THRESHOLD = 200      # grey levels below this count as ink when locating the text
ELASTIC_CELL = 10        # pixels between the random displacements of the elastic warp (about a letter apart)


@dataclass
class AugmentParams:
    """Ranges of the random changes; 0 disables one. Geometry is in fractions of the image size, angles in radians.

    translate_x/y: shift up to +-fraction of W/H; scale_x/y: factor in 1 +- value; shear: +-radians (x shear);
    gamma: gamma drawn log-uniformly in [1/gamma, gamma] (values <= 1 disable it); stroke: probability of an erode
    (thicker ink) or dilate (thinner ink) with a square kernel; stroke_px: largest erode kernel side in pixels,
    drawn uniformly from 2..stroke_px (a dilate uses at most 3, so thin strokes survive); blur: max Gaussian sigma
    in pixels; noise: max std of Gaussian pixel noise in grey levels; elastic: max displacement of the elastic warp
    in pixels (a random field drawn every ELASTIC_CELL pixels and smoothly interpolated); contrast: max darkening of
    the paper / lightening of the ink, as a fraction of the grey range; background: max amplitude of a smooth uneven
    background, in grey levels.
    """
    translate_x: float = 0.03
    translate_y: float = 0.03
    scale_x: float = 0.10
    scale_y: float = 0.10
    shear: float = 0.5
    gamma: float = 1.5
    elastic: float = 2.0
    stroke: float = 0.3
    stroke_px: int = 3
    blur: float = 1.0
    noise: float = 8.0
    contrast: float = 0.25
    background: float = 12.0


def _ink_box(image):
    """(x1, y1, x2, y2) pixel box around the ink of a uint8 image, or the whole image if there is none."""
    rows = np.flatnonzero((image < INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((image < INK_THRESHOLD).any(axis=0))
    if rows.size == 0:
        return 0, 0, image.shape[1], image.shape[0]
    return cols[0], rows[0], cols[-1] + 1, rows[-1] + 1


def random_affine(shape: tuple[int, int], ink_box: tuple[int, int, int, int], rng: np.random.Generator,
                  params: AugmentParams) -> np.ndarray:
    """A random 2x3 affine matrix (float32 (2, 3), pixels) for an image of ``shape`` (H, W) that keeps ``ink_box``
    (x1, y1, x2, y2, pixels) inside the image: scale and shear about the ink centre, then translation, then
    shrink-to-fit if needed."""
    height, width = shape
    sx = 1 + rng.uniform(-params.scale_x, params.scale_x)
    sy = 1 + rng.uniform(-params.scale_y, params.scale_y)
    shear = np.tan(rng.uniform(-params.shear, params.shear))
    tx = rng.uniform(-params.translate_x, params.translate_x) * width
    ty = rng.uniform(-params.translate_y, params.translate_y) * height
    x1, y1, x2, y2 = ink_box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    linear = np.array([[sx, shear * sy], [0, sy]])
    corners = np.array([[x1, y1], [x2, y1], [x1, y2], [x2, y2]], dtype=np.float64) - (cx, cy)
    moved = corners @ linear.T + (cx + tx, cy + ty)
    lo, hi = moved.min(axis=0), moved.max(axis=0)
    fit = min(1.0, (width - 1) / max(hi[0] - lo[0], 1e-6), (height - 1) / max(hi[1] - lo[1], 1e-6))
    linear = linear * fit
    centre = (lo + hi) / 2 if fit < 1 else np.array([cx + tx, cy + ty])
    lo = (corners @ linear.T).min(axis=0) + centre
    hi = (corners @ linear.T).max(axis=0) + centre
    centre = centre + np.maximum(0, -lo) - np.maximum(0, hi - (width - 1, height - 1))
    offset = centre - linear @ (cx, cy)
    return np.hstack([linear, offset[:, None]]).astype(np.float32)


def elastic_warp(image: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """uint8 (H, W) image bent by a smooth random displacement field of at most ``amplitude`` pixels (white
    border) -> uint8 (H, W)."""
    height, width = image.shape
    grid = (max(2, height // ELASTIC_CELL + 1), max(2, width // ELASTIC_CELL + 1))
    dx, dy = (cv2.resize(rng.uniform(-amplitude, amplitude, grid).astype(np.float32), (width, height),
                         interpolation=cv2.INTER_CUBIC) for _ in range(2))
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(image, xs + dx, ys + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255)


def augment_line(image: np.ndarray, rng: np.random.Generator, params: AugmentParams = AugmentParams()) -> np.ndarray:
    """Random variant of a uint8 gray line image (H, W) -> uint8 (H, W); see AugmentParams for the ranges."""
    height, width = image.shape
    matrix = random_affine(image.shape, _ink_box(image), rng, params)
    out = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    if params.elastic > 0:
        out = elastic_warp(out, rng, rng.uniform(0, params.elastic))
    if rng.uniform() < params.stroke:
        side = 2 + int(rng.uniform() * (params.stroke_px - 1))
        if rng.uniform() < 0.5:
            out = cv2.erode(out, np.ones((side, side), np.uint8))
        else:
            out = cv2.dilate(out, np.ones((min(side, 3),) * 2, np.uint8))
    out = out.astype(np.float32) / 255.0
    if params.gamma > 1:
        out = out ** np.exp(rng.uniform(-np.log(params.gamma), np.log(params.gamma)))
    paper = 1 - rng.uniform(0, params.contrast)
    ink = rng.uniform(0, params.contrast)
    out = ink + out * (paper - ink)
    if params.background > 0:
        field = rng.standard_normal((max(2, height // 24), max(2, width // 40))).astype(np.float32)
        field = cv2.resize(field, (width, height), interpolation=cv2.INTER_CUBIC)
        out = out + field * rng.uniform(0, params.background) / 255.0 * (out > 0.5 * paper)
    if params.blur > 0:
        sigma = rng.uniform(0, params.blur)
        if sigma > 0.3:
            out = cv2.GaussianBlur(out, (0, 0), sigma)
    if params.noise > 0:
        out = out + rng.standard_normal(out.shape).astype(np.float32) * rng.uniform(0, params.noise) / 255.0
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)
