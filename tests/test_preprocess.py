"""ocr.pipeline.preprocess and the pipeline's auto level, on images drawn here (cv2 Hershey text; no model needed)."""
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from ocr.core import ink
from ocr.pipeline import preprocess as pp
from ocr.core.alphabet import ALPHABET
from ocr.core.card import InputSpec
from ocr.core.geometry import fit_geometry
from ocr.decode.ctc import Decoded
from ocr.pipeline.pipeline import Pipeline

WORDS = "The kind bold fish had thick light ballads"


def text_image(lines, scale=1.4, thickness=2, line_gap=60, width=None):
    """uint8 gray (H, W): ``lines`` of black Hershey text on white paper, left-aligned, 40 px margins."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    width = width or max(cv2.getTextSize(t, font, scale, thickness)[0][0] for t in lines) + 80
    image = np.full((len(lines) * line_gap + 60, width), 255, np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(image, text, (40, 60 + i * line_gap), font, scale, 0, thickness, cv2.LINE_AA)
    return image


def form_image():
    """A page with a printed rule above and below three lines of text (a form)."""
    page = np.full((900, 1200), 255, np.uint8)
    page[150:153, 60:1140] = 0
    page[700:703, 60:1140] = 0
    page[200:440] = text_image([WORDS] * 3, width=1200)[:240]
    return page


def tilt(gray, degrees):
    matrix, shape = pp.rotation_matrix(gray.shape, 0, degrees)
    return pp.warp(gray, matrix, shape)


def test_polarity_reads_white_on_black_as_black_on_white():
    image = text_image([WORDS])
    assert not pp.fix_polarity(image)[1]
    flipped, inverted = pp.fix_polarity(255 - image)
    assert inverted and np.array_equal(flipped, image)
    dim = (image // 3 + 60).astype(np.uint8)            # a dim photo: grey paper, dark ink, still dark on light
    assert not pp.is_light_on_dark(dim)


def test_a_word_crop_that_blurred_ink_mostly_fills_stays_dark_on_light_with_paper_margins():
    word = text_image(["mean"], scale=1.2, thickness=6)
    x, y, w, h = pp.ink_box(pp.ink_mask(word))
    crop = cv2.GaussianBlur(word[y - 2:y + h + 2, x - 2:x + w + 2], (0, 0), 1.5)
    assert ink.grey_median(crop) < 128                                  # most of it is ink
    assert not pp.is_light_on_dark(crop) and not pp.fix_polarity(crop)[1]
    assert pp.is_light_on_dark(255 - text_image(["mean"]))             # a dark page with light writing still is
    flat = ink.normalise_illumination(crop)                             # as the pipeline reads it
    cut = ink.crop_to_ink(crop, ink.WORD_MARGIN)
    assert cut[0, 0] == ink.edge_grey(flat) > 200                       # margins of its paper, not of its median
    assert pp.normalise_page(flat, level="word").image[0, 0] == cut[0, 0]


@pytest.mark.parametrize("page", [np.full((600, 400), 255, np.uint8), np.zeros((600, 400), np.uint8),
                                  np.clip(np.random.default_rng(0).normal(235, 4, (600, 400)), 0, 255)
                                  .astype(np.uint8)])
def test_blank_black_and_noisy_pages_are_blank(page):
    assert pp.normalise_page(pp.fix_polarity(page)[0]).blank


def test_text_is_not_blank():
    prepared = pp.normalise_page(text_image(["a b"]))
    assert not prepared.blank and prepared.level in ("line", "word")


@pytest.mark.parametrize("degrees", [-15, -5, 2, 10, 15])
def test_skew_is_measured_both_ways(degrees):
    mask = pp.ink_mask(tilt(text_image([WORDS] * 4), degrees))
    turns, skew, _ = pp.estimate_orientation(mask)[0]
    assert turns == 0 and abs(skew + degrees) <= 0.5


@pytest.mark.parametrize("quarter_turns", [1, 3])
def test_text_running_down_is_found(quarter_turns):
    mask = pp.ink_mask(np.rot90(text_image([WORDS] * 3), quarter_turns))
    turns, skew, score = pp.estimate_orientation(mask)[0]
    assert turns == 1 and abs(skew) <= 0.5 and score > 2 * pp.estimate_orientation(mask)[1][2]


def test_upside_down_from_ascenders():
    mask = pp.ink_mask(text_image([WORDS] * 3))
    assert pp.upside_down_score(mask) < 0 < pp.upside_down_score(mask[::-1, ::-1])


@pytest.mark.parametrize("quarter_turns", [0, 1, 2, 3])
def test_normalise_page_turns_every_orientation_upright(quarter_turns):
    image = text_image([WORDS] * 3)
    prepared = pp.normalise_page(np.ascontiguousarray(np.rot90(image, quarter_turns)))
    assert (prepared.quarter_turns + quarter_turns) % 4 == 0
    assert prepared.level == "region"


def test_reader_confidence_decides_upright_and_the_axis_of_a_word():
    """A fake reader that only likes upright text (ascenders up) must win over the profile's guess."""
    def confidence(crops):
        return float(np.mean([-pp.upside_down_score(pp.ink_mask(c)) for c in crops]))
    word = text_image(["table"], scale=3, thickness=4)
    for k in range(4):
        prepared = pp.normalise_page(np.ascontiguousarray(np.rot90(word, k)), confidence=confidence)
        assert (prepared.quarter_turns + k) % 4 == 0, k


