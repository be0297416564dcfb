"""Inference API of the line recogniser: ``Recognizer.load(name_or_path).recognize(images)`` (each line read once),
or ``Recognizer.load(name_or_path, widths=True).read_lines(images)`` (unsure lines read at several widths too).

A model is two files, ``<name>.params`` (weights) and ``<name>.json`` (everything else: network config, alphabet,
input size, normalisation, training command and data, metrics); the net is rebuilt from the JSON alone. MXNet is
imported only to build the Gluon net (build_net: the MXNet engine, or an ONNX graph not cached yet; see
ocr.core.loading).
"""
from collections.abc import Callable
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ocr.core import loading
from ocr.core.alphabet import ALPHABET, BLANK
from ocr.core.card import ModelCard
from ocr.core.geometry import fit_geometry, resize_image
from ocr.core.images import to_gray
from ocr.decode.ctc import column_labels, ctc_log_likelihood, softmax, text_to_columns, to_log_probs
from ocr.decode.greedy import best_path
from ocr.recognition.config import step_width

if TYPE_CHECKING:
    import mxnet as mx
    import onnx

    from ocr.recognition.net import LineRecognizer

DEFAULT_MODEL = "handwriting_line"
# The reference's statistics of IAM lines fitted into 60 x 800, as grey levels / 255.
REFERENCE_MEAN, REFERENCE_STD = 0.942532484060557, 0.15926149044640417
# px of the letterbox's paper kept each side of a batch's widest line when batching by width (Recognizer.recognize).
# The net was trained on full letterboxes only and its LSTM reads the paper too, so less paper moves its outputs
# (utils/bench_recognizer.py, one run): on 160 synth_v2 test lines 139, 144, 157 of 160 read the same greedy text
# with 32, 64, 128 px (CER 4.94, 4.92, 4.92% against 4.91% at the full width) for 1.06x, 1.03x, 0.99x the lines/s;
# on 320 of its test words only 66, 75, 92 (CER 60.7, 58.5, 56.3% against 40.9%) for 4.8x, 3.7x, 2.6x.
MARGIN = 64
CUT_STEPS = 4       # the letterbox is narrowed by whole multiples of this many time steps on each side
# readings of a word at several sizes that vote on its text (agreed_reading). On validation words (rendered
# IAM-OnDB / synth_v2 word crops, greedy CER %): the surest reading alone 10.9 / 7.9; the jury of the 2, 3, 4, 6
# surest 10.3 / 7.3, 10.0 / 7.2, 11.2 / 7.4, 12.9 / 8.1.
AGREEMENT_JURY = 3


def standardise(images: np.ndarray, mean: float = REFERENCE_MEAN, std: float = REFERENCE_STD) -> np.ndarray:
    """uint8 gray images (N, H, W) -> float32 (N, 1, H, W) of (pixel / 255 - mean) / std."""
    images = np.asarray(images, dtype=np.float32)
    return ((images / 255.0 - mean) / std)[:, None, :, :]


def greedy_decode(scores: np.ndarray) -> str:
    """Best-path CTC text of scores (T, C) (probabilities, log-probabilities or raw logits; blank = last class)."""
    columns, _ = best_path(scores, BLANK)
    return "".join(ALPHABET[c] for c in columns)


def stretch_width(gray: np.ndarray, factor: float) -> np.ndarray:
    """uint8 gray (H, W) -> (H, round(W * factor)), its width scaled by ``factor`` (cubic when widening, pixel area
    when narrowing); the image itself when ``factor`` is 1."""
    if factor == 1.0:
        return gray
    width = max(1, round(gray.shape[1] * factor))
    return cv2.resize(gray, (width, gray.shape[0]), interpolation=cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA)


def character_tops(probs: np.ndarray) -> np.ndarray:
    """float32 softmax (T, C), blank last -> the top probabilities (K,) of the K steps whose best class is a
    character (not the blank): the evidence of the best-path text."""
    return probs.max(axis=1)[probs.argmax(axis=1) != probs.shape[1] - 1]


def reading_score(probs: np.ndarray) -> float:
    """float32 softmax (T, C), blank last -> how sure the reader is of its best-path text: the mean log of its
    character_tops; -inf when it reads nothing."""
    tops = character_tops(probs)
    return float(np.log(np.maximum(tops, 1e-30)).mean()) if len(tops) else float("-inf")


