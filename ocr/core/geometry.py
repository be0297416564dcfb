"""Geometry of every stage, in one place: the sizes images are fitted into, the letterbox and its inverse, box
conversions and growth.

Image sizes are (height, width) in pixels, as in the reference. Boxes are (x, y, w, h) fractions of the image they
refer to unless a name says ``px`` (pixels) or ``corners`` ((x1, y1, x2, y2)); code converts to pixels only at the
edges (cropping, drawing, writing files).

The size constants are what training uses by default. A shipped model is fed what its card says (ocr.core.card),
never these constants: change one and the shipped models still see what they were trained on.
"""
import cv2
import numpy as np
from numpy.typing import ArrayLike

FORM_SIZE = (1120, 800)      # a whole form page fitted into this (parse_method "form")
REGION_SIZE = (700, 700)     # the handwritten block crop fitted into this ("form_bb")
LINE_SIZE = (60, 1200)       # one text line fitted into this ("line"). The reference's 60x800 shrinks a long line
                             # until its letters are ~10 px apart; 1200 keeps them 1.5x larger (see models/README.md)
WORD_SIZE = (30, 140)        # one word fitted into this ("word")
FORM_BB_EXPAND = 0.05        # growth of the handwritten-block box before the IAM loader crops it (form_bb): what the
                             # word SSD trains on
REGION_GROWTH = 0.03         # growth of the predicted block box before the pipeline crops it (the reference's)
WHITE_THRESHOLD = 230        # resize_image pads with at least this grey level


def background_level(image: np.ndarray) -> int:
    """Estimated paper grey level (0..255) of a uint8 image (H, W): its 90th percentile, at least WHITE_THRESHOLD."""
    sample = image[::4, ::4] if image.size > 40000 else image
    return max(WHITE_THRESHOLD, int(np.percentile(sample, 90)))


def resize_image(image: np.ndarray, size: tuple[int, int],
                 upscale: bool = True) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Fit a uint8 gray image into ``size`` = (H, W) keeping its aspect ratio, centred, padded with paper colour.

    Returns ``(fitted, content_box)``: ``fitted`` is uint8 of shape ``size``; ``content_box`` is where the
    original image lies in it, (x, y, w, h) as fractions of ``size``. Unlike the reference, small images are
    up-scaled too (unless ``upscale=False``) and no pixel values are changed.
    """
    target_h, target_w = size
    left, top, new_w, new_h = fit_geometry(image.shape, size, upscale)
    if (new_h, new_w) != image.shape[:2]:
        interpolation = cv2.INTER_AREA if new_w < image.shape[1] else cv2.INTER_LINEAR
        image = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    fitted = np.full((target_h, target_w), background_level(image), dtype=np.uint8)
    fitted[top:top + new_h, left:left + new_w] = image
    return fitted, (left / target_w, top / target_h, new_w / target_w, new_h / target_h)


def fit_geometry(image_shape: tuple[int, ...], size: tuple[int, int],
                 upscale: bool = True) -> tuple[int, int, int, int]:
    """Where resize_image puts an image of shape (H, W) inside ``size`` = (H, W): (left, top, width, height), pixels."""
    target_h, target_w = size
    h, w = image_shape[:2]
    scale = min(target_h / h, target_w / w)
    if not upscale:
        scale = min(scale, 1.0)
    new_w, new_h = max(1, min(target_w, round(w * scale))), max(1, min(target_h, round(h * scale)))
    return (target_w - new_w) // 2, (target_h - new_h) // 2, new_w, new_h


def unletterbox(boxes: ArrayLike, content_box: tuple[float, float, float, float]) -> np.ndarray:
    """(n, 4) (x, y, w, h) fractions of a fitted image -> float32 (n, 4) fractions of the original image that
    resize_image placed at ``content_box`` (x, y, w, h fractions of the fitted image), clipped to [0, 1]. A negative
    w or h (edges predicted in swapped order) gives an empty box."""
    cx, cy, cw, ch = content_box
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    x1 = np.clip((boxes[:, 0] - cx) / cw, 0, 1)
    y1 = np.clip((boxes[:, 1] - cy) / ch, 0, 1)
    x2 = np.maximum(np.clip((boxes[:, 0] + boxes[:, 2] - cx) / cw, 0, 1), x1)
    y2 = np.maximum(np.clip((boxes[:, 1] + boxes[:, 3] - cy) / ch, 0, 1), y1)
    return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1).astype(np.float32)


def box_to_px(box: tuple[float, float, float, float], image_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Fractional (x, y, w, h) -> integer pixel corners (x1, y1, x2, y2), clipped to an image of shape (H, W)."""
    height, width = image_shape[:2]
    x, y, w, h = box
    eps = 1e-6  # so that 0.92 * 200 = 184.00000000000003 stays 184
    x1, y1 = int(np.clip(np.floor(x * width + eps), 0, width)), int(np.clip(np.floor(y * height + eps), 0, height))
    x2 = int(np.clip(np.ceil((x + w) * width - eps), 0, width))
    y2 = int(np.clip(np.ceil((y + h) * height - eps), 0, height))
    return x1, y1, x2, y2