def test_boxes_map_back_to_the_given_image():
    image = text_image([WORDS] * 3)
    given = np.ascontiguousarray(np.rot90(tilt(image, 7), 1))
    prepared = pp.normalise_page(given)
    x, y, w, h = prepared.box_to_source(pp.ink_box(pp.ink_mask(prepared.image)))
    gx, gy, gw, gh = pp.ink_box(pp.ink_mask(given))
    inter = max(0, min(x + w, gx + gw) - max(x, gx)) * max(0, min(y + h, gy + gh) - max(y, gy))
    assert inter / (w * h + gw * gh - inter) > 0.8
    assert 0 <= x and 0 <= y and x + w <= given.shape[1] and y + h <= given.shape[0]


def test_thin_tight_strip_gets_margins():
    line = text_image([WORDS])
    x, y, w, h = pp.ink_box(pp.ink_mask(line))
    strip = cv2.resize(line[y:y + h, x:x + w], (952, 28), interpolation=cv2.INTER_AREA)
    prepared = pp.normalise_page(strip)
    assert prepared.level == "line" and prepared.image.shape[0] > 1.5 * 28           # scaled up, not squashed
    ix, iy, iw, ih = pp.ink_box(pp.ink_mask(prepared.image))
    margins = (ix, iy, prepared.image.shape[1] - ix - iw, prepared.image.shape[0] - iy - ih)
    assert min(margins) >= round(ink.LINE_MARGIN * ih) - 1
    assert prepared.box_to_source((0, 0, prepared.image.shape[1], prepared.image.shape[0])) == (0, 0, 952, 28)


def test_thin_strips_are_scaled_up_by_whole_factors():
    assert pp.upscale_factor((28, 952)) == 2 and pp.upscale_factor((952, 28)) == 2
    assert pp.upscale_factor((pp.SMALL_SIDE, 4000)) == 1 and pp.upscale_factor((3, 50)) == pp.MAX_UPSCALE
    assert pp.upscale_factor((20, 60)) == 1                                          # a small word crop stays
    assert pp.upscale_factor((13, 12)) == 2 and pp.upscale_factor((16, 24)) == 2      # a tiny one is scaled up


