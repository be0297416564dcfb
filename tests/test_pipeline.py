"""Full-page pipeline: image reading (formats, bad files), illumination normalisation, word boxes from the CTC
alignment, the Python API and the CLI (outputs, errors, levels, overwrite) on tiny untrained models written to a
temporary folder, so nothing here depends on the shipped weights."""
import json
import os
import struct
import zlib

import cv2
import mxnet as mx
import numpy as np
import pytest
from lxml import etree
from PIL import Image

from ocr import pipeline as cli
from ocr.core.alphabet import ALPHABET, NUM_CLASSES, encode
from ocr.core.images import ImageError, read_image
from ocr.decode import get_decoder
from ocr.decode.greedy import decode_greedy
from ocr.metrics import cer
from ocr.paragraph.net import build_paragraph_net
from ocr.recognition.net import build_recognizer
from ocr.words.net import build_ssd
from ocr.pipeline.outputs import ALTO_NS, PAGE_NS
from ocr.core.paths import REPO_ROOT
from ocr.pipeline.cli import load_pipeline
from ocr.pipeline.distributed import PipelineOptions
from ocr.pipeline.pipeline import Pipeline
from ocr.recognition.predictor import Recognizer
from ocr.core.ink import normalise_illumination
from ocr.pipeline.word_boxes import aligned_word_boxes
from ocr.core.card import InputSpec, ModelCard, read_card, write_card
from ocr.core.training import save_params

PARAGRAPH = {"input_size": [96, 64], "stem_channels": 4, "channels": [4, 4], "context_channels": 4, "dilations": [2],
             "profile_channels": 4, "dropout": 0.0}
DETECTOR = {"width": 1, "image_size": 64, "anchors": [[(0.2, 0.06), (0.3, 0.06)], [(0.4, 0.08)], [], [], []]}
RECOGNIZER = {"width": 1, "rnn_hidden": 8, "rnn_layers": 1, "dropout": 0.0}
LINE_INPUT = (32, 128)
PARAGRAPH_BOX = (0.1, 0.15, 0.8, 0.7)       # what the tiny paragraph net always answers (fractions of the page)


def _initialised(net, shape, seed):
    mx.random.seed(seed)
    net.initialize(mx.init.Xavier())
    net(mx.nd.zeros(shape))                  # settle deferred parameter shapes
    return net


def write_models(folder, stages=("paragraph", "detector", "recognizer")):
    """Write tiny untrained models for ``stages`` into ``folder`` under the shipped names (as the training CLIs
    write them: <name>.params + <name>.json). The paragraph net answers PARAGRAPH_BOX for every page; the
    detector keeps its 12 best boxes whatever their score."""
    os.makedirs(folder, exist_ok=True)
    if "paragraph" in stages:
        net = _initialised(build_paragraph_net(PARAGRAPH), (1, 1, 96, 64), 0)
        x, y, w, h = PARAGRAPH_BOX
        for scorer, prior, edges in ((net.rows, net.row_prior, (y, y + h)),
                                     (net.columns, net.column_prior, (x, x + w))):
            last = scorer[-1]
            last.weight.set_data(mx.nd.zeros(last.weight.shape))    # the edges come from the prior alone: all
            last.bias.set_data(mx.nd.zeros(last.bias.shape))        # the softmax mass on the two cells whose
            logits = np.full(prior.shape, -30.0, np.float32)        # centres bracket the edge, so that the
            for k, edge in enumerate(edges):                        # soft-argmax is the edge exactly
                cell, frac = divmod(edge * prior.shape[2] - 0.5, 1.0)
                logits[0, k, int(cell):int(cell) + 2] = np.log([1 - frac, frac])
            prior.set_data(mx.nd.array(logits))
        save_params(net, os.path.join(folder, "paragraph_segmentation.params"))
        write_card(os.path.join(folder, "paragraph_segmentation.json"),
                   ModelCard(stage="paragraph", network=PARAGRAPH, input=InputSpec((1120, 800)), region_growth=0.03))
    if "detector" in stages:
        net = _initialised(build_ssd(DETECTOR), (1, 1, 64, 64), 1)
        save_params(net, os.path.join(folder, "word_segmentation.params"))
        write_card(os.path.join(folder, "word_segmentation.json"),
                   ModelCard(stage="words", network=DETECTOR, input=InputSpec((700, 700), "ink"),
                             detection={"score_threshold": 0.0, "topk": 12}))
    if "recognizer" in stages:
        net = _initialised(build_recognizer(RECOGNIZER), (1, 1) + LINE_INPUT, 2)
        save_params(net, os.path.join(folder, "handwriting_line.params"))
        write_card(os.path.join(folder, "handwriting_line.json"),
                   ModelCard(stage="recognition", network=RECOGNIZER, alphabet=ALPHABET,
                             input=InputSpec(LINE_INPUT, "grey", mean=0.94, std=0.16)))
    return str(folder)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return write_models(tmp_path_factory.mktemp("models"))