def agreed_reading(readings: list[tuple[str, np.ndarray]], jury: int = AGREEMENT_JURY,
                   prior: Callable[[str], float] | None = None) -> int:
    """[(best-path text, float32 softmax (T, C), blank last)] of one word read at several sizes -> the index of the
    reading whose text the ``jury`` surest readings (reading_score) find the most likely on average (mean CTC
    log-likelihood), plus ``prior(text)`` when given (a weighted language-model log-probability): the reading the
    sizes agree on. One size sure of a text the others do not see loses to a text that several sizes support; ties
    go to the surer reading."""
    scores = [reading_score(probs) for _, probs in readings]
    labels, blank = column_labels(ALPHABET, readings[0][1].shape[1])
    jurors = [to_log_probs(readings[k][1], log_probs=False) for k in np.argsort(scores)[::-1][:jury]]

    def support(k: int) -> tuple[float, float]:
        columns = text_to_columns(readings[k][0], labels)
        likelihood = float(np.mean([ctc_log_likelihood(log_probs, columns, blank) for log_probs in jurors]))
        return likelihood + (prior(readings[k][0]) if prior else 0.0), scores[k]
    return max(range(len(readings)), key=support)


def needs_vote(probs: np.ndarray, vote_below: float | None) -> bool:
    """Whether a line whose reading at the first stretch gave ``probs`` (float32 softmax (T, C), blank last) is read
    at the other stretches too: its reading_score is below ``vote_below`` (None: always)."""
    return vote_below is None or reading_score(probs) < vote_below


def resolve_model(name_or_path: str | None = None) -> tuple[str, str]:
    """Model name or path (stem, .params or .json; None = the shipped default) -> (params path, json path)."""
    return loading.resolve_model(name_or_path, DEFAULT_MODEL, "recogniser")


def build_net(network: dict) -> "LineRecognizer":
    """The LineRecognizer of a card's network config (ocr.recognition.net.build_recognizer; imports MXNet)."""
    from ocr.recognition.net import build_recognizer
    return build_recognizer(network)


def onnx_graph(net: "LineRecognizer", card: ModelCard) -> "onnx.ModelProto":
    """A loaded LineRecognizer and its card -> onnx.ModelProto: ``data`` (N, 1, H, W) standardised lines,
    H = the card's fit height, N and W free -> ``scores`` (N, T, C), as the net (ocr.recognition.onnx_graph,
    which imports MXNet)."""
    from ocr.recognition.onnx_graph import recognizer_to_onnx
    return recognizer_to_onnx(net, card.input.fit_size)


