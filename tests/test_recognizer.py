"""Line recogniser: network shapes, a tiny model that learns, save/load round trip, inference API, augmentation."""
import cv2
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon
from PIL import Image, ImageDraw, ImageFont

from ocr.core.alphabet import BLANK, NUM_CLASSES, encode
from ocr.recognition.augment import AugmentParams, augment_line, elastic_warp
from ocr.core.geometry import resize_image
from ocr.recognition.net import build_recognizer, sequence_length
from ocr.recognition.widen import widen_recognizer, widen_params
from ocr.recognition.predictor import (Recognizer, agreed_reading, greedy_decode, reading_score, standardise,
                                      stretch_width)
from ocr.core.alphabet import ALPHABET
from ocr.core.card import InputSpec, ModelCard, read_card, write_card
from ocr.core.training import save_params
from ocr.decode.ctc import softmax

TINY = {"width": 1, "rnn_hidden": 16, "rnn_layers": 1, "dropout": 0.1}
TINY_SIZE = (32, 128)


def save_tiny_model(stem, net, size=TINY_SIZE):
    """Write ``net`` as a recogniser model ``stem``.params + ``stem``.json (its card: letterbox ``size``, the
    reference-like normalisation, the alphabet) -> the stem."""
    save_params(net, stem + ".params")
    write_card(stem + ".json", ModelCard(stage="recognition", network=TINY, alphabet=ALPHABET,
                                         input=InputSpec(tuple(size), "grey", mean=0.94, std=0.16)))
    return stem
WORDS = ["ab", "cab", "bad", "dab", "a cb", "bcd", "dc", "cad"]


def render_line(text, size=None):
    """``text`` drawn in PIL's default font, black on white, uint8 (h, w); fitted into ``size`` if given."""
    font = ImageFont.load_default()
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("L", (right + 8, bottom + 8), 255)
    ImageDraw.Draw(image).text((4 - left, 4 - top), text, fill=0, font=font)
    image = np.array(image)
    return resize_image(image, size)[0] if size else image


def tiny_batch(words=WORDS, size=TINY_SIZE):
    """(images (N, 1, H, W) NDArray, labels (N, L) NDArray padded with -1) for ``words``."""
    images = standardise(np.stack([render_line(w, size) for w in words]))
    labels = np.full((len(words), max(map(len, words))), -1, np.float32)
    for row, word in enumerate(words):
        labels[row, :len(word)] = encode(word)
    return mx.nd.array(images), mx.nd.array(labels)


def tiny_net(seed=0):
    mx.random.seed(seed)
    net = build_recognizer(TINY)
    net.initialize(mx.init.Xavier())
    net.hybridize()
    net(mx.nd.zeros((1, 1) + TINY_SIZE))      # settle deferred parameter shapes
    return net


def test_default_network_shape_and_size():
    net = build_recognizer({})
    net.initialize(mx.init.Xavier())
    out = net(mx.nd.zeros((2, 1, 60, 800)))
    assert out.shape == (2, 200, NUM_CLASSES) and sequence_length({}, 800) == 200
    assert sum(p.data().size for p in net.collect_params().values()) < 3_000_000


def test_tiny_model_loss_falls():
    net, (images, labels) = tiny_net(), tiny_batch()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01})
    ctc, losses = gluon.loss.CTCLoss(), []
    for _ in range(25):
        with autograd.record():
            loss = ctc(net(images), labels).mean()
        loss.backward()
        trainer.step(1)
        losses.append(loss.asscalar())
    assert losses[-1] < 0.5 * losses[0]


def test_save_load_round_trip(tmp_path):
    net = tiny_net()
    save_tiny_model(str(tmp_path / "m"), net)
    recognizer = Recognizer.load(str(tmp_path / "m"))
    lines = [render_line(w) for w in WORDS[:3]]
    fitted = np.stack([resize_image(line, TINY_SIZE)[0] for line in lines])
    expected = softmax(net(mx.nd.array(standardise(fitted, 0.94, 0.16))).asnumpy())
    results = recognizer.recognize(lines, batch_size=2)
    np.testing.assert_array_equal(np.stack([probs for _, probs in results]), expected)
    again = Recognizer.load(str(tmp_path / "m.params")).recognize(lines)
    assert all(np.array_equal(a[1], b[1]) and a[0] == b[0] for a, b in zip(results, again))


