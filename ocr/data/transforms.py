"""Image and box helpers shared by training and inference.

Images are numpy arrays; ``to_gray`` turns anything a user hands in into uint8 gray (H, W), ink dark on light.
Boxes are (x, y, w, h) as fractions of the image they refer to unless a name says ``px`` (pixels).
"""
import cv2
import numpy as np

from ocr.config import WHITE_THRESHOLD


def to_gray(image):
    """Any image array -> uint8 gray (H, W).

    Accepts (H, W), (H, W, 1), (H, W, 3) RGB, (H, W, 4) RGBA or (H, W, 2) gray+alpha; uint8, uint16, bool or
    float in [0, 1]. Transparent pixels are composited onto white. Raises ValueError for anything else.
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (2, 3, 4)) or image.size == 0:
        raise ValueError("expected an image of shape (H, W) or (H, W, 1|2|3|4), got %s" % (image.shape,))
    if image.dtype == bool:
        image = image.astype(np.float32)
    elif image.dtype == np.uint16:
        image = image.astype(np.float32) / 65535.0
    elif image.dtype == np.uint8:
        image = image.astype(np.float32) / 255.0
    elif np.issubdtype(image.dtype, np.floating) or np.issubdtype(image.dtype, np.integer):
        image = image.astype(np.float32)
        if image.max(initial=0) > 1.0:
            image = image / (65535.0 if image.max() > 255 else 255.0)
    else:
        raise ValueError("unsupported image dtype %s" % image.dtype)
    if image.ndim == 3:
        alpha = image[:, :, -1:] if image.shape[2] in (2, 4) else None
        colour = image[:, :, :3] if image.shape[2] >= 3 else image[:, :, :1]
        gray = colour.mean(axis=2) if colour.shape[2] == 1 else colour @ np.array([0.299, 0.587, 0.114], np.float32)
        if alpha is not None:
            gray = gray * alpha[:, :, 0] + (1.0 - alpha[:, :, 0])
        image = gray
    return np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)


def background_level(image):
    """Estimated paper grey level of a uint8 image: its 90th percentile, at least WHITE_THRESHOLD."""
    sample = image[::4, ::4] if image.size > 40000 else image
    return max(WHITE_THRESHOLD, int(np.percentile(sample, 90)))


def resize_image(image, size, upscale=True):
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


def fit_geometry(image_shape, size, upscale=True):
    """Where resize_image puts an image of shape (H, W) inside ``size`` = (H, W): (left, top, width, height), pixels."""
    target_h, target_w = size
    h, w = image_shape[:2]
    scale = min(target_h / h, target_w / w)
    if not upscale:
        scale = min(scale, 1.0)
    new_w, new_h = max(1, min(target_w, round(w * scale))), max(1, min(target_h, round(h * scale)))
    return (target_w - new_w) // 2, (target_h - new_h) // 2, new_w, new_h


def box_to_px(box, image_shape):
    """Fractional (x, y, w, h) -> integer pixel corners (x1, y1, x2, y2), clipped to an image of shape (H, W)."""
    height, width = image_shape[:2]
    x, y, w, h = box
    eps = 1e-6  # so that 0.92 * 200 = 184.00000000000003 stays 184
    x1, y1 = int(np.clip(np.floor(x * width + eps), 0, width)), int(np.clip(np.floor(y * height + eps), 0, height))
    x2 = int(np.clip(np.ceil((x + w) * width - eps), 0, width))
    y2 = int(np.clip(np.ceil((y + h) * height - eps), 0, height))
    return x1, y1, x2, y2


def crop_image(image, box):
    """Crop the fractional box (x, y, w, h) out of ``image`` (clipped to the image). Raises ValueError if empty."""
    x1, y1, x2, y2 = box_to_px(box, image.shape)
    if x2 <= x1 or y2 <= y1:
        raise ValueError("box %s is empty inside an image of shape %s" % (tuple(box), image.shape[:2]))
    return image[y1:y2, x1:x2]


def expand_box(box, scale_x=0.05, scale_y=0.05):
    """Grow a fractional (x, y, w, h) box about its centre by ``scale_x`` of its width and ``scale_y`` of its
    height, then clip it to [0, 1]."""
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    w, h = w * (1 + scale_x), h * (1 + scale_y)
    x1, y1 = max(0.0, cx - w / 2), max(0.0, cy - h / 2)
    x2, y2 = min(1.0, cx + w / 2), min(1.0, cy + h / 2)
    return (x1, y1, x2 - x1, y2 - y1)


def union_box_px(boxes_px):
    """Tightest box around pixel boxes given as rows (x, y, w, h); returns (x, y, w, h) in pixels."""
    boxes_px = np.asarray(boxes_px, dtype=np.float64).reshape(-1, 4)
    x1, y1 = boxes_px[:, 0].min(), boxes_px[:, 1].min()
    x2, y2 = (boxes_px[:, 0] + boxes_px[:, 2]).max(), (boxes_px[:, 1] + boxes_px[:, 3]).max()
    return (x1, y1, x2 - x1, y2 - y1)
