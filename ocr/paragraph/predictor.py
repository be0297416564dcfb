"""Inference API of the paragraph segmentation DCNN: ``ParagraphSegmenter.load().predict(page)`` -> the
handwritten block (x, y, w, h) as fractions of the page.

A model is ``<name>.params`` (weights) + ``<name>.json`` (its card, ocr.core.card); the net is rebuilt from the card
alone. Pages of any size, colour and dtype go through the training geometry the card records: gray, letterboxed
into its ``input.fit_size`` (1120x800 for the shipped model), reduced to the net's input size; the predicted box is
mapped back through the letterbox to the page. MXNet is imported only to build the Gluon net (build_net: the MXNet
engine, or an ONNX graph not cached yet; see ocr.core.loading).
"""
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ocr.core import loading
from ocr.core.card import ModelCard
from ocr.core.geometry import resize_image, unletterbox
from ocr.core.images import to_gray

if TYPE_CHECKING:
    import mxnet as mx
    import onnx

    from ocr.paragraph.net import ParagraphNet

DEFAULT_MODEL = "paragraph_segmentation"


def reduce_page(fitted: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """uint8 page fitted into the card's fit size (H, W) -> uint8 (H, W) = input_size (area interpolation).
    Box fractions of the fitted page are fractions of the result too."""
    return cv2.resize(fitted, (input_size[1], input_size[0]), interpolation=cv2.INTER_AREA)


def standardise(pages: np.ndarray, mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    """uint8 pages (N, H, W) -> float32 (N, 1, H, W) of (grey / 255 - mean) / std."""
    return ((np.asarray(pages, dtype=np.float32) / 255.0 - mean) / std)[:, None, :, :]


def resolve_model(name_or_path: str | None = None) -> tuple[str, str]:
    """Model name or path (stem, .params or .json; None = the shipped default) -> (params path, json path)."""
    return loading.resolve_model(name_or_path, DEFAULT_MODEL, "paragraph")


def build_net(network: dict) -> "ParagraphNet":
    """The ParagraphNet of a card's network config (ocr.paragraph.net.build_paragraph_net; imports MXNet)."""
    from ocr.paragraph.net import build_paragraph_net
    return build_paragraph_net(network)


def onnx_graph(net: "ParagraphNet", card: ModelCard) -> "onnx.ModelProto":
    """A loaded ParagraphNet and its card -> onnx.ModelProto: ``data`` (N, 1, H, W) standardised pages at the
    net's input size -> (N, 4) boxes, as the net (ocr.core.onnx_export, which imports MXNet)."""
    from ocr.core.onnx_export import block_to_onnx
    return block_to_onnx(net, (1, 1) + tuple(card.network["input_size"]))


class ParagraphSegmenter:
    """A trained paragraph DCNN: ``net`` (hybridized ParagraphNet, or the ocr.core.onnx_engine.OnnxNet of its ONNX
    export), its ``card`` (ocr.core.card.ModelCard), ``ctx`` (where a Gluon net runs; None: the CPU). Everything it
    feeds the net is read from the card: ``fit_size`` (the letterbox, H, W pixels), ``input_size`` (the net's, H, W
    pixels), ``mean``/``std``, and ``region_growth`` (how much the pipeline grows the predicted block before
    cropping)."""

    def __init__(self, net, card: ModelCard, ctx: "mx.Context | None" = None):
        self.net, self.card, self.ctx = net, loading.check_stage(card, "paragraph", "paragraph"), ctx
        self.fit_size = card.input.fit_size
        self.input_size = tuple(card.network["input_size"])
        self.mean, self.std = card.input.mean, card.input.std
        self.region_growth = card.region_growth

    @classmethod
    def load(cls, path: str | None = None, ctx: "mx.Context | None" = None,
             engine: str = "mxnet") -> "ParagraphSegmenter":
        """Load ``<stem>.params`` + ``<stem>.json`` (see resolve_model) on ``ctx`` (default CPU); ``engine``: one of
        loading.ENGINES (see loading.load_net)."""
        return cls(*loading.load_net(path, DEFAULT_MODEL, "paragraph", build_net, ctx, engine, onnx_graph))

    def prepare(self, page: np.ndarray) -> tuple[np.ndarray, tuple]:
        """Any page (any size, colour, dtype; see to_gray) -> (uint8 input (H, W) = input_size, content_box:
        where the page lies in the letterboxed image, (x, y, w, h) fractions)."""
        fitted, content_box = resize_image(to_gray(page), self.fit_size)
        return reduce_page(fitted, self.input_size), content_box

    def predict_fractions(self, inputs: np.ndarray) -> np.ndarray:
        """uint8 inputs (N, H, W) (see prepare) -> float32 (N, 4) boxes (x, y, w, h), fractions of the letterboxed
        page."""
        return loading.run_net(self.net, standardise(inputs, self.mean, self.std), self.ctx)

    def predict(self, page: np.ndarray) -> tuple[float, float, float, float]:
        """Any page -> the handwritten block (x, y, w, h) as fractions of the page, inside it (w or h is 0 when the
        net puts the box in the letterbox padding)."""
        small, content_box = self.prepare(page)
        return tuple(float(v) for v in unletterbox(self.predict_fractions(small[None])[:1], content_box)[0])