def test_crop_to_ink_cuts_words_and_lines_as_the_reader_does():
    word = text_image(["bold"])
    x, y, w, h = pp.ink_box(pp.ink_mask(word, depth=ink.FAINT_INK))
    margin = round(ink.WORD_MARGIN * h)
    cut = ink.crop_to_ink(word, ink.WORD_MARGIN)
    assert cut.shape == (h + 2 * margin, w + 2 * margin)
    assert np.array_equal(cut[margin:margin + h, margin:margin + w], word[y:y + h, x:x + w])
    assert np.array_equal(cut, pp.normalise_page(word, level="word").image)
    blank = np.full((30, 40), 255, np.uint8)
    assert ink.crop_to_ink(blank, ink.WORD_MARGIN).shape == (30 + 2 * 15, 40 + 2 * 15)
    line = text_image([WORDS])
    x, _, w, _ = pp.ink_box(pp.ink_mask(line, depth=ink.FAINT_INK))
    _, y, _, h = pp.ink_box(pp.ink_mask(line, depth=ink.LINE_ROW_DEPTH))
    margin = round(ink.LINE_MARGIN * h)
    assert pp.normalise_page(line, level="line").image.shape == (h + 2 * margin, w + 2 * margin)


def test_a_line_crop_keeps_faint_strokes_but_faint_smudges_do_not_make_it_taller():
    """Columns: all the ink, a faint word at the end too; rows: the dark ink only, so a faint smudge above the line
    does not shrink the writing the recogniser reads."""
    line = cv2.copyMakeBorder(text_image([WORDS]), 60, 0, 0, 200, cv2.BORDER_CONSTANT, value=255)
    cv2.putText(line, "end", (line.shape[1] - 180, 120), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 190, 2, cv2.LINE_AA)
    plain = pp.normalise_page(line, level="line").image.shape
    cv2.line(line, (300, 20), (700, 20), 200, 3)                       # a faint smudge well above the line
    image = pp.normalise_page(line, level="line").image
    assert image.shape == plain
    x, _, w, _ = pp.ink_box(pp.ink_mask(line, depth=ink.FAINT_INK))
    assert image.shape[1] == w + 2 * round(ink.LINE_MARGIN * pp.ink_box(pp.ink_mask(line))[3])
    assert pp.ink_mask(image, depth=ink.FAINT_INK)[:, -40:].any()       # the faint word is in the crop


def test_word_sizes_keep_the_columns_and_pad_the_ink_rows():
    word = pp.normalise_page(text_image(["bold"]), level="word").image
    _, y, _, h = pp.ink_box(pp.ink_mask(word, depth=ink.FAINT_INK))
    sizes = pp.word_sizes(word)
    assert len(sizes) == len(pp.WORD_SIZES) + len(pp.CORE_FRACTIONS)
    for margin, size in zip(pp.WORD_SIZES, sizes):
        pad = round(margin * h)
        assert size.shape == (h + 2 * pad, word.shape[1])
        assert np.array_equal(size[pad:pad + h], word[y:y + h])
        assert (size[:pad] >= 250).all() and (size[pad + h:] >= 250).all()
    for size in sizes[len(pp.WORD_SIZES):]:                              # placed by its core: the ink rows whole
        _, top, _, height = pp.ink_box(pp.ink_mask(size, depth=ink.FAINT_INK))
        assert size.shape[1] == word.shape[1] and np.array_equal(size[top:top + height], word[y:y + h])
    blank = np.full((30, 40), 255, np.uint8)
    assert [s.shape for s in pp.word_sizes(blank)] == [(30, 40)]


def test_a_word_placed_by_its_core_has_it_where_lines_have_theirs():
    rows = np.full((30, 50), 255, np.uint8)
    rows[10:20, 5:45] = 0                                                # core band: rows 10-19
    rows[0:10, 8:11] = 0                                                 # an ascender
    rows[20:30, 30:33] = 0                                               # a descender
    assert pp.text_bands(rows < 128)[0][1:3] == (10, 19)
    for fraction in (0.25, 0.3):
        placed = pp.placed_by_core(rows, (10, 19), fraction, 255)
        core_top = pp.text_bands(placed < 128)[0][1]
        assert placed.shape[0] == pytest.approx(10 / fraction, abs=1)
        assert core_top == pytest.approx(pp.CORE_TOP * placed.shape[0], abs=1)
    small = np.full((10, 50), 255, np.uint8)                             # all core ('on'): paper both sides
    small[:, 5:45] = 0
    placed = pp.placed_by_core(small, (0, 9), 0.3, 255)
    assert placed.shape == (33, 50) and np.array_equal(placed[11:21], small) and (placed[:11] == 255).all()
    tall = pp.placed_by_core(rows, (10, 19), 0.6, 255)                  # ink beyond the placement: a tenth of the core
    assert tall.shape == (32, 50) and np.array_equal(tall[1:31], rows)


