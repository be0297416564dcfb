"""One model card for every model: what a predictor needs to rebuild and feed its net, and how the net was trained.

A model is two files: ``<stem>.params`` (the weights) and ``<stem>.json`` (its card, this schema). Every trainer
writes a ``ModelCard``; every predictor is built from one (``ocr.core.loading.load_model``) and reads the sizes,
normalisation, alphabet and box growth from it, never from constants that training may since have changed.

Cards written before this schema (formats ``ocr-paragraph-segmentation/1``, ``ocr-word-detector/1``,
``ocr-line-recognizer/1``) are read too (``ModelCard.from_dict`` upgrades them); ``write_card`` always writes
``CARD_FORMAT``.
"""
import json
from dataclasses import asdict, dataclass, field, fields

from ocr.core.paths import atomic_write_text

CARD_FORMAT = "ocr-model-card/2"
STAGES = ("paragraph", "words", "recognition")
ENCODINGS = ("grey", "ink")
# What the pipeline did when the version-1 cards were written (values of that code, kept with the upgrade): the
# predicted block was grown by 3% before cropping; the word SSD trained on blocks grown by 5%.
V1_PARAGRAPH_REGION_GROWTH = 0.03
V1_WORDS_REGION_GROWTH = 0.05


class CardError(ValueError):
    """A model card that cannot be read: not a JSON object, an unknown format, or a missing field."""


@dataclass
class InputSpec:
    """How an image becomes the net's input: made uint8 gray, letterboxed into ``fit_size`` = (H, W) pixels
    (ocr.core.geometry.resize_image), reduced to the net's own input size where that is smaller (the paragraph net
    and the SSD), then encoded: 'grey' = (grey / 255 - mean) / std, 'ink' = 1 - grey / 255. ``stretches``,
    ``vote_below`` (recognition; ocr.recognition.predictor.Recognizer.read_lines): a line is read with its width
    scaled by the first stretch; when that reading's score (reading_score) is below ``vote_below`` (None: always),
    it is read at the other stretches too and the readings vote on its text. (1.0,): read once, as given.
    ``word_lm_weight`` (recognition; ocr.pipeline.Pipeline reading a lone word at several sizes): the weight of the
    character LM's log-probability of each size's text in choosing among them (agreed_reading); 0: no LM."""
    fit_size: tuple[int, int]
    encoding: str = "grey"
    mean: float = 0.0
    std: float = 1.0
    note: str = ""
    stretches: tuple[float, ...] = (1.0,)
    vote_below: float | None = None
    word_lm_weight: float = 0.0

    def __post_init__(self):
        self.fit_size = (int(self.fit_size[0]), int(self.fit_size[1]))
        if self.encoding not in ENCODINGS:
            raise CardError("unknown input encoding %r (choose from %s)" % (self.encoding, ", ".join(ENCODINGS)))
        self.stretches = tuple(float(f) for f in self.stretches)
        if not self.stretches or min(self.stretches) <= 0:
            raise CardError("input stretches must be positive factors, got %r" % (self.stretches,))
        if self.vote_below is not None:
            self.vote_below = float(self.vote_below)
        self.word_lm_weight = float(self.word_lm_weight)
        if not 0 <= self.word_lm_weight < float("inf"):
            raise CardError("input word_lm_weight must be a finite weight >= 0, got %r" % (self.word_lm_weight,))


