"""Augmentation of a region image together with its boxes, for training the word / line detector.

Boxes are (x, y, w, h) fractions of the region image. Two operations, as the reference's SSD training has them:

* box removal: each box is erased with probability ``remove_box`` (its pixels painted with the paper colour) and
  its label dropped, so the detector does not learn that every page is full of words;
* translation by up to +-``translate_x`` / +-``translate_y`` of the image size, the uncovered border filled with
  paper colour; the boxes move by exactly the same whole number of pixels (the reference moved them by half).
  A box pushed partly out of the image is clipped, and dropped when less than half of it is left.
"""
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ocr.core.geometry import background_level, box_to_px


@dataclass
class BoxAugmentParams:
    """Ranges of the random changes of augment_region; 0 disables one."""
    translate_x: float = 0.03   # max |horizontal shift|, fraction of the image width
    translate_y: float = 0.03   # max |vertical shift|, fraction of the image height
    remove_box: float = 0.15    # probability of erasing each box


def remove_boxes(image: np.ndarray, boxes: ArrayLike, rng: np.random.Generator,
                 probability: float) -> tuple[np.ndarray, np.ndarray]:
    """Erase each box with ``probability``: uint8 (H, W) image, boxes (n, 4) (x, y, w, h) fractions -> (new image
    uint8 (H, W), kept boxes float32 (m, 4))."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    erase = rng.random(len(boxes)) < probability
    if not erase.any():
        return image, boxes
    image, paper = image.copy(), background_level(image)
    for box in boxes[erase]:
        x1, y1, x2, y2 = box_to_px(box, image.shape)
        image[y1:y2, x1:x2] = paper
    return image, boxes[~erase]


def translate(image: np.ndarray, boxes: ArrayLike, dx: int, dy: int) -> tuple[np.ndarray, np.ndarray]:
    """Shift the image by (dx, dy) whole pixels (paper-colour fill) and the boxes with it.

    image uint8 (H, W); boxes (n, 4) (x, y, w, h) fractions. Boxes are clipped to the image; those keeping less
    than half of their area are dropped. Returns (shifted image, boxes (m, 4) float32)."""
    height, width = image.shape
    shifted = np.full_like(image, background_level(image))
    src_x, dst_x = (0, dx) if dx >= 0 else (-dx, 0)
    src_y, dst_y = (0, dy) if dy >= 0 else (-dy, 0)
    w, h = width - abs(dx), height - abs(dy)
    if w > 0 and h > 0:
        shifted[dst_y:dst_y + h, dst_x:dst_x + w] = image[src_y:src_y + h, src_x:src_x + w]
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x1, y1 = boxes[:, 0] + dx / width, boxes[:, 1] + dy / height
    x2, y2 = x1 + boxes[:, 2], y1 + boxes[:, 3]
    cx1, cy1, cx2, cy2 = np.clip(x1, 0, 1), np.clip(y1, 0, 1), np.clip(x2, 0, 1), np.clip(y2, 0, 1)
    area = boxes[:, 2] * boxes[:, 3]
    kept = np.clip(cx2 - cx1, 0, None) * np.clip(cy2 - cy1, 0, None) >= 0.5 * area
    kept &= area > 0
    moved = np.stack([cx1, cy1, cx2 - cx1, cy2 - cy1], axis=1)[kept]
    return shifted, moved.astype(np.float32)


def augment_region(image: np.ndarray, boxes: ArrayLike, rng: np.random.Generator,
                   params: BoxAugmentParams = BoxAugmentParams()) -> tuple[np.ndarray, np.ndarray]:
    """Random box removal then translation (see the module docstring).

    image: uint8 gray (H, W); boxes: (n, 4) (x, y, w, h) fractions of it; rng: numpy Generator.
    Returns (augmented image uint8 (H, W), boxes float32 (m, 4), m <= n)."""
    image, boxes = remove_boxes(image, boxes, rng, params.remove_box)
    height, width = image.shape
    dx = int(round(rng.uniform(-params.translate_x, params.translate_x) * width))
    dy = int(round(rng.uniform(-params.translate_y, params.translate_y) * height))
    return translate(image, boxes, dx, dy)