class FakeRecognizer:
    """Reads every crop as 'ab' with probability 0.9 (with ``favourite``: 0.9 on crops that many px high, 0.5 on the
    others) and gives ``text`` as its greedy text; input 60 x 1200, 10 time steps; its card's input has no stretches
    and no word LM weight."""
    input_size = (60, 1200)
    card = SimpleNamespace(input=InputSpec(input_size))

    def __init__(self, favourite=None, text="ab"):
        self.favourite, self.text, self.crops = favourite, text, []

    def recognize(self, crops, batch_size=16):
        self.crops += [np.asarray(c).shape for c in crops]
        blank = len(ALPHABET)
        readings = []
        for crop in crops:
            top = 0.9 if self.favourite in (None, np.shape(crop)[0]) else 0.5
            probs = np.full((10, blank + 1), (1 - top) / blank, np.float32)
            probs[np.arange(10), [ALPHABET.index("a"), blank, ALPHABET.index("b")] + [blank] * 7] = top
            readings.append((self.text, probs))
        return readings

    def read_lines(self, crops, batch_size=16):
        """Each crop read once, as given (a card without stretches)."""
        return [(*reading, np.shape(crop)) for reading, crop in zip(self.recognize(crops), crops)]

    def content_span(self, image_shape, steps):
        """Where a crop lies in the full-width input: (left, width, input width), pixels."""
        left, _, width, _ = fit_geometry(image_shape, self.input_size)
        return left, width, self.input_size[1]


def test_a_word_is_read_at_each_size_and_the_most_confident_reading_kept():
    word = text_image(["bold"])
    sizes = pp.word_sizes(pp.normalise_page(word, level="word").image)
    favourite = sizes[-1].shape[0]
    recognizer = FakeRecognizer(favourite)
    decoded = []
    pipeline = Pipeline(recognizer, lambda probs: decoded.append(probs) or Decoded("ab", 0.9, [("ab", 0.9)]), "fake")
    result = pipeline.transcribe(word, level="word")
    assert {s.shape[0] for s in sizes} <= {shape[0] for shape in recognizer.crops}   # (and the upright check's)
    assert result.text == "ab" and decoded[0].max() == pytest.approx(0.9)
    x, y, w, h = result.lines[0].words[0].box                          # boxes still on the word as given
    assert 0 <= x and 0 <= y and x + w <= word.shape[1] and y + h <= word.shape[0]
    line = text_image([WORDS])                                           # a line is read as it is cut
    recognizer.favourite = pp.word_sizes(pp.normalise_page(line, level="line").image)[-1].shape[0]
    recognizer.text = "ab ab ab"
    pipeline.transcribe(line, level="line")
    assert decoded[-1].max() == pytest.approx(0.5)
    recognizer.text = "ab"                                               # unless it reads as a long word
    pipeline.transcribe(line, level="line")
    assert decoded[-1].max() == pytest.approx(0.9)
    short = text_image(["to be"])                                       # a line of a word or a few: as a word
    assert pp.few_words(pp.ink_mask(short))
    recognizer.favourite = pp.word_sizes(pp.normalise_page(short, level="line").image)[-1].shape[0]
    pipeline.transcribe(short, level="line")
    assert decoded[-1].max() == pytest.approx(0.9)


@pytest.mark.parametrize("image, level", [(form_image(), "page"), (text_image([WORDS] * 3), "region"),
                                          (text_image([WORDS]), "line"), (text_image(["bold"]), "word")])