def box_to_xywh_px(box: tuple[float, float, float, float],
                   image_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Fractional (x, y, w, h) -> integer pixel (x, y, w, h) inside an image of shape (H, W) (box_to_px's corners)."""
    x1, y1, x2, y2 = box_to_px(box, image_shape)
    return x1, y1, x2 - x1, y2 - y1


def crop_image(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Crop the fractional box (x, y, w, h) out of ``image`` (shape (H, W, ...), clipped to it) -> a view of shape
    (h, w, ...) in pixels. Raises ValueError if empty."""
    x1, y1, x2, y2 = box_to_px(box, image.shape)
    if x2 <= x1 or y2 <= y1:
        raise ValueError("box %s is empty inside an image of shape %s" % (tuple(box), image.shape[:2]))
    return image[y1:y2, x1:x2]


def expand_box(box: tuple[float, float, float, float], scale_x: float = 0.05,
               scale_y: float = 0.05) -> tuple[float, float, float, float]:
    """Grow a fractional (x, y, w, h) box about its centre by ``scale_x`` of its width and ``scale_y`` of its
    height, then clip it to [0, 1]."""
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    w, h = w * (1 + scale_x), h * (1 + scale_y)
    x1, y1 = max(0.0, cx - w / 2), max(0.0, cy - h / 2)
    x2, y2 = min(1.0, cx + w / 2), min(1.0, cy + h / 2)
    return (x1, y1, x2 - x1, y2 - y1)


def shrink_boxes(boxes: ArrayLike, expansion: float) -> np.ndarray:
    """Undo ``expand_box``: (n, 4) (x, y, w, h) boxes grown by ``expansion`` of their size about their centre ->
    float32 (n, 4) (x, y, w, h), the boxes before growth (same units; not clipped)."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    w, h = boxes[:, 2] / (1 + expansion), boxes[:, 3] / (1 + expansion)
    cx, cy = boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3] / 2
    return np.stack([cx - w / 2, cy - h / 2, w, h], axis=1)


def corners_to_xywh(corners: ArrayLike) -> np.ndarray:
    """(n, 4) corners (x1, y1, x2, y2) -> (n, 4) float32 (x, y, w, h), same units."""
    corners = np.asarray(corners, dtype=np.float32).reshape(-1, 4)
    return np.concatenate([corners[:, :2], corners[:, 2:] - corners[:, :2]], axis=1)


def xywh_to_corners(boxes: ArrayLike) -> np.ndarray:
    """(n, 4) (x, y, w, h) -> (n, 4) float32 corners (x1, y1, x2, y2), same units."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)


def union_box_px(boxes_px: ArrayLike) -> tuple[float, float, float, float]:
    """Tightest box around pixel boxes given as rows (x, y, w, h); returns (x, y, w, h) in pixels."""
    boxes_px = np.asarray(boxes_px, dtype=np.float64).reshape(-1, 4)
    x1, y1 = boxes_px[:, 0].min(), boxes_px[:, 1].min()
    x2, y2 = (boxes_px[:, 0] + boxes_px[:, 2]).max(), (boxes_px[:, 1] + boxes_px[:, 3]).max()
    return (x1, y1, x2 - x1, y2 - y1)


def crop_region(page: np.ndarray, box_px: tuple[float, float, float, float],
                expand: float = REGION_GROWTH) -> np.ndarray:
    """Crop the block ``box_px`` = (x, y, w, h) in page pixels, grown by ``expand`` of its width and height about
    its centre and clipped to the page, out of ``page`` (any array with shape (H, W, ...)) -> the region array."""
    height, width = page.shape[:2]
    x, y, w, h = box_px
    box = expand_box((x / width, y / height, w / width, h / height), expand, expand)
    return crop_image(page, box)