@dataclass
class ModelCard:
    """Everything about one trained model but its weights.

    stage: one of STAGES. network: the config its builder takes (ocr.<stage>.net). input: InputSpec. output: what
    the net returns, in words. unit: what one input (recognition) or one box (words) is, 'line' or 'word'.
    alphabet: the recogniser's characters (CTC class i is alphabet[i], the blank is the last class).
    target_growth: training boxes were grown by this fraction of their width and height about their centre (the
    word predictor shrinks its boxes back; the paragraph box stays grown). region_growth: paragraph: the predicted
    block is grown by this before the pipeline crops it; words: the blocks it trained on were grown by this.
    detection: the SSD's decoding settings (min_c, overlap_thres, topk, pre_nms_topk, score_threshold).
    parameters: weight count. hyperparameters, training: the run that made it (command, data, splits).
    best_epoch, step, metrics: the epoch the weights come from and its record; validation_metrics, test_metrics,
    history: the final evaluation and the per-epoch records."""
    stage: str
    network: dict
    input: InputSpec
    output: str = ""
    unit: str | None = None
    alphabet: str | None = None
    target_growth: float = 0.0
    region_growth: float | None = None
    detection: dict | None = None
    parameters: int = 0
    hyperparameters: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    best_epoch: int | None = None
    step: int | None = None
    metrics: dict = field(default_factory=dict)
    validation_metrics: dict = field(default_factory=dict)
    test_metrics: dict = field(default_factory=dict)
    history: list = field(default_factory=list)

    def __post_init__(self):
        if self.stage not in STAGES:
            raise CardError("unknown stage %r (choose from %s)" % (self.stage, ", ".join(STAGES)))
        if isinstance(self.input, dict):
            self.input = InputSpec(**self.input)

    def to_dict(self) -> dict:
        """The card as the JSON object written beside the weights (``format`` first)."""
        card = asdict(self)
        card["input"]["fit_size"] = list(self.input.fit_size)
        card["input"]["stretches"] = list(self.input.stretches)
        return {"format": CARD_FORMAT, **card}

    @classmethod
    def from_dict(cls, data: dict) -> "ModelCard":
        """A card from its JSON object: this schema, or a version-1 card of one of the three stages (upgraded).
        Raises CardError naming what is wrong."""
        if not isinstance(data, dict):
            raise CardError("a model card is a JSON object, not %s" % type(data).__name__)
        form = data.get("format")
        if form not in V1_UPGRADES and form != CARD_FORMAT:
            raise CardError("unknown model card format %r (expected %s)" % (form, CARD_FORMAT))
        known = {f.name for f in fields(cls)}
        try:
            data = V1_UPGRADES[form](data) if form in V1_UPGRADES else data
            return cls(**{k: v for k, v in data.items() if k in known})
        except KeyError as error:
            raise CardError("model card (%s): no %s" % (form, error)) from None
        except TypeError as error:
            raise CardError("model card (%s): %s" % (form, error)) from None


def _v1_common(data: dict) -> dict:
    """The fields a version-1 card of any stage shares with this schema."""
    keys = ("network", "output", "parameters", "hyperparameters", "training", "best_epoch", "step", "metrics",
            "validation_metrics", "test_metrics", "history")
    return {k: data[k] for k in keys if k in data}


def _v1_paragraph(data: dict) -> dict:
    normalisation = data["normalisation"]
    target = data.get("target", {})
    output = data.get("output", "")
    if target.get("box"):
        output += "; target box: " + target["box"]
    return {**_v1_common(data), "stage": "paragraph", "output": output,
            "input": {"fit_size": data["form_size"], "encoding": "grey", "mean": normalisation["mean"],
                      "std": normalisation["std"], "note": normalisation.get("source", "")},
            "target_growth": target.get("expand_bb_scale", 0.0), "region_growth": V1_PARAGRAPH_REGION_GROWTH}


def _v1_words(data: dict) -> dict:
    return {**_v1_common(data), "stage": "words", "unit": data.get("detection_box", "word"),
            "output": "(x, y, w, h) boxes, fractions of the region, with their scores",
            "input": {"fit_size": data["input"]["region_size"], "encoding": "ink",
                      "note": data["input"].get("normalisation", "")},
            "target_growth": data.get("box_expansion", 0.0), "region_growth": V1_WORDS_REGION_GROWTH,
            "detection": data.get("detection")}


def _v1_recognition(data: dict) -> dict:
    normalisation = data["normalisation"]
    if data.get("blank", len(data["alphabet"])) != len(data["alphabet"]):
        raise CardError("model card: the blank must be the last class")
    return {**_v1_common(data), "stage": "recognition", "unit": data.get("parse_method", "line"),
            "output": "T x C scores per line (C = alphabet + blank, the blank last)", "alphabet": data["alphabet"],
            "input": {"fit_size": data["input_size"], "encoding": "grey", "mean": normalisation["mean"],
                      "std": normalisation["std"], "note": normalisation.get("source", "")}}


V1_UPGRADES = {"ocr-paragraph-segmentation/1": _v1_paragraph, "ocr-word-detector/1": _v1_words,
               "ocr-line-recognizer/1": _v1_recognition}


def read_card(path: str) -> ModelCard:
    """The ModelCard in the JSON file ``path``. Raises OSError (unreadable), ValueError (not JSON) or CardError."""
    with open(path, encoding="utf-8") as f:
        return ModelCard.from_dict(json.load(f))


def write_card(path: str, card: ModelCard) -> None:
    """Write ``card`` as indented JSON to ``path`` atomically (temp file + rename)."""
    atomic_write_text(path, json.dumps(card.to_dict(), indent=2) + "\n")
