"""Box arithmetic of the word SSD (ocr.words.net): anchors, target assignment, hard-negative mining, loss,
decoding + NMS.

Coordinates: boxes here are corners (x1, y1, x2, y2) as fractions of the region image (the 700x700 ``form_bb``
crop, fed to the net resized to S x S, S = ``image_size``); callers convert from/to (x, y, w, h)
(ocr.core.geometry).

Anchors: per map a list of (w, h) shapes (fractions of the region) centred on every cell, given directly rather
than as MultiBoxPrior's (sizes, ratios), whose extra ratios only pair with the first size: words need a fixed
height with several widths. The shapes are k-means clusters of synthetic word / line boxes, assigned to maps by
height (see ocr.words.net.WORD_ANCHORS).

Targets (``assign_targets``, numpy): an anchor is positive when its best IoU with a box is >= ``threshold``; each
box also claims its own best anchor (so every box has one). Offsets are SSD's centre/log-size encoding divided by
``variances``. Loss (``SSDLoss``): softmax cross-entropy on positives plus the ``negative_ratio`` x positives
negatives of highest loss (hard-negative mining), and Smooth-L1 on positive offsets, both divided by the number of
positives. ``detect``: decode, then one class-agnostic ``box_nms``.
"""
from collections.abc import Sequence
from types import ModuleType

import mxnet as mx
import numpy as np
from mxnet import gluon
from numpy.typing import ArrayLike

from ocr.words.net import DEFAULT_CONFIG, VARIANCES, feature_sizes


class Anchors:
    """Anchor boxes of one input size: ``corners`` float32 (A, 4) (x1, y1, x2, y2 fractions of the region) in the
    net's output order, and ``rows``: (start, stop, y_low, y_high) per row of cells, so that target assignment
    only compares a box with the anchor rows it can overlap."""

    def __init__(self, corners: np.ndarray, rows: list[tuple[int, int, float, float]]):
        self.corners, self.rows = corners, rows

    def __len__(self) -> int:
        """The number of anchors A."""
        return len(self.corners)


def make_anchors(config: dict) -> Anchors:
    """The Anchors of an SSD config: for each map of side G (feature_sizes), each cell (row r, column c) centred at
    ((c + 0.5) / G, (r + 0.5) / G), each (w, h) shape of that map. Not clipped to the region."""
    config = {**DEFAULT_CONFIG, **config}
    corners, rows = [], []
    for side, shapes in zip(feature_sizes(config["image_size"]), config["anchors"]):
        if not shapes:
            continue
        shapes = np.asarray(shapes, dtype=np.float64).reshape(-1, 2)
        centres = (np.arange(side) + 0.5) / side
        cy, cx = np.meshgrid(centres, centres, indexing="ij")                       # (G, G) each
        cx, cy = cx[:, :, None], cy[:, :, None]
        half_w, half_h = shapes[:, 0] / 2, shapes[:, 1] / 2                         # (K,)
        boxes = np.stack(np.broadcast_arrays(cx - half_w, cy - half_h, cx + half_w, cy + half_h), axis=-1)
        start = sum(len(c) for c in corners)
        per_row = side * len(shapes)
        for r in range(side):
            rows.append((start + r * per_row, start + (r + 1) * per_row,
                         float(centres[r] - half_h.max()), float(centres[r] + half_h.max())))
        corners.append(boxes.reshape(-1, 4))
    return Anchors(np.concatenate(corners).astype(np.float32), rows)


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


def decode_boxes(anchors: mx.nd.NDArray, offsets: mx.nd.NDArray,
                 variances: Sequence[float] = VARIANCES) -> mx.nd.NDArray:
    """Inverse of encode_boxes on NDArrays: anchors (1, A, 4) corners, offsets (N, A, 4) -> corners (N, A, 4)."""
    acx, acy = (anchors[:, :, 0] + anchors[:, :, 2]) / 2, (anchors[:, :, 1] + anchors[:, :, 3]) / 2
    aw, ah = anchors[:, :, 2] - anchors[:, :, 0], anchors[:, :, 3] - anchors[:, :, 1]
    cx = mx.nd.broadcast_add(acx, mx.nd.broadcast_mul(offsets[:, :, 0] * variances[0], aw))
    cy = mx.nd.broadcast_add(acy, mx.nd.broadcast_mul(offsets[:, :, 1] * variances[1], ah))
    w = mx.nd.broadcast_mul(mx.nd.exp(mx.nd.clip(offsets[:, :, 2] * variances[2], -10, 5)), aw)
    h = mx.nd.broadcast_mul(mx.nd.exp(mx.nd.clip(offsets[:, :, 3] * variances[3], -10, 5)), ah)
    return mx.nd.stack(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, axis=2)


def detect(scores: mx.nd.NDArray, offsets: mx.nd.NDArray, anchors: Anchors | np.ndarray, min_c: float = 0.01,
           overlap_thres: float = 0.1, topk: int = 300, pre_nms_topk: int = 2000,
           variances: Sequence[float] = VARIANCES) -> list[tuple[np.ndarray, np.ndarray]]:
    """Boxes from SSD outputs, with one class-agnostic non-maximum suppression.

    scores (N, A, 2), offsets (N, A, 4) NDArrays; anchors: Anchors or (A, 4) corners. Keeps boxes whose text
    probability is > min_c, runs NMS (IoU > overlap_thres suppresses the lower score) over the pre_nms_topk best
    and keeps the topk best survivors. Returns a list (one per image) of (corners float32 (n, 4) clipped to
    [0, 1], scores float32 (n,)) sorted by decreasing score.
    """
    corners = anchors.corners if isinstance(anchors, Anchors) else anchors
    anchors_nd = mx.nd.array(np.asarray(corners)[None], ctx=scores.context)
    probability = mx.nd.softmax(scores, axis=-1)[:, :, 1:2]
    boxes = mx.nd.clip(decode_boxes(anchors_nd, offsets, variances), 0, 1)
    kept = mx.nd.contrib.box_nms(mx.nd.concat(probability, boxes, dim=2), overlap_thresh=overlap_thres,
                                 valid_thresh=min_c, topk=pre_nms_topk, coord_start=1, score_index=0, id_index=-1,
                                 force_suppress=True).asnumpy()
    results = []
    for rows in kept:
        rows = rows[rows[:, 0] >= 0][:topk]
        results.append((rows[:, 1:5].copy(), rows[:, 0].copy()))
    return results