def test_detect_level(image, level):
    assert pp.normalise_page(image).level == level


def fake_decode(probs):
    return Decoded("ab", 0.9, [("ab", 0.9)])


def test_pipeline_auto_level_line_and_blank():
    recognizer = FakeRecognizer()
    pipeline = Pipeline(recognizer, fake_decode, "fake")         # no detector, no paragraph model
    line = np.ascontiguousarray(np.rot90(text_image([WORDS]), 2))
    result = pipeline.transcribe(line)
    assert result.level == "line" and result.text == "ab"
    assert (result.width, result.height) == (line.shape[1], line.shape[0])
    x, y, w, h = result.lines[0].box
    assert 0 <= x and 0 <= y and x + w <= line.shape[1] and y + h <= line.shape[0]
    for page in (np.zeros((300, 500), np.uint8), np.full((300, 500), 255, np.uint8)):
        empty = pipeline.transcribe(page)
        assert empty.region is None and empty.lines == [] and empty.text == ""


def test_rules_are_erased_and_text_kept():
    page = form_image()
    erased = pp.erase_rules(page)
    assert not pp.has_printed_rules(pp.ink_mask(erased)) and pp.has_printed_rules(pp.ink_mask(page))
    assert (erased[150:153, 60:1140] > 200).all()
    assert np.array_equal(erased[200:440], page[200:440])            # the text lines are untouched
    for image, rules in ((page, True), (page[200:440], False)):
        erased, mask = pp.erase_rules_and_mask(image)
        assert (erased != image).any() == rules
        assert np.array_equal(mask, pp.ink_mask(erased))


@pytest.mark.parametrize("quarter_turns", [1, 2, 3])
def test_a_turned_form_comes_back_as_a_page(quarter_turns):
    page = form_image()
    prepared = pp.normalise_page(np.ascontiguousarray(np.rot90(page, quarter_turns)))
    assert (prepared.quarter_turns + quarter_turns) % 4 == 0 and prepared.level == "page"
    assert not pp.few_words(pp.ink_mask(np.rot90(page, quarter_turns)))


@pytest.mark.parametrize("shape", [(1,), (2,), (7, 3), (300, 200)])
def test_grey_percentiles_equal_numpy(shape):
    rng = np.random.default_rng(len(shape))
    percents = (0, 0.1, 1, 50, 90, 99, 100)
    for gray in (rng.integers(0, 256, size=shape).astype(np.uint8),
                 rng.choice(np.array([0, 17, 200, 255], np.uint8), size=shape)):
        np.testing.assert_allclose(ink.grey_percentiles(gray, percents), np.percentile(gray, percents))
        assert ink.grey_median(gray) == np.median(gray)
        for part in (gray, gray[::3], gray[..., 1:]):                  # views with strides too
            assert np.array_equal(ink.grey_histogram(part), np.bincount(part.ravel(), minlength=256))


def test_a_descender_tail_under_a_word_is_not_a_second_line():
    mask = np.zeros((36, 52), bool)
    mask[3:20, 2:50] = True            # the word's core
    mask[30:32, 25:50] = True          # the loop of a 'g' far below it, two rows of ink
    assert len(pp.text_bands(mask)) == 2
    assert pp.detect_level(mask) == "word"


def test_a_word_crop_with_bits_of_the_lines_around_is_still_a_word():
    mask = np.zeros((30, 60), bool)
    mask[10:20, 5:55] = True           # the word
    mask[0:3, 8:30] = True             # descenders of the line above
    mask[27:30, 30:50] = True          # ascenders of the line below
    assert len(pp.line_bands(mask)) == 3
    assert pp.few_words(mask)