def test_widened_recogniser_gives_the_same_scores_and_its_new_units_learn():
    network = dict(TINY, rnn_layers=2)          # two layers: the second reads both directions of the first
    mx.random.seed(0)
    net = build_recognizer(network)
    net.initialize(mx.init.Xavier())
    images, labels = tiny_batch()
    net(images)
    with autograd.record():                     # a training step, so the batch-norm statistics are not the defaults
        gluon.loss.CTCLoss()(net(images), labels).mean().backward()
    before = net(images).asnumpy()
    wide, wide_network = widen_recognizer(net, network, TINY_SIZE, rnn_hidden=24, dropout=0.0, width=2)
    assert wide_network == dict(network, rnn_hidden=24, dropout=0.0, width=2)
    np.testing.assert_allclose(wide(images).asnumpy(), before, atol=1e-5)
    classifier = wide.classifier.weight
    assert classifier.shape == (NUM_CLASSES, 48) and not classifier.data()[:, 16:24].asnumpy().any()
    first_conv = wide.trunk[0][0].weight
    assert first_conv.shape[0] == 8 and first_conv.data()[4:].asnumpy().any()     # 4 -> 8 channels, new ones fresh
    trainer = gluon.Trainer(wide.collect_params(), "adam", {"learning_rate": 0.01})
    with autograd.record():
        loss = gluon.loss.CTCLoss()(wide(images), labels).mean()
    loss.backward()
    trainer.step(1)
    assert classifier.data()[:, 16:24].asnumpy().any()      # the new units' outgoing weights moved
    lstm_input_name = "rnn._unfused.0.l_cell.i2h_weight"
    lstm_input = wide._collect_params_with_prefix()[lstm_input_name].data().asnumpy()
    old_features = net._collect_params_with_prefix()[lstm_input_name].shape[1]
    assert lstm_input[:, old_features:].any()               # the LSTM now reads the new channels' features
    with pytest.raises(ValueError):
        widen_params({}, {}, 24, 16)
    with pytest.raises(ValueError):
        widen_recognizer(wide, wide_network, TINY_SIZE, width=1)


