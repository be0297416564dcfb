"""The word SSD's anchors and the decoding of its outputs into boxes, in numpy (no MXNet: the predictor runs
without it whichever engine runs the net; the net is ocr.words.net, its training targets and loss ocr.words.boxes).

Coordinates: boxes here are corners (x1, y1, x2, y2) as fractions of the region image (the 700x700 ``form_bb``
crop, fed to the net resized to S x S, S = ``image_size``); callers convert from/to (x, y, w, h)
(ocr.core.geometry).

Anchors: per map a list of (w, h) shapes (fractions of the region) centred on every cell, given directly rather
than as MultiBoxPrior's (sizes, ratios), whose extra ratios only pair with the first size: words need a fixed
height with several widths. The shapes are k-means clusters of synthetic word / line boxes, assigned to maps by
height (WORD_ANCHORS). ``detect``: the net's offsets decoded (SSD's centre/log-size encoding divided by
``variances``, ocr.words.boxes.encode_boxes), then one class-agnostic NMS computed as MXNet's ``box_nms`` computes
it (float32 arithmetic, ties in index order), so that both engines keep the same boxes.
"""
import math

import numpy as np

from ocr.decode.ctc import softmax

VARIANCES = (0.1, 0.1, 0.2, 0.2)
MAP_STRIDES = (4, 8, 16, 32, 64)
# (w, h) anchor shapes per map, fractions of the region, from k-means (1 - IoU distance) of the (w, h) of the boxes
# (x 1.05, the default expansion) of an 80-form synthetic tree (seed 1): 12 clusters of 8,036 word boxes (mean best
# IoU 0.81, 98.5% of boxes >= 0.5), 5 clusters of 616 line boxes (0.89, 98.4%). A map's cell must be at most about
# half an anchor's height for some anchor centre to sit close to every box, so shapes go to maps by height:
# words lower than 0.025 on the stride-4 map (cell 0.0114 at S = 350), the rest on stride 8 (cell 0.0227); all line
# shapes on stride 8.
WORD_ANCHORS = (
    ((0.0165, 0.0155), (0.0301, 0.0166), (0.0447, 0.0178), (0.0642, 0.0200), (0.0368, 0.0229), (0.0246, 0.0239)),
    ((0.0513, 0.0253), (0.0783, 0.0266), (0.1160, 0.0267), (0.0399, 0.0314), (0.0619, 0.0346), (0.0977, 0.0385)),
    (), (), (),
)
LINE_ANCHORS = (
    (),
    ((0.3573, 0.0327), (0.9546, 0.0339), (0.9531, 0.0411), (0.9541, 0.0496), (0.9563, 0.0629)),
    (), (), (),
)
# The SSD config defaults: width is the net's (ocr.words.net), the rest the anchors'.
DEFAULT_CONFIG = {"width": 8, "image_size": 350, "anchors": WORD_ANCHORS, "variances": VARIANCES}


def feature_sizes(image_size: int) -> list[int]:
    """Side lengths (cells) of the five feature maps for an S x S input: the stride-2 stem conv and each
    ceil-mode pool halve the side, rounding up (350 -> 175 -> 88, 44, 22, 11, 6)."""
    side = math.ceil(image_size / 2)
    sizes = []
    for _ in MAP_STRIDES:
        side = math.ceil(side / 2)
        sizes.append(side)
    return sizes


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


def decode_boxes(anchors: np.ndarray, offsets: np.ndarray, variances: tuple[float, ...] = VARIANCES) -> np.ndarray:
    """Inverse of ocr.words.boxes.encode_boxes: anchors (A, 4) corners, offsets (N, A, 4) -> float32 corners
    (N, A, 4); the log-size offsets are clipped to [-10, 5] before exp."""
    anchors, offsets = np.asarray(anchors, np.float32), np.asarray(offsets, np.float32)
    variances = np.asarray(variances, np.float32)
    acx, acy = (anchors[:, 0] + anchors[:, 2]) / 2, (anchors[:, 1] + anchors[:, 3]) / 2
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    cx = acx + offsets[:, :, 0] * variances[0] * aw
    cy = acy + offsets[:, :, 1] * variances[1] * ah
    # exp in float64 rounded to float32: MXNet's float32 exp to the last bit for all but about 1 value in 2,000 (numpy's
    # own float32 exp is an ulp off for 4 values in 10), so that the decoded boxes are those MXNet decoded
    scale = np.exp(np.clip(offsets[:, :, 2:] * variances[2:], -10, 5).astype(np.float64)).astype(np.float32)
    w, h = scale[:, :, 0] * aw, scale[:, :, 1] * ah
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=2)


def nms(scores: np.ndarray, corners: np.ndarray, overlap_thres: float, valid_thresh: float,
        topk: int) -> np.ndarray:
    """Greedy class-agnostic non-maximum suppression of one image, as MXNet's ``box_nms`` (force_suppress) does it.

    scores (A,) float32, corners (A, 4) float32. Of the boxes scoring above ``valid_thresh``, the ``topk`` best
    (ties: lower index first) are visited best first; each box not suppressed yet suppresses every later one whose
    IoU with it is above ``overlap_thres``. Returns the indices of the boxes kept, best first."""
    order = np.argsort(-scores, kind="stable")
    order = order[scores[order] > valid_thresh][:topk]
    boxes = corners[order]
    width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    areas = np.where((width < 0) | (height < 0), np.float32(0), width * height)
    kept = np.ones(len(order), bool)
    for i in range(len(order)):
        if not kept[i]:
            continue
        rest = np.nonzero(kept[i + 1:])[0] + i + 1
        box, others = boxes[i], boxes[rest]
        overlap_w = np.maximum(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0)
        overlap_h = np.maximum(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0)
        intersection = overlap_w * overlap_h
        with np.errstate(divide="ignore", invalid="ignore"):       # two empty boxes: NaN, which suppresses nothing
            iou = intersection / (areas[i] + areas[rest] - intersection)
        kept[rest[iou > overlap_thres]] = False
    return order[kept]


def detect(scores: np.ndarray, offsets: np.ndarray, anchors: Anchors | np.ndarray, min_c: float = 0.01,
           overlap_thres: float = 0.1, topk: int = 300, pre_nms_topk: int = 2000,
           variances: tuple[float, ...] = VARIANCES) -> list[tuple[np.ndarray, np.ndarray]]:
    """Boxes from SSD outputs, with one class-agnostic non-maximum suppression.

    scores (N, A, 2), offsets (N, A, 4) float32; anchors: Anchors or (A, 4) corners. Keeps boxes whose text
    probability is > min_c, runs NMS (IoU > overlap_thres suppresses the lower score) over the pre_nms_topk best
    and keeps the topk best survivors. Returns a list (one per image) of (corners float32 (n, 4) clipped to
    [0, 1], scores float32 (n,)) sorted by decreasing score.
    """
    corners = anchors.corners if isinstance(anchors, Anchors) else anchors
    probability = softmax(np.asarray(scores, np.float32))[:, :, 1]
    boxes = np.clip(decode_boxes(corners, offsets, variances), 0, 1)
    results = []
    for image_probability, image_boxes in zip(probability, boxes):
        kept = nms(image_probability, image_boxes, overlap_thres, min_c, pre_nms_topk)[:topk]
        results.append((image_boxes[kept], image_probability[kept]))
    return results
