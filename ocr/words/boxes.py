"""Training-side box arithmetic of the word SSD (ocr.words.net): target assignment, hard-negative mining, loss.
The anchors and the decoding of the net's outputs (decoding + NMS), which inference needs without MXNet, are in
ocr.words.anchors.

Coordinates: boxes here are corners (x1, y1, x2, y2) as fractions of the region image (the 700x700 ``form_bb``
crop, fed to the net resized to S x S, S = ``image_size``); callers convert from/to (x, y, w, h)
(ocr.core.geometry).

Targets (``assign_targets``, numpy): an anchor is positive when its best IoU with a box is >= ``threshold``; each
box also claims its own best anchor (so every box has one). Offsets are SSD's centre/log-size encoding divided by
``variances``. Loss (``SSDLoss``): softmax cross-entropy on positives plus the ``negative_ratio`` x positives
negatives of highest loss (hard-negative mining), and Smooth-L1 on positive offsets, both divided by the number of
positives.
"""
from collections.abc import Sequence
from types import ModuleType

import mxnet as mx
import numpy as np
from mxnet import gluon
from numpy.typing import ArrayLike

from ocr.words.anchors import VARIANCES, Anchors


def _pair_iou(a, b):
    """IoU of corner boxes a (n, 4) and b (m, 4) -> (n, m)."""
    w = np.maximum(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0)
    h = np.maximum(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0)
    inter = w * h
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


def encode_boxes(anchors: np.ndarray, boxes: np.ndarray, variances: Sequence[float] = VARIANCES) -> np.ndarray:
    """SSD offsets of corner boxes (n, 4) relative to corner anchors (n, 4): ((bx - ax) / aw, (by - ay) / ah,
    log(bw / aw), log(bh / ah)) / variances, with (x, y) centres -> float32 (n, 4)."""
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    offsets = np.stack([((boxes[:, 0] + boxes[:, 2]) - (anchors[:, 0] + anchors[:, 2])) / 2 / aw,
                        ((boxes[:, 1] + boxes[:, 3]) - (anchors[:, 1] + anchors[:, 3])) / 2 / ah,
                        np.log(np.maximum(bw, 1e-6) / aw), np.log(np.maximum(bh, 1e-6) / ah)], axis=1)
    return (offsets / np.asarray(variances)).astype(np.float32)


def assign_targets(anchors: Anchors, boxes: ArrayLike, threshold: float = 0.5,
                   variances: Sequence[float] = VARIANCES) -> tuple[np.ndarray, np.ndarray]:
    """Training targets of one image.

    anchors: Anchors (A anchors); boxes: (M, 4) ground-truth corners (fractions of the region), M may be 0.
    Anchor a is matched to box argmax_m IoU(a, m) when that IoU >= threshold; then every box claims its own
    best anchor (boxes in increasing order of that IoU, so the better-fitting box wins a shared anchor).
    Returns (classes float32 (A,): 1 matched, 0 background; offsets float32 (A, 4): encode_boxes of the matched
    box, 0 elsewhere).
    """
    count = len(anchors)
    classes, offsets = np.zeros(count, np.float32), np.zeros((count, 4), np.float32)
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if len(boxes) == 0:
        return classes, offsets
    best_iou, best_box = np.zeros(count, np.float32), np.full(count, -1)
    claim_iou, claim_anchor = np.zeros(len(boxes), np.float32), np.full(len(boxes), -1)
    for start, stop, y_low, y_high in anchors.rows:
        near = np.nonzero((boxes[:, 1] < y_high) & (boxes[:, 3] > y_low))[0]
        if len(near) == 0:
            continue
        overlaps = _pair_iou(anchors.corners[start:stop], boxes[near])              # (row anchors, near boxes)
        pick = overlaps.argmax(axis=1)
        best_iou[start:stop] = overlaps[np.arange(stop - start), pick]
        best_box[start:stop] = near[pick]
        row_best = overlaps.argmax(axis=0)
        row_iou = overlaps[row_best, np.arange(len(near))]
        better = row_iou > claim_iou[near]
        claim_iou[near[better]] = row_iou[better]
        claim_anchor[near[better]] = start + row_best[better]
    match = np.where(best_iou >= threshold, best_box, -1)
    for box in np.argsort(claim_iou, kind="stable"):
        if claim_anchor[box] >= 0:
            match[claim_anchor[box]] = box
    positive = np.nonzero(match >= 0)[0]
    classes[positive] = 1
    offsets[positive] = encode_boxes(anchors.corners[positive], boxes[match[positive]], variances)
    return classes, offsets


def hard_negative_mask(F: ModuleType, losses: mx.nd.NDArray | mx.sym.Symbol, positive: mx.nd.NDArray | mx.sym.Symbol,
                       ratio: float = 3.0, min_negatives: int = 0) -> mx.nd.NDArray | mx.sym.Symbol:
    """Which negatives to train on: per image the ``max(ratio * positives, min_negatives)`` non-positive anchors
    of highest loss. losses, positive: (N, A) (positive is 0/1); returns a 0/1 mask (N, A) of the same dtype.
    F: mx.nd (NDArrays) or mx.sym (Symbols, inside a hybridized block)."""
    candidates = losses * (1 - positive) - positive                  # losses are >= 0: positives rank last
    rank = F.argsort(F.argsort(candidates, axis=1, is_ascend=False), axis=1)
    quota = F.maximum(F.sum(positive, axis=1) * ratio, min_negatives)
    return F.broadcast_lesser(rank, F.reshape(quota, (-1, 1))) * (1 - positive)


class SSDLoss(gluon.HybridBlock):
    """Per-image SSD loss (N,) = (mined cross-entropy + Smooth-L1 of positive offsets) / max(1, positives).

    Inputs: scores (N, A, 2), offsets (N, A, 4) from SSD; classes (N, A) and target offsets (N, A, 4) from
    assign_targets. negative_ratio: negatives per positive (hard-negative mining); min_negatives: negatives kept
    in an image without positives. Smooth-L1 with sigma 1 (quadratic below 1)."""

    def __init__(self, negative_ratio: float = 3.0, min_negatives: int = 16, **kwargs):
        super().__init__(**kwargs)
        self.negative_ratio, self.min_negatives = negative_ratio, min_negatives

    def hybrid_forward(self, F, scores, offsets, classes, target_offsets):
        """scores (N, A, 2), offsets (N, A, 4), classes (N, A) 0/1, target_offsets (N, A, 4) -> loss (N,)."""
        cross_entropy = -F.pick(F.log_softmax(scores, axis=-1), classes, axis=-1)          # (N, A)
        negatives = hard_negative_mask(F, F.stop_gradient(cross_entropy), classes, self.negative_ratio,
                                       self.min_negatives)
        positives = F.maximum(F.sum(classes, axis=1), 1)
        class_loss = F.sum(cross_entropy * (classes + negatives), axis=1)
        box_loss = F.sum(F.smooth_l1(offsets - target_offsets, scalar=1.0), axis=2)
        return (class_loss + F.sum(box_loss * classes, axis=1)) / positives