def test_recognize_accepts_any_image(tmp_path):
    save_tiny_model(str(tmp_path / "m"), tiny_net())
    recognizer = Recognizer.load(str(tmp_path / "m.json"))
    gray = render_line("abc")
    images = [gray, np.dstack([gray] * 3), gray.astype(np.float32) / 255, np.dstack([gray] * 3 + [gray * 0 + 255]),
              np.full((200, 40), 255, np.uint8)]
    for text, probs in recognizer.recognize(images):
        assert isinstance(text, str)
        assert probs.dtype == np.float32 and probs.shape == (TINY_SIZE[1] // 4, NUM_CLASSES)
        np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
    with pytest.raises(FileNotFoundError):
        Recognizer.load(str(tmp_path / "missing"))


def test_lines_batched_by_width_keep_their_conv_features_and_their_place(tmp_path):
    save_tiny_model(str(tmp_path / "m"), tiny_net())
    recognizer = Recognizer.load(str(tmp_path / "m"))
    recognizer.margin = 8
    lines = [render_line(w) for w in ("a", "dab cab", "ab")]
    full, narrow = recognizer.recognize(lines), recognizer.recognize(lines, batch_size=1, by_width=True)
    assert [len(p) for _, p in full] == [32] * 3 and len(narrow[0][1]) < len(narrow[1][1]) <= 32
    trunk = recognizer.net.trunk
    for line, (_, probs) in zip(lines, narrow):
        left, width, window = recognizer.content_span(line.shape, len(probs))
        assert window == 4 * len(probs) and left >= recognizer.margin and left + width <= window - recognizer.margin
        fitted = standardise([recognizer.prepare(line)])
        cut = (TINY_SIZE[1] - window) // 2
        inner = slice(cut // 4 + 6, (cut + window) // 4 - 6)       # away from the window's edges (receptive field)
        np.testing.assert_allclose(trunk(mx.nd.array(fitted[..., cut:cut + window])).asnumpy()[..., 6:-6],
                                   trunk(mx.nd.array(fitted)).asnumpy()[..., inner], atol=1e-5)


def test_stretch_width_scales_the_width_only():
    line = render_line("dab cab")
    assert stretch_width(line, 1.0) is line
    assert stretch_width(line, 1.5).shape == (line.shape[0], round(1.5 * line.shape[1]))
    assert stretch_width(line, 0.5).shape == (line.shape[0], round(0.5 * line.shape[1]))


def test_read_lines_keeps_the_reading_its_stretches_agree_on(tmp_path, monkeypatch):
    save_tiny_model(str(tmp_path / "m"), tiny_net())
    recognizer = Recognizer.load(str(tmp_path / "m"))
    lines = [render_line(w) for w in ("dab cab", "ab")]
    once = recognizer.read_lines(lines)                                  # a card without stretches: read as given
    assert (recognizer.stretches, recognizer.vote_below) == ((1.0,), None)
    assert [shape for _, _, shape in once] == [line.shape for line in lines]
    for (text, probs, _), (given_text, given_probs) in zip(once, recognizer.recognize(lines)):
        assert text == given_text and np.array_equal(probs, given_probs)

    card = read_card(str(tmp_path / "m.json"))
    card.input.stretches = (1.0, 1.5, 2.0)
    write_card(str(tmp_path / "m.json"), card)
    assert Recognizer.load(str(tmp_path / "m")).stretches == (1.0,)            # the card's widths only when asked
    recognizer = Recognizer.load(str(tmp_path / "m"), widths=True)
    assert recognizer.stretches == (1.0, 1.5, 2.0)
    seen, choices = [], iter([2, 0])

    def vote(readings, jury=3):
        seen.append(len(readings))
        return next(choices)
    monkeypatch.setattr("ocr.recognition.predictor.agreed_reading", vote)
    read = recognizer.read_lines(lines)                                  # vote_below None: every line votes
    assert seen == [3, 3]                                                # each line among its 3 widths
    assert read[0][2] == (lines[0].shape[0], round(2.0 * lines[0].shape[1]))     # the width it kept
    assert read[1][2] == lines[1].shape
    np.testing.assert_array_equal(read[0][1], recognizer.recognize([stretch_width(lines[0], 2.0)])[0][1])

    scores = [reading_score(probs) for _, probs in recognizer.recognize(lines)]
    recognizer.vote_below = (min(scores) + max(scores)) / 2             # only the less sure line votes
    seen.clear()
    choices = iter([1])
    read = recognizer.read_lines(lines)
    unsure = int(np.argmin(scores))
    assert seen == [3]
    assert read[unsure][2] == (lines[unsure].shape[0], round(1.5 * lines[unsure].shape[1]))
    assert read[1 - unsure][2] == lines[1 - unsure].shape


def test_greedy_decode_collapses_repeats_and_drops_blanks():
    a, b = encode("ab")
    path = [a, a, BLANK, a, b, b, BLANK, BLANK]
    assert greedy_decode(np.eye(NUM_CLASSES)[path]) == "aab"


def test_agreed_reading_prefers_the_text_several_sizes_support():
    def reading(text, sure):
        """text (one character a step, then blanks) read with probability ``sure``: (text, probs (10, C))."""
        probs = np.full((10, NUM_CLASSES), (1 - sure) / (NUM_CLASSES - 1), np.float32)
        probs[np.arange(10), list(encode(text)) + [BLANK] * (10 - len(text))] = sure
        return text, probs
    loner, backed = reading("xy", 0.99), [reading("ab", 0.8), reading("ab", 0.7)]
    readings = [loner, *backed, reading("zz", 0.3)]
    assert max(range(4), key=lambda k: reading_score(readings[k][1])) == 0      # the surest alone is wrong
    assert agreed_reading(readings) == 1                                         # two jurors of three back 'ab'
    assert agreed_reading([loner, backed[0]], jury=1) == 0                      # a jury of one: the surest
    assert agreed_reading(readings, prior=lambda text: 0.0) == 1
    assert agreed_reading(readings, prior=lambda text: 100.0 * (text == "zz")) == 3   # a strong prior decides


def test_augment_is_deterministic_and_keeps_shape():
    line = render_line("hello world", (60, 800))
    out1 = augment_line(line, np.random.default_rng(3))
    out2 = augment_line(line, np.random.default_rng(3))
    out3 = augment_line(line, np.random.default_rng(4))
    assert out1.shape == line.shape and out1.dtype == np.uint8
    np.testing.assert_array_equal(out1, out2)
    assert not np.array_equal(out1, out3)


def test_elastic_warp_moves_ink_by_at_most_its_amplitude():
    line = np.full((60, 800), 255, np.uint8)
    line[28:32, 398:402] = 0                            # a 4x4 dot, centre (400, 30)
    np.testing.assert_array_equal(elastic_warp(line, np.random.default_rng(0), 0.0), line)
    moved = []
    for seed in range(20):
        ys, xs = np.nonzero(elastic_warp(line, np.random.default_rng(seed), 3.0) < 128)
        assert len(xs) > 0
        moved.append(max(abs(xs.mean() - 399.5), abs(ys.mean() - 29.5)))
    # the field is drawn in [-3, 3] and interpolated (cubic: a little overshoot)
    assert max(moved) <= 3 * 1.3 and max(moved) > 0.5


def test_augment_keeps_ink_inside():
    line = np.full((60, 800), 255, np.uint8)
    for y, x in [(5, 2), (5, 786), (43, 2), (43, 786)]:   # four blobs in the corners of the ink box
        line[y:y + 12, x:x + 12] = 0
    strong = AugmentParams(translate_x=0.2, translate_y=0.2, scale_x=0.3, scale_y=0.3, shear=0.7, stroke=0,
                           blur=0, noise=0, contrast=0, background=0, gamma=1)
    for seed in range(10):
        out = augment_line(line, np.random.default_rng(seed), strong)
        count, labels = cv2.connectedComponents((out < 128).astype(np.uint8))
        assert count - 1 == 4                            # no blob pushed out of the image
        assert all((labels == i).sum() > 40 for i in range(1, count))


def test_augment_thickens_ink_up_to_stroke_px():
    line = np.full((60, 800), 255, np.uint8)
    line[20:40, 100:700:20] = 0                         # 1-px vertical strokes
    only_stroke = AugmentParams(translate_x=0, translate_y=0, scale_x=0, scale_y=0, shear=0, gamma=1, elastic=0,
                                stroke=1, stroke_px=5, blur=0, noise=0, contrast=0, background=0)
    widths = set()
    for seed in range(40):
        out = augment_line(line, np.random.default_rng(seed), only_stroke)
        widths.add(int((out[30, 90:110] < 128).sum()))
    assert widths <= {0, 2, 3, 4, 5} and {0, 5} <= widths   # thinned away (dilate) or thickened up to 5 px
