"""Inference API of the line recogniser: ``Recognizer.load(name_or_path).recognize(images)``.

A model is two files, ``<name>.params`` (weights) and ``<name>.json`` (everything else: network config, alphabet,
input size, normalisation, training command and data, metrics); the net is rebuilt from the JSON alone.
"""

import mxnet as mx
import numpy as np

from ocr.alphabet import ALPHABET, BLANK
from ocr.data.transforms import resize_image, to_gray
from ocr.decode.greedy import best_path
from ocr.nets.recognizer import build_recognizer
from ocr.onnx_recognizer import recognizer_to_onnx
from ocr import models

DEFAULT_MODEL = "handwriting_line"
# The reference's statistics of IAM lines fitted into 60 x 800, as grey levels / 255.
REFERENCE_MEAN, REFERENCE_STD = 0.942532484060557, 0.15926149044640417


def standardise(images, mean=REFERENCE_MEAN, std=REFERENCE_STD):
    """uint8 gray images (N, H, W) -> float32 (N, 1, H, W) of (pixel / 255 - mean) / std."""
    images = np.asarray(images, dtype=np.float32)
    return ((images / 255.0 - mean) / std)[:, None, :, :]


def greedy_decode(scores):
    """Best-path CTC text of scores (T, C) (probabilities, log-probabilities or raw logits; blank = last class)."""
    columns, _ = best_path(scores, BLANK)
    return "".join(ALPHABET[c] for c in columns)


def resolve_model(name_or_path=None):
    """Model name or path (stem, .params or .json; None = the shipped default) -> (params path, json path)."""
    return models.resolve_model(name_or_path, DEFAULT_MODEL, "recogniser")


def onnx_graph(net, info):
    """A loaded LineRecognizer and its model JSON -> onnx.ModelProto: ``data`` (N, 1, H, W) standardised lines,
    H = the card's input height, N and W free -> ``scores`` (N, T, C), as the net (ocr.onnx_recognizer)."""
    return recognizer_to_onnx(net, info["input_size"])


class Recognizer:
    """A trained line recogniser: ``net`` (hybridized LineRecognizer, or the ocr.onnx_engine.OnnxNet of its ONNX
    export, called the same way), its ``info`` dict (the model JSON), ``ctx``."""

    def __init__(self, net, info, ctx=None):
        if info.get("alphabet", ALPHABET) != ALPHABET:
            raise ValueError("model alphabet differs from ocr.alphabet.ALPHABET")
        self.net, self.info, self.ctx = net, info, ctx or mx.cpu()
        self.input_size = tuple(info["input_size"])
        self.mean, self.std = info["normalisation"]["mean"], info["normalisation"]["std"]

    @classmethod
    def load(cls, name_or_path=None, ctx=None, engine="mxnet"):
        """Load ``<name>.params`` + ``<name>.json`` (see resolve_model) on ``ctx`` (default CPU); ``engine``: 'mxnet'
        or 'onnx' (onnxruntime on the model's ONNX export; see models.load_net)."""
        return cls(*models.load_net(name_or_path, DEFAULT_MODEL, "recogniser", build_recognizer, ctx, engine,
                                    onnx_graph))

    def prepare(self, image):
        """Any line image (any size, colour, dtype; see to_gray) -> uint8 (H, W) fitted into the input size."""
        return resize_image(to_gray(image), self.input_size)[0]

    def predict(self, fitted):
        """uint8 fitted lines (N, H, W) -> float32 softmax probabilities (N, T, C)."""
        scores = self.net(mx.nd.array(standardise(fitted, self.mean, self.std), ctx=self.ctx))
        return mx.nd.softmax(scores, axis=-1).asnumpy()

    def recognize(self, images, batch_size=16):
        """Line images (a list of arrays, any size/colour/dtype) -> list of (text, probs (T, C) float32 softmax)."""
        results = []
        for start in range(0, len(images), batch_size):
            fitted = np.stack([self.prepare(image) for image in images[start:start + batch_size]])
            results.extend((greedy_decode(p), p) for p in self.predict(fitted))
        return results