class Recognizer:
    """A trained line recogniser: ``net`` (hybridized LineRecognizer, or the ocr.core.onnx_engine.OnnxNet of its ONNX
    export), its ``card`` (ocr.core.card.ModelCard), ``ctx`` (where a Gluon net runs; None: the CPU); ``margin``:
    px of paper kept each side of a batch's widest line when batching by width (MARGIN). From the card:
    ``input_size`` (the letterbox a line is fitted into, H, W pixels), ``mean``/``std``, the alphabet (the decoders'
    must match), and, with ``widths``, the ``stretches`` and ``vote_below`` read_lines reads at (else (1.0,): once)."""

    def __init__(self, net, card: ModelCard, ctx: "mx.Context | None" = None, widths: bool = False):
        loading.check_stage(card, "recognition", "line recogniser")
        if card.alphabet != ALPHABET:
            raise loading.ModelLoadError("the model's alphabet differs from ocr.core.alphabet.ALPHABET")
        self.net, self.card, self.ctx = net, card, ctx
        self.input_size = card.input.fit_size
        self.mean, self.std = card.input.mean, card.input.std
        self.stretches = card.input.stretches if widths else (1.0,)
        self.vote_below = card.input.vote_below
        self.margin = MARGIN

    @classmethod
    def load(cls, name_or_path: str | None = None, ctx: "mx.Context | None" = None,
             engine: str = "mxnet", widths: bool = False) -> "Recognizer":
        """Load ``<name>.params`` + ``<name>.json`` (see resolve_model) on ``ctx`` (default CPU); ``engine``: 'mxnet',
        'onnx' (onnxruntime on the model's ONNX export) or 'onnx-int8' (its LSTMs in int8; see loading.load_net).
        ``widths``: read_lines reads at the card's stretches; else each line once, as given."""
        return cls(*loading.load_net(name_or_path, DEFAULT_MODEL, "recogniser", build_net, ctx, engine, onnx_graph),
                   widths=widths)

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """Any line image (any size, colour, dtype; see to_gray) -> uint8 (H, W) fitted into the input size."""
        return resize_image(to_gray(image), self.input_size)[0]

    def predict(self, fitted: np.ndarray) -> np.ndarray:
        """uint8 fitted lines (N, H, W) -> float32 softmax probabilities (N, T, C)."""
        return softmax(loading.run_net(self.net, standardise(fitted, self.mean, self.std), self.ctx))

    def window_width(self, content_width: int) -> int:
        """Width (px) of the centred window of the letterbox (the card's input width W) that a batch whose widest
        content is ``content_width`` px is run at: W less equal cuts from both sides, each a whole number of
        CUT_STEPS time steps, keeping at least ``margin`` px of paper each side of the content. The cuts being whole
        time steps, each line keeps its place on the net's time grid: its conv features are those of the full
        letterbox; only the LSTM, which reads less paper, can move its probabilities (see MARGIN)."""
        width, unit = self.input_size[1], 2 * CUT_STEPS * step_width(self.card.network)
        return width - unit * (max(0, width - content_width - 2 * self.margin) // unit)

    def content_span(self, image_shape: tuple[int, int], steps: int) -> tuple[int, int, int]:
        """Where a line image of ``image_shape`` (H, W) lies in the input that gave it ``steps`` time steps:
        (left, width, input width), pixels of that input (the letterbox's centred window; see recognize)."""
        input_width = steps * step_width(self.card.network)
        left, _, width, _ = fit_geometry(image_shape, self.input_size)
        return left - (self.input_size[1] - input_width) // 2, width, input_width

    def recognize(self, images: list, batch_size: int = 16, by_width: bool = False) -> list[tuple[str, np.ndarray]]:
        """Line images (a list of arrays, any size/colour/dtype) -> list of (text, probs (T, C) float32 softmax),
        in the order given.

        Each line is letterboxed into the card's input size (prepare) and, by default, run at its full width
        (T = W / step_width). With ``by_width`` the lines are sorted by content width and each batch of
        ``batch_size`` runs at the centred window of the letterbox that its widest line needs (window_width), so T
        varies from line to line (content_span says where each line lies): faster on short lines, but not the same
        outputs with a net trained on full letterboxes only (see MARGIN), hence not the default."""
        fitted = [self.prepare(image) for image in images]
        widths = [fit_geometry(np.shape(image), self.input_size)[2] for image in images]
        order = sorted(range(len(images)), key=widths.__getitem__)
        results = [None] * len(images)
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            window = self.window_width(max(widths[i] for i in batch)) if by_width else self.input_size[1]
            cut = (self.input_size[1] - window) // 2
            for i, probs in zip(batch, self.predict(np.stack([fitted[i][:, cut:cut + window] for i in batch]))):
                results[i] = (greedy_decode(probs), probs)
        return results

    def read_lines(self, images: list, batch_size: int = 16) -> list[tuple[str, np.ndarray, tuple[int, int]]]:
        """Line images (any size/colour/dtype) -> list of (text, probs (T, C) float32 softmax, (H, W) of the image
        read), in the order given. Each line is read with its width scaled by the card's first stretch
        (stretch_width); a line whose reading scores below the card's ``vote_below`` (reading_score; None: every
        line) is read at the other stretches too, and the reading they agree on is kept (agreed_reading). The probs
        map onto the image read (content_span of its shape) and so, by the fraction of its width, onto the line as
        given."""
        grays = [to_gray(image) for image in images]
        first, *others = self.stretches
        variants = [[stretch_width(gray, first)] for gray in grays]
        readings = [[reading] for reading in self.recognize([v[0] for v in variants], batch_size)]
        unsure = [i for i, group in enumerate(readings) if others and needs_vote(group[0][1], self.vote_below)]
        for i in unsure:
            variants[i] += [stretch_width(grays[i], factor) for factor in others]
        more = iter(self.recognize([v for i in unsure for v in variants[i][1:]], batch_size))
        for i in unsure:
            readings[i] += [next(more) for _ in others]
        results = []
        for group, shapes in zip(readings, variants):
            best = agreed_reading(group) if len(group) > 1 else 0
            results.append((*group[best], shapes[best].shape))
        return results
