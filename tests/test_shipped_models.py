"""The shipped models: each loads from its card alone, the sample page reads well, and what a model is fed comes
from its card (changing a geometry constant cannot change it); cards round-trip and version-1 cards still load."""
import json
import os
import sys

import numpy as np
import pytest

from ocr.core import geometry
from ocr.core.card import CARD_FORMAT, CardError, ModelCard, read_card, write_card
from ocr.core.paths import MODELS_DIR, REPO_ROOT
from ocr.metrics import cer
from ocr.paragraph.predictor import ParagraphSegmenter
from ocr.pipeline import Pipeline
from ocr.recognition.predictor import Recognizer
from ocr.words.predictor import WordDetector

SAMPLE = os.path.join(REPO_ROOT, "samples", "page.png")
SHIPPED = {"paragraph_segmentation": ("paragraph", ParagraphSegmenter),
           "word_segmentation": ("words", WordDetector),
           "handwriting_line": ("recognition", Recognizer)}
# measured with the shipped models: greedy 3.0%, beam 1.6% CER on the sample page (recogniser v10; v9: 2.2%, 1.6%)
SAMPLE_CER_BOUND = {"greedy": 0.05, "beam": 0.04}


@pytest.mark.parametrize("stem", sorted(SHIPPED))
def test_shipped_card_is_the_current_schema_and_its_model_loads_from_it(stem):
    stage, predictor = SHIPPED[stem]
    with open(os.path.join(MODELS_DIR, stem + ".json"), encoding="utf-8") as f:
        assert json.load(f)["format"] == CARD_FORMAT
    model = predictor.load(stem)
    assert model.card.stage == stage and model.card.parameters > 0
    assert model.card.test_metrics, "a shipped card records its test figures"


@pytest.mark.parametrize("decoder", sorted(SAMPLE_CER_BOUND))
def test_sample_page_reads_within_its_cer_bound(decoder):
    truth = open(os.path.join(REPO_ROOT, "samples", "page.gt.txt"), encoding="utf-8").read().split()
    result = Pipeline.load(decoder=decoder).transcribe(SAMPLE)
    assert result.level == "page" and len(result.lines) == 5
    assert cer([" ".join(result.text.split())], [" ".join(truth)]) <= SAMPLE_CER_BOUND[decoder]


@pytest.mark.parametrize("stem", sorted(SHIPPED))
def test_card_round_trips(stem, tmp_path):
    card = read_card(os.path.join(MODELS_DIR, stem + ".json"))
    write_card(str(tmp_path / "card.json"), card)
    assert read_card(str(tmp_path / "card.json")) == card
    assert ModelCard.from_dict(card.to_dict()) == card


def test_version_1_cards_are_upgraded_with_the_values_of_their_time():
    paragraph = ModelCard.from_dict({
        "format": "ocr-paragraph-segmentation/1", "network": {"input_size": [372, 266]}, "form_size": [1120, 800],
        "normalisation": {"mean": 0.0, "std": 1.0}, "target": {"expand_bb_scale": 0.03}})
    assert paragraph.stage == "paragraph" and paragraph.input.fit_size == (1120, 800)
    assert paragraph.region_growth == 0.03 and paragraph.target_growth == 0.03
    words = ModelCard.from_dict({
        "format": "ocr-word-detector/1", "detection_box": "line", "network": {"image_size": 350},
        "input": {"region_size": [700, 700]}, "box_expansion": 0.05, "detection": {"score_threshold": 0.3}})
    assert (words.stage, words.unit, words.input.encoding, words.region_growth) == ("words", "line", "ink", 0.05)
    recognition = ModelCard.from_dict({
        "format": "ocr-line-recognizer/1", "network": {}, "alphabet": "ab", "blank": 2, "input_size": [60, 1200],
        "normalisation": {"mean": 0.9, "std": 0.2}, "parse_method": "line"})
    assert recognition.alphabet == "ab" and (recognition.input.mean, recognition.input.std) == (0.9, 0.2)


@pytest.mark.parametrize("data, reason", [
    ([], "JSON object"), ({"format": "something/9"}, "unknown model card format"),
    ({"format": "ocr-line-recognizer/1", "network": {}, "normalisation": {}}, "no 'alphabet'"),
    ({"format": CARD_FORMAT, "stage": "nowhere", "network": {}, "input": {"fit_size": [1, 1]}}, "unknown stage"),
    ({"format": CARD_FORMAT, "stage": "recognition", "network": {}, "input": {"fit_size": [1, 1], "stretches": []}},
     "stretches must be positive"),
    ({"format": CARD_FORMAT, "stage": "recognition", "network": {}, "input": {"fit_size": [1, 1], "stretches": 1.1}},
     "not iterable"),
    ({"format": CARD_FORMAT, "stage": "recognition", "network": {},
      "input": {"fit_size": [1, 1], "word_lm_weight": -0.5}}, "word_lm_weight must be a finite weight")])
def test_a_bad_card_is_one_clear_error(data, reason):
    with pytest.raises(CardError, match=reason):
        ModelCard.from_dict(data)


def _fed(page, line):
    """What freshly loaded shipped models make of a page and a line: paragraph input and letterbox, the line's
    fitted image, the detector's boxes and scores on the page, the paragraph's region growth."""
    paragraph = ParagraphSegmenter.load()
    return (*paragraph.prepare(page), Recognizer.load().prepare(line), *WordDetector.load().predict(page),
            paragraph.region_growth)


def test_changing_a_geometry_constant_cannot_change_what_a_shipped_model_is_fed(monkeypatch):
    rng = np.random.default_rng(0)
    page = rng.integers(150, 256, size=(900, 700)).astype(np.uint8)
    page[300:320, 100:600] = 20
    line = rng.integers(150, 256, size=(50, 600)).astype(np.uint8)
    before = _fed(page, line)
    changed = {"FORM_SIZE": (1000, 700), "REGION_SIZE": (600, 600), "LINE_SIZE": (64, 800), "WORD_SIZE": (32, 128),
               "REGION_GROWTH": 0.2, "FORM_BB_EXPAND": 0.2}
    for module in [m for name, m in sys.modules.items() if name == "ocr" or name.startswith("ocr.")]:
        for name, value in changed.items():       # wherever a constant was imported by name, too
            if getattr(module, name, None) == getattr(geometry, name):
                monkeypatch.setattr(module, name, value)
    after = _fed(page, line)
    assert len(before) == len(after) == 6
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


def test_what_a_model_is_fed_follows_its_card():
    line = np.full((50, 600), 255, np.uint8)
    recognizer = Recognizer.load()
    recognizer.card.input.fit_size = (40, 800)
    assert Recognizer(recognizer.net, recognizer.card).prepare(line).shape == (40, 800)
    paragraph = ParagraphSegmenter.load()
    paragraph.card.input.fit_size = (900, 900)
    fitted_box = ParagraphSegmenter(paragraph.net, paragraph.card).prepare(np.full((900, 450), 255, np.uint8))[1]
    assert fitted_box == pytest.approx((0.25, 0.0, 0.5, 1.0))