def fake_page(height=300, width=240, seed=0):
    """A uint8 gray page: light paper with a few dark ink strokes in rows, like lines of words."""
    rng = np.random.default_rng(seed)
    page = np.full((height, width), 235, np.uint8)
    for row in range(60, height - 60, 30):
        x = 30
        while x < width - 60:
            w = int(rng.integers(15, 40))
            cv2.line(page, (x, row), (x + w, row + int(rng.integers(-3, 4))), 30, 2)
            x += w + 12
    return page


def save(path, array, **kwargs):
    Image.fromarray(array).save(path, **kwargs)
    return str(path)


def png_header_only(path, width, height):
    """A PNG file whose header claims ``width`` x ``height`` (8-bit gray) over a few bytes of pixel data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return str(path)


# ---- reading images -------------------------------------------------------------------------------------------

def test_read_image_formats(tmp_path):
    page = fake_page(64, 80)
    gray16 = page.astype(np.uint16) * 257
    rgba = np.dstack([np.stack([page] * 3, axis=2), np.full(page.shape, 255, np.uint8)])
    rgba[:10, :, 3] = 0                                         # transparent band -> the paper's grey
    paths = {
        "png16": save(tmp_path / "g16.png", gray16),
        "rgba": save(tmp_path / "rgba.png", rgba),
        "tiff": save(tmp_path / "p.tif", np.stack([page] * 3, axis=2)),
        "tiff16": save(tmp_path / "g16.tif", gray16),
        "jpeg": save(tmp_path / "p.jpg", np.stack([page] * 3, axis=2), quality=95),
        "bmp": save(tmp_path / "p.bmp", page),
        "palette": str(tmp_path / "p_palette.png"),
    }
    Image.fromarray(page).convert("P").save(paths["palette"])
    for kind, path in paths.items():
        image = read_image(path)
        assert image.dtype == np.uint8 and image.shape == page.shape, kind
        tolerance = 12 if kind == "jpeg" else 1
        assert np.abs(image[10:].astype(int) - page[10:]).max() <= tolerance, kind
    transparent = read_image(paths["rgba"])[:10]
    assert transparent.min() == transparent.max() == int(np.median(page[10:]))


def test_transparent_pixels_take_the_paper_grey_or_white(tmp_path):
    cut_out = np.full((40, 60, 4), 190, np.uint8)               # a line cut out of a grey scan with a polygon
    cut_out[:, :, 3] = 255
    cut_out[:, :20, 3] = 0
    cut_out[15:25, 30:50, :3] = 30
    assert set(np.unique(read_image(save(tmp_path / "cut.png", cut_out)))) == {30, 190}
    ink_only = np.zeros((40, 60, 4), np.uint8)                  # dark strokes on a transparent canvas
    ink_only[15:25, 30:50, 3] = 255
    assert set(np.unique(read_image(save(tmp_path / "ink.png", ink_only)))) == {0, 255}


@pytest.mark.parametrize("make, message", [
    (lambda d: str(d / "missing.png"), "no such file"),
    (lambda d: (d / "notes.png").write_text("not a picture") and str(d / "notes.png"), "not an image"),
    (lambda d: png_header_only(d / "zero.png", 0, 0), "not an image"),
    (lambda d: save(d / "one.png", np.zeros((1, 1), np.uint8)), "1x1 pixels, too small"),
    (lambda d: png_header_only(d / "huge.png", 30000, 30000),
     r"30000x30000 pixels \(900 megapixels\), above the limit"),
], ids=["missing", "not-an-image", "0x0", "1x1", "30000x30000"])
def test_read_image_refuses_bad_files(tmp_path, make, message):
    with pytest.raises(ImageError, match=message) as error:
        read_image(make(tmp_path))
    assert "\n" not in str(error.value)


def test_read_image_truncated(tmp_path):
    path = save(tmp_path / "full.png", np.random.default_rng(0).integers(0, 255, (200, 200), dtype=np.uint8))
    data = open(path, "rb").read()
    open(tmp_path / "cut.png", "wb").write(data[:len(data) // 2])
    with pytest.raises(ImageError, match="truncated"):
        read_image(str(tmp_path / "cut.png"))


# ---- normalisation and word boxes -----------------------------------------------------------------------------

def test_normalise_illumination_flattens_shading_and_keeps_ink():
    clean = fake_page(400, 300)
    shading = np.linspace(0.45, 1.0, 300, dtype=np.float32)[None, :]     # a photo lit from the right
    flat = normalise_illumination((clean * shading).astype(np.uint8))
    paper, ink = clean > 200, clean < 100
    assert flat.shape == clean.shape and flat.dtype == np.uint8
    assert np.percentile(flat[paper], 1) > 215 and flat[paper].std() < 4        # even paper, brightened to 220
    assert np.median(flat[ink]) < 60                                            # ink stays dark
    assert np.abs(normalise_illumination(clean).astype(int) - clean)[paper].max() <= 1   # a clean scan is kept
    assert np.ptp(normalise_illumination(np.full((300, 200), 180, np.uint8))) == 0       # a blank page stays blank


def test_aligned_word_boxes_follow_the_ctc_alignment():
    steps, blank = 32, NUM_CLASSES - 1
    probs = np.full((steps, NUM_CLASSES), 1e-4, np.float32)
    probs[:, blank] = 1.0
    for t, char in ((4, "a"), (5, "b"), (8, " "), (20, "c")):       # "ab" at steps 4-5, "c" at step 20
        probs[t, blank], probs[t, ALPHABET.index(char)] = 1e-4, 1.0
    probs /= probs.sum(axis=1, keepdims=True)
    # a 32 x 128 line at (10, 20) in the page: the fitted input is the line itself, 4 pixels per step
    boxes = aligned_word_boxes("ab c", probs, (10, 20, 128, 32), (0, 128, 128))
    assert boxes == [(10 + 3 * 4, 20, 4 * 4, 32), (10 + 19 * 4, 20, 3 * 4, 32)]
    for decode in (decode_greedy, get_decoder("beam", lm=None)):          # the decoder's own alignment, reused
        decoded = decode(probs)
        assert decoded.text == "ab c" and decoded.path is not None
        assert aligned_word_boxes("ab c", probs, (10, 20, 128, 32), (0, 128, 128), decoded.path) == boxes


def test_aligned_word_boxes_of_a_narrowed_input_land_where_the_full_letterbox_puts_them():
    steps, blank = 32, NUM_CLASSES - 1
    probs = np.full((steps, NUM_CLASSES), 1e-4, np.float32)
    probs[:, blank] = 1.0
    for t, char in ((12, "a"), (13, "b"), (15, " "), (19, "c")):
        probs[t, blank], probs[t, ALPHABET.index(char)] = 1e-4, 1.0
    probs /= probs.sum(axis=1, keepdims=True)
    # a 16 x 32 line fitted into 32 x 128: 64 px wide at x = 32; the recogniser ran it 4 steps (16 px) narrower
    # each side, where the same letters come at the same place of the line, 4 steps earlier
    line_box = (10, 20, 32, 16)
    full = aligned_word_boxes("ab c", probs, line_box, (32, 64, 128))
    assert aligned_word_boxes("ab c", probs[4:-4], line_box, (16, 64, 96)) == full
    assert full == [(10 + 6, 20, 8, 16), (10 + 20, 20, 6, 16)]


def test_shipped_models_read_part_lines_alike_batched_by_width_and_word_boxes_land_on_the_words():
    pipeline = Pipeline.load("greedy", level="page")
    page = pipeline.prepare_page(os.path.join(REPO_ROOT, "samples", "page.png"), "page").image
    crops, words = [], []
    for (x, y, w, h), boxes in pipeline.layout(page, "page")[1][:4]:
        for k in (2, 4, 6):                   # the line's first k detected words: lines of different lengths
            first = sorted(boxes)[:k]
            crops.append(page[y:y + h, x:first[-1][0] + first[-1][2] + 4])
            words.append([(bx - x, bx - x + bw) for bx, _, bw, _ in first])
    narrow = pipeline.recognizer.recognize(crops, batch_size=3, by_width=True)
    assert min(len(p) for _, p in narrow) < 300
    # the net was trained on full letterboxes: less paper moves a few letters (see ocr.recognition.predictor.MARGIN); v8 read
    # 10 of these 12 crops alike (CER between the readings 1.0%), v9 (more real hands, still full letterboxes) 7
    texts, full = [t for t, _ in narrow], [t for t, _ in pipeline.recognizer.recognize(crops)]
    assert sum(a == b for a, b in zip(texts, full)) >= 0.5 * len(crops) and cer(texts, full) < 0.05
    for crop, expected, (text, probs) in zip(crops, words, narrow):
        if len(text.split()) == len(expected):
            content = pipeline.recognizer.content_span(crop.shape, len(probs))
            for (bx, _, bw, _), (x1, x2) in zip(aligned_word_boxes(text, probs, (0, 0, crop.shape[1], 10), content),
                                                 expected):
                assert x1 <= bx + bw / 2 <= x2      # each word box's centre lies in its detected word


# ---- Python API -----------------------------------------------------------------------------------------------

def test_transcribe_page_boxes_inside_the_page(models):
    pipeline = Pipeline.load("greedy", level="page", models_dir=models)
    page = fake_page(360, 280)
    result = pipeline.transcribe(np.dstack([page] * 3), level="page")
    x, y, w, h = result.region
    assert (result.width, result.height) == (280, 360)
    expected = cv2.boundingRect(np.array([[280 * 0.1, 360 * 0.15], [280 * 0.9, 360 * 0.85]], np.float32))
    assert abs(x - expected[0]) <= 12 and abs(w - expected[2]) <= 24
    assert result.lines, "the tiny models should give some lines"
    for line in result.lines:
        assert line.text.strip() and 0 <= line.confidence <= 1
        assert [word.text for word in line.words] == line.text.split()
        for box in [line.box] + [word.box for word in line.words]:
            bx, by, bw, bh = box
            assert 0 <= bx and 0 <= by and bx + bw <= 280 and by + bh <= 360
    lines = pipeline.transcribe_lines(page, "page")
    assert len(lines) >= len(result.lines)
    assert all(isinstance(text, str) and probs.shape[1] == NUM_CLASSES for text, probs in lines)


def test_level_line_needs_only_the_recogniser(tmp_path):
    folder = write_models(tmp_path / "only_line", stages=("recognizer",))
    pipeline = Pipeline.load("greedy", level="line", models_dir=folder)
    assert pipeline.paragraph is None and pipeline.detector is None
    line = fake_page(160, 200)[40:80]                                          # one row of strokes
    result = pipeline.transcribe(line, level="line")
    ys, xs = np.nonzero(line < 128)
    x, y, w, h = result.region                                 # the line's ink with a margin, inside the image
    assert x <= xs.min() and y <= ys.min() and x + w > xs.max() and y + h > ys.max()
    assert 0 <= x and 0 <= y and x + w <= 200 and y + h <= 40
    assert all(line.box == result.region for line in result.lines)
    with pytest.raises(cli.MissingModelError, match="paragraph segmentation"):
        pipeline.transcribe(fake_page(), level="page")
    with pytest.raises(cli.MissingModelError, match="paragraph segmentation model .*paragraph_segmentation.params"):
        Pipeline.load("greedy", models_dir=folder)


def test_lines_are_read_at_the_cards_stretches_with_widths(tmp_path, monkeypatch):
    folder = write_models(tmp_path / "stretched", stages=("recognizer",))
    card_path = os.path.join(folder, "handwriting_line.json")
    card = read_card(card_path)
    card.input.stretches = (1.0, 1.3, 1.6)
    write_card(card_path, card)
    read = []
    monkeypatch.setattr(Recognizer, "recognize", lambda self, images, batch_size=16, by_width=False: [
        read.append(np.shape(image)) or ("ab cd ef", np.eye(NUM_CLASSES, dtype=np.float32)[:8]) for image in images])
    line = np.full((40, 200), 235, np.uint8)
    line[15:25, 20:180:12] = 30                                     # a row of 14 strokes: a line, not a word
    counts = []
    for widths, factors in ((True, (1.0, 1.3, 1.6)), (False, (1.0,))):
        read.clear()
        pipeline = Pipeline.load("greedy", level="line", models_dir=folder, widths=widths)
        assert pipeline.recognizer.stretches == factors
        pipeline.transcribe(line, level="line")
        counts.append(len(read))
        widths = [width for _, width in read[-len(factors):]]           # the line read at each of its widths
        assert len({height for height, _ in read[-len(factors):]}) == 1
        assert widths == [round(f * widths[0]) for f in factors]
    assert counts[0] - counts[1] == 2                        # without widths: the same reads, but one for the line
    args = cli.parse_args(["line.png", "--widths", "--models", folder, "--level", "line"])
    assert args.widths and load_pipeline(args).recognizer.stretches == (1.0, 1.3, 1.6)
    assert load_pipeline(cli.parse_args(["line.png", "--models", folder, "--level", "line"])).recognizer.stretches == (1.0,)
    assert PipelineOptions.from_args(args).widths and not PipelineOptions.from_args(cli.parse_args(["x.png"])).widths


def test_a_lone_word_is_chosen_with_the_character_lm_as_its_card_says(tmp_path, monkeypatch):
    folder = write_models(tmp_path / "words", stages=("recognizer",))
    card_path = os.path.join(folder, "handwriting_line.json")

    def reading(text, sure):
        probs = np.full((8, NUM_CLASSES), (1 - sure) / (NUM_CLASSES - 1), np.float32)
        probs[np.arange(8), list(encode(text)) + [NUM_CLASSES - 1] * (8 - len(text))] = sure
        return text, probs
    sizes = [reading("tbe", 0.95)] * 3 + [reading("the", 0.6)] * 3          # the surest sizes misread a letter
    monkeypatch.setattr(Recognizer, "recognize", lambda self, images, batch_size=16, by_width=False: sizes[:len(images)])
    word = np.full((40, 90), 235, np.uint8)
    word[12:28, 10:80:14] = 30
    texts = []
    for weight in (0.0, 5.0):
        card = read_card(card_path)
        card.input.word_lm_weight = weight
        write_card(card_path, card)
        pipeline = Pipeline.load("greedy", level="word", models_dir=folder)
        assert (pipeline.word_text_prior() is None) == (weight == 0)
        texts.append(pipeline.transcribe(word, level="word").text)
    assert texts == ["tbe", "the"]


def test_the_word_prior_tuner_runs_no_image_through_the_net_twice():
    from tests.conftest import utils_script
    tuner = utils_script("tune_word_prior")
    calls = []

    class Counting:
        def recognize(self, images, batch_size=16, by_width=False):
            calls.append(len(images))
            return [("x%d" % int(image.sum()), None) for image in images]
    recognizer = Counting()
    tuner.cache_recognizer(recognizer)
    a, b = np.zeros((4, 5), np.uint8), np.ones((4, 5), np.uint8)
    assert [t for t, _ in recognizer.recognize([a, b])] == ["x0", "x20"]
    assert [t for t, _ in recognizer.recognize([b, a, np.ones((5, 4), np.uint8)])] == ["x20", "x0", "x20"]
    assert calls == [2, 1]                                       # only the new shape was run


# ---- CLI ------------------------------------------------------------------------------------------------------

def run_cli(capsys, *argv):
    """(exit status, stdout, stderr lines) of ``python -m ocr.pipeline argv``."""
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err.splitlines()


def test_cli_bad_inputs_one_line_each_and_the_others_go_on(models, tmp_path, capsys):
    d = tmp_path
    good = save(d / "good.png", fake_page())
    blank = save(d / "blank.png", np.full((200, 150), 255, np.uint8))
    (d / "notes.png").write_text("not a picture")
    data = open(good, "rb").read()
    (d / "cut.png").write_bytes(data[:len(data) // 3])
    bad = [d / "missing.png", d / "notes.png", d / "cut.png", png_header_only(d / "zero.png", 0, 0),
           save(d / "one.png", np.zeros((1, 1), np.uint8)), png_header_only(d / "huge.png", 30000, 30000)]
    status, out, err = run_cli(capsys, bad[0], good, *bad[1:], blank, "--models", models, "--decoder", "greedy")
    assert status == 1
    assert len(err) == len(bad)
    for path, line in zip(bad, err):
        assert line.startswith("error: %s: " % path)
    assert "==> %s <==" % good in out and "==> %s <==" % blank in out
    assert "Traceback" not in out + "".join(err)
    status, out, err = run_cli(capsys, good, "--models", models, "--decoder", "greedy")
    assert status == 0 and err == [] and "==>" not in out


def test_cli_missing_model_one_line_exit_2(tmp_path, capsys):
    folder = write_models(tmp_path / "m", stages=("recognizer",))
    image = save(tmp_path / "line.png", fake_page(40, 200))
    status, _, err = run_cli(capsys, image, "--models", folder)
    assert status == 2 and len(err) == 1 and "paragraph segmentation model" in err[0]
    status, _, err = run_cli(capsys, image, "--models", folder, "--level", "region")
    assert status == 2 and len(err) == 1 and "word detector model" in err[0]
    status, out, err = run_cli(capsys, image, "--models", folder, "--level", "line", "--decoder", "greedy")
    assert status == 0 and err == [] and len(out.splitlines()) <= 1
    with open(os.path.join(folder, "handwriting_line.json"), "w") as f:
        f.write("{")                                                   # a damaged model file
    status, _, err = run_cli(capsys, image, "--models", folder, "--level", "line")
    assert status == 2 and len(err) == 1 and err[0].startswith("error: cannot load the recogniser model")


def test_cli_out_files_and_no_overwrite(models, tmp_path, capsys):
    image = save(tmp_path / "scan.png", fake_page())
    out = tmp_path / "out"
    status, printed, err = run_cli(capsys, image, "--out", out, "--format", "page-xml", "--decoder", "greedy",
                                   "--models", models, "--level", "page")
    assert status == 0 and err == []
    assert sorted(os.listdir(out)) == ["scan.json", "scan.txt", "scan.xml", "scan_boxed.png"]
    doc = json.loads((out / "scan.json").read_text())
    assert {"file", "width", "height", "level", "decoder", "units", "text", "region", "lines"} <= set(doc)
    assert (doc["width"], doc["height"], doc["level"], doc["decoder"]) == (240, 300, "page", "greedy")
    assert doc["lines"] and doc["text"] == "\n".join(line["text"] for line in doc["lines"])
    assert (out / "scan.txt").read_text() == doc["text"] + "\n" == printed
    boxes = [doc["region"]] + [line["box"] for line in doc["lines"]] + \
            [word["box"] for line in doc["lines"] for word in line["words"]]
    for x, y, w, h in boxes:
        assert 0 <= x and 0 <= y and x + w <= 240 and y + h <= 300
    for line in doc["lines"]:
        assert {"box", "text", "confidence", "words"} == set(line)
        assert all({"box", "text", "confidence"} == set(word) for word in line["words"])
    xml = etree.parse(str(out / "scan.xml")).getroot()
    assert xml.tag == "{%s}PcGts" % PAGE_NS
    assert len(xml.findall(".//{%s}TextLine" % PAGE_NS)) == len(doc["lines"])
    assert xml.find(".//{%s}Word/{%s}TextEquiv/{%s}Unicode" % ((PAGE_NS,) * 3)) is not None
    # the drawing is the page beside a panel with the text
    assert cv2.imread(str(out / "scan_boxed.png")).shape == (300, 480, 3)

    before = {name: (out / name).read_bytes() for name in os.listdir(out)}
    status, _, err = run_cli(capsys, image, "--out", out, "--format", "page-xml", "--models", models)
    assert status == 0 and len(err) == 1 and "already done" in err[0] and "--overwrite" in err[0]   # resumed
    assert before == {name: (out / name).read_bytes() for name in os.listdir(out)}
    status, _, err = run_cli(capsys, image, "--out", out, "--format", "alto", "--decoder", "greedy",
                             "--models", models, "--overwrite", "--level", "page")
    assert status == 0 and err == []
    alto = etree.parse(str(out / "scan.xml")).getroot()
    assert alto.tag == "{%s}alto" % ALTO_NS
    strings = alto.findall(".//{%s}String" % ALTO_NS)
    assert [s.get("CONTENT") for s in strings] == [w["text"] for line in doc["lines"] for w in line["words"]]
    assert not [name for name in os.listdir(out) if name.endswith(".tmp")]


def test_cli_json_to_stdout_and_default_beam_decoder(models, tmp_path, capsys):
    image = save(tmp_path / "p.jpg", np.dstack([fake_page()] * 3))
    status, out, err = run_cli(capsys, image, "--format", "json", "--level", "region", "--models", models)
    assert status == 0 and err == []
    doc = json.loads(out)
    assert doc["decoder"] == "beam" and doc["level"] == "region" and doc["region"] == [0, 0, 240, 300]
