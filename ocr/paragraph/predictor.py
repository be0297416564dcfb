"""Inference API of the paragraph segmentation DCNN: ``ParagraphSegmenter.load().predict(page)``.

A model is ``<name>.params`` (weights) + ``<name>.json`` (network config with the input size, normalisation,
hyperparameters, training command and data, metrics); the net is rebuilt from the JSON alone. Pages of any size,
colour and dtype go through the training geometry: gray, fitted into FORM_SIZE (1120x800, letterboxed), reduced
to the input size; the predicted box is mapped back through the letterbox to the page's own pixels.
"""

import cv2
import mxnet as mx
import numpy as np

from ocr.core import loading
from ocr.core.geometry import FORM_SIZE, REGION_GROWTH, box_to_px, resize_image, unletterbox
from ocr.core.images import to_gray
from ocr.core.onnx_export import block_to_onnx
from ocr.paragraph.net import build_paragraph_net

DEFAULT_MODEL = "paragraph_segmentation"
# The reference feeds grey / 255 with no mean/std; kept (the first conv is followed by BatchNorm anyway).
NORMALISATION = {"mean": 0.0, "std": 1.0, "source": "reference: grey level / 255, no mean/std"}


def reduce_page(fitted, input_size):
    """uint8 page fitted into FORM_SIZE (1120, 800) -> uint8 (H, W) = input_size (area interpolation).
    Box fractions of the fitted page are fractions of the result too."""
    return cv2.resize(fitted, (input_size[1], input_size[0]), interpolation=cv2.INTER_AREA)


def standardise(pages, mean=0.0, std=1.0):
    """uint8 pages (N, H, W) -> float32 (N, 1, H, W) of (grey / 255 - mean) / std."""
    return ((np.asarray(pages, dtype=np.float32) / 255.0 - mean) / std)[:, None, :, :]


def resolve_model(name_or_path=None):
    """Model name or path (stem, .params or .json; None = the shipped default) -> (params path, json path)."""
    return loading.resolve_model(name_or_path, DEFAULT_MODEL, "paragraph")


def onnx_graph(net, info):
    """A loaded ParagraphNet and its model JSON -> onnx.ModelProto: ``data`` (N, 1, H, W) standardised pages at the
    card's input size -> (N, 4) boxes, as the net."""
    return block_to_onnx(net, (1, 1) + tuple(info["network"]["input_size"]))


class ParagraphSegmenter:
    """A trained paragraph DCNN: ``net`` (hybridized ParagraphNet, or the ocr.core.onnx_engine.OnnxNet of its ONNX
    export), its ``info`` dict (the model JSON), ``ctx``."""

    def __init__(self, net, info, ctx=None):
        self.net, self.info, self.ctx = net, info, ctx or mx.cpu()
        self.input_size = tuple(info["network"]["input_size"])
        self.mean, self.std = info["normalisation"]["mean"], info["normalisation"]["std"]
        self.region_growth = info.get("region_growth", REGION_GROWTH)

    @classmethod
    def load(cls, path=None, ctx=None, engine="mxnet"):
        """Load ``<stem>.params`` + ``<stem>.json`` (see resolve_model) on ``ctx`` (default CPU); ``engine``: 'mxnet'
        or 'onnx' (see loading.load_net)."""
        return cls(*loading.load_net(path, DEFAULT_MODEL, "paragraph", build_paragraph_net, ctx, engine, onnx_graph))

    def prepare(self, page):
        """Any page (any size, colour, dtype; see to_gray) -> (uint8 input (H, W) = input_size, content_box:
        where the page lies in the fitted 1120x800 image, (x, y, w, h) fractions)."""
        fitted, content_box = resize_image(to_gray(page), FORM_SIZE)
        return reduce_page(fitted, self.input_size), content_box

    def predict_fractions(self, inputs):
        """uint8 inputs (N, H, W) (see prepare) -> float32 (N, 4) boxes (x, y, w, h), fractions of the fitted
        1120x800 page."""
        data = mx.nd.array(standardise(inputs, self.mean, self.std), ctx=self.ctx)
        return self.net(data).asnumpy()

    def predict(self, page):
        """Any page -> the handwritten block (x, y, w, h) in integer page pixels, inside the page (w or h is 0
        when the net puts the box in the letterbox padding)."""
        small, content_box = self.prepare(page)
        box = unletterbox(self.predict_fractions(small[None])[:1], content_box)[0]
        x1, y1, x2, y2 = box_to_px(box, np.shape(page)[:2])
        return x1, y1, x2 - x1, y2 - y1