def test_a_sure_reading_as_given_is_not_read_upside_down():
    line = text_image([WORDS])
    mask = pp.ink_mask(line)
    calls = []

    def reader(score_as_given, score_turned):
        def confidence(crops):
            calls.append(len(crops))
            return score_as_given if len(calls) == 1 else score_turned
        return confidence

    assert pp.upright_turns(line, mask, reader(0.95, 0.99)) == (0, 0.95) and len(calls) == 1
    calls.clear()
    assert pp.upright_turns(line, mask, reader(0.6, 0.8)) == (2, 0.8) and len(calls) == 2
    calls.clear()
    assert pp.upright_turns(line, mask, reader(0.6, 0.8), prior=0.3)[0] == 0


def test_many_lines_with_a_clear_profile_are_not_read_to_tell_up_from_down():
    page = text_image([WORDS] * 5)
    mask = pp.ink_mask(page)
    assert len(pp.line_bands(mask)) >= pp.MANY_BANDS and pp.upside_down_score(mask) <= -pp.SURE_PROFILE

    def reader(crops):
        raise AssertionError("the reader was asked")

    assert pp.upright_turns(page, mask, reader) == (0, 1.0)
    assert pp.upright_turns(page[::-1, ::-1], mask[::-1, ::-1], reader) == (2, 1.0)
    few = text_image([WORDS] * 2)                      # too few lines: the reader decides
    with pytest.raises(AssertionError, match="reader was asked"):
        pp.upright_turns(few, pp.ink_mask(few), reader)


def test_a_word_whose_strokes_join_two_bands_is_a_word_and_two_lines_stay_a_region():
    mask = np.zeros((60, 70), bool)
    mask[35:50, 2:20] = True           # an 'o'
    mask[8:20, 25:65] = True           # the loop of an 'f' beside it, high enough to be a band of its own
    mask[8:58, 25:28] = True           # and its stem, down through the 'o''s core
    mask[38:41, 20:45] = True          # its bar
    assert len([b for b in pp.line_bands(mask) if b[2] - b[1] + 1 >= pp.MIN_CORE]) == 2
    assert pp.detect_level(mask) == "word"
    lines = np.zeros((60, 100), bool)
    for left in range(2, 100, 25):                   # two lines of four words each, one descender of the first
        lines[5:20, left:left + 20] = lines[35:50, left:left + 20] = True      # touching a word of the second
    lines[18:38, 10:12] = True
    assert pp.detect_level(lines) == "region"


def test_a_framed_word_is_neither_a_form_nor_a_block():
    """A crop whose paper edge shows as a long dark line (a scanner's border) holds a word, not a printed form; a
    shadowed edge thick enough to be a text band does not make it a block of two lines either."""
    word = cv2.copyMakeBorder(text_image(["bold"], scale=3, thickness=4), 0, 40, 0, 200, cv2.BORDER_CONSTANT, value=255)
    word[-30:-27, 10:-10] = 0
    assert pp.has_printed_rules(pp.ink_mask(word))
    assert pp.detect_level(pp.ink_mask(word)) != "page"
    assert pp.detect_level(pp.ink_mask(form_image())) == "page"
    edged = cv2.copyMakeBorder(text_image(["clutching"], scale=2, thickness=3), 0, 40, 0, 0, cv2.BORDER_CONSTANT,
                               value=255)
    edged[-32:-22, 10:-10] = 90                                  # the shadowed edge of a cut-out's paper, under it
    mask = pp.ink_mask(edged)
    assert pp.has_printed_rules(mask) and len(pp.line_bands(mask)) > 1
    assert pp.detect_level(mask) in ("word", "line")


def test_bands_too_low_to_be_lines_do_not_make_a_region():
    mask = np.zeros((16, 35), bool)
    mask[0:4, 2:33] = True             # a 4 px 'core' (the tops of a small word's letters)
    mask[4:11, 2:4] = mask[4:11, 30:32] = True
    mask[14:16, 5:30] = True           # and 2 px of ink below it
    assert len(pp.line_bands(mask)) == 2
    assert pp.detect_level(mask) == "word"
    tall = np.zeros((60, 35), bool)
    tall[5:20, 2:33] = tall[35:50, 2:33] = True      # two lines of 15 px: a region
    assert pp.detect_level(tall) == "region"


