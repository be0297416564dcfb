"""Inference API of the word (or line) detector: ``WordDetector.load(path).predict(region)``.

A model is two files, ``<name>.params`` (weights) and ``<name>.json`` (its card, ocr.core.card: network config with
the anchor shapes and input size, detection settings, target growth, training record, metrics); the net is rebuilt
from the card alone.

A region (the handwritten block, any size or colour) is made gray, letterboxed with paper colour into the card's
``input.fit_size`` (700 x 700 for the shipped model), resized to S x S (S = ``image_size`` of the net) and fed as
ink = 1 - grey / 255. Predicted boxes are mapped back out of the letterbox, so they are (x, y, w, h) fractions of
the region as given. MXNet is imported only to build the Gluon net (build_net: the MXNet engine, or an ONNX graph
not cached yet; see ocr.core.loading); the outputs are decoded in numpy (ocr.words.anchors).
"""
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ocr.core import loading
from ocr.core.card import ModelCard
from ocr.core.geometry import corners_to_xywh, resize_image, shrink_boxes, unletterbox
from ocr.core.images import to_gray
from ocr.words.anchors import detect, make_anchors

if TYPE_CHECKING:
    import mxnet as mx
    import onnx

    from ocr.words.net import SSD

DEFAULT_MODEL = "word_segmentation"
DEFAULT_DETECTION = {"min_c": 0.01, "overlap_thres": 0.1, "topk": 300, "pre_nms_topk": 2000, "score_threshold": 0.5}


def ink_map(fitted: np.ndarray, image_size: int) -> np.ndarray:
    """uint8 gray region already letterboxed into the card's fit size, (H, W) -> float32 (1, S, S) ink map
    (1 - grey / 255) at S = image_size (area interpolation)."""
    small = cv2.resize(fitted, (image_size, image_size), interpolation=cv2.INTER_AREA)
    return (1.0 - small.astype(np.float32) / 255.0)[None]


def resolve_model(name_or_path: str | None = None) -> tuple[str, str]:
    """Model name or path (stem, .params or .json; None = the shipped default) -> (params path, json path)."""
    return loading.resolve_model(name_or_path, DEFAULT_MODEL, "detector")


def build_net(network: dict) -> "SSD":
    """The SSD of a card's network config (ocr.words.net.build_ssd; imports MXNet)."""
    from ocr.words.net import build_ssd
    return build_ssd(network)


def onnx_graph(net: "SSD", card: ModelCard) -> "onnx.ModelProto":
    """A loaded SSD and its card -> onnx.ModelProto: ``data`` (N, 1, S, S) ink maps, S = the net's image_size ->
    (class scores (N, A, 2), box offsets (N, A, 4)), as the net (ocr.core.onnx_export, which imports MXNet)."""
    from ocr.core.onnx_export import block_to_onnx
    size = card.network["image_size"]
    return block_to_onnx(net, (1, 1, size, size))


class WordDetector:
    """A trained detector: ``net`` (hybridized SSD, or the ocr.core.onnx_engine.OnnxNet of its ONNX export), its
    ``card`` (ocr.core.card.ModelCard), ``ctx`` (where a Gluon net runs; None: the CPU). From the card: ``fit_size``
    (the letterbox, H, W pixels), ``image_size`` (S), the anchors, ``box_expansion`` (the growth of its training
    boxes, undone on its output).

    ``detection`` (from the card, overridable per call): min_c (lowest probability kept before NMS), overlap_thres
    (NMS IoU), topk (boxes kept after NMS), pre_nms_topk, score_threshold (lowest score ``predict`` returns).
    """

    def __init__(self, net, card: ModelCard, ctx: "mx.Context | None" = None):
        self.net, self.card, self.ctx = net, loading.check_stage(card, "words", "word detector"), ctx
        self.fit_size = card.input.fit_size
        self.image_size = card.network["image_size"]
        self.anchors = make_anchors(card.network)
        self.variances = card.network.get("variances")
        self.detection = {**DEFAULT_DETECTION, **(card.detection or {})}
        self.box_expansion = card.target_growth

    @classmethod
    def load(cls, path: str | None = None, ctx: "mx.Context | None" = None, engine: str = "mxnet") -> "WordDetector":
        """Load ``<name>.params`` + ``<name>.json`` (see resolve_model; default models/word_segmentation) on ``ctx``
        (default CPU); ``engine``: one of loading.ENGINES (see loading.load_net)."""
        return cls(*loading.load_net(path, DEFAULT_MODEL, "detector", build_net, ctx, engine, onnx_graph))

    def detect_fitted(self, fitted: np.ndarray, **overrides) -> list[tuple[np.ndarray, np.ndarray]]:
        """Regions already letterboxed into ``fit_size``, uint8 (N, H, W) -> list of (boxes (n, 4) (x, y, w, h) fractions
        of the fitted region, scores (n,)), every box above min_c after NMS, best first (overrides: see class)."""
        settings = {**self.detection, **overrides}
        inks = np.stack([ink_map(region, self.image_size) for region in fitted])
        scores, offsets = loading.run_net(self.net, inks, self.ctx)
        found = detect(scores, offsets, self.anchors, settings["min_c"], settings["overlap_thres"], settings["topk"],
                       settings["pre_nms_topk"], **({"variances": self.variances} if self.variances else {}))
        return [(shrink_boxes(corners_to_xywh(corners), self.box_expansion), probability)
                for corners, probability in found]

    def predict(self, region: np.ndarray, score_threshold: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """A region image (any size, colour or dtype; see to_gray) -> (boxes float32 (n, 4) (x, y, w, h) fractions
        of that image, scores float32 (n,)) with score >= score_threshold (default: the model's), best first."""
        threshold = self.detection["score_threshold"] if score_threshold is None else score_threshold
        fitted, content_box = resize_image(to_gray(region), self.fit_size)
        boxes, scores = self.detect_fitted(fitted[None])[0]
        keep = scores >= threshold
        return unletterbox(boxes[keep], content_box), scores[keep]