@pytest.mark.parametrize("noise", [0, 20, 60])
def test_ink_mask_drops_specks_under_the_minimum_size_only(noise):
    page = text_image([WORDS] * 3)
    rng = np.random.default_rng(noise)
    page = np.clip(page + rng.normal(0, noise, page.shape), 0, 255).astype(np.uint8) if noise else page
    page[5:7, 5:7] = 0                                                   # a 2 px speck of dust
    mask = ink.ink_mask(page)
    paper, dark = ink.grey_percentiles(page, (50, 0.1))
    dark_pixels = (page < paper - 0.5 * (paper - dark)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(dark_pixels, connectivity=8)
    large = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]) >= ink.MIN_INK_SIZE
    large[0] = False
    assert np.array_equal(mask, large[labels]) and not mask[5:7, 5:7].any() and mask.any()
    specks = count - 1 - int(large[1:].sum())
    assert (specks > ink.FEW_SPECKS) == (noise == 60)                  # both ways of clearing them are tested


def test_a_tight_crop_that_faint_blurred_ink_mostly_fills_is_a_word_not_a_blank_page():
    """Its median is ink (40 grey levels from the darkest, under MIN_CONTRAST): its paper is its edges' grey."""
    crop = np.full((21, 30), 234, np.uint8)
    crop[3:18, 2:28] = 205                        # the blurred word's grey fills most of the crop
    crop[6:15, 5:9] = crop[6:15, 12:16] = crop[6:15, 19:25] = 172
    median, dark = ink.grey_percentiles(crop, (50, 0.1))
    assert median - dark < ink.MIN_CONTRAST < ink.edge_grey(crop) - dark
    assert not ink.ink_mask(crop).any()               # against the median: no ink
    assert ink.paper_grey(crop) == 234
    mask = ink.ink_mask(crop, paper=ink.paper_grey(crop))
    assert mask[6:15, 5:9].all() and not mask[:2].any() and not mask[:, :2].any()
    prepared = pp.normalise_page(crop)
    assert not prepared.blank and prepared.level == "word"


def test_a_scan_shadow_along_an_edge_is_neither_cut_as_ink_nor_left_as_a_sharp_edge():
    word = text_image(["mean"])
    x, y, w, h = pp.ink_box(pp.ink_mask(word))
    crop = word[y - 10:y + h + 10, x - 40:x + w + 10].astype(np.float32)
    crop -= 70 * np.exp(-np.arange(crop.shape[1], dtype=np.float32) / 8)[None, :]      # dark towards the left edge
    crop = np.clip(crop, 0, 255).astype(np.uint8)
    cut = ink.crop_to_ink(crop, ink.WORD_MARGIN)
    assert abs(cut.shape[1] - (w + 2 * round(ink.WORD_MARGIN * h))) <= 4               # the ink's box, not the shadow
    assert abs(cut[:, :5].mean() - ink.edge_grey(cut)) < 10                           # no dark band at the edge


def test_a_word_cut_tiny_is_scaled_up_and_read_as_a_word():
    word = text_image(["and"], thickness=3)
    x, y, w, h = pp.ink_box(pp.ink_mask(word))
    crop = word[y - 3:y + h + 3, x - 3:x + w + 3]
    tiny = cv2.resize(crop, (round(crop.shape[1] * 16 / crop.shape[0]), 16), interpolation=cv2.INTER_AREA)
    prepared = pp.normalise_page(tiny)
    assert not prepared.blank and prepared.level == "word"
    assert np.sqrt(abs(np.linalg.det(prepared.matrix[:2, :2]))) == 2                  # read at twice its size
    full = (0, 0, prepared.image.shape[1], prepared.image.shape[0])
    x1, y1, bw, bh = prepared.box_to_source(full)
    assert x1 <= 0 and y1 <= 0 and x1 + bw >= tiny.shape[1] - 1 and y1 + bh >= tiny.shape[0] - 1   # in its pixels
