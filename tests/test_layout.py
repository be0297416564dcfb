"""Word boxes -> lines: touching lines, a one-word line, a sloped line, reading order."""
import numpy as np

from ocr.words.layout import crop_lines, group_words_into_lines


def _words(rows):
    """rows of (x, y) word origins with a fixed word size 0.1 x 0.05."""
    return np.array([[x, y, 0.1, 0.05] for x, y in rows])


def test_lines_in_reading_order_with_a_one_word_line():
    boxes = _words([(0.5, 0.1), (0.1, 0.1), (0.3, 0.11), (0.1, 0.3)])     # words given out of order
    lines = group_words_into_lines(boxes)
    assert [line.word_indices for line in lines] == [[1, 2, 0], [3]]


def test_touching_lines_stay_apart():
    # second line's words start 0.04 below the first line's: 0.01 of vertical overlap (20% of a word's height)
    # and one tall word with a descender reaching 0.03 into the second line
    boxes = np.array([[0.1, 0.10, 0.1, 0.05], [0.25, 0.10, 0.1, 0.08], [0.4, 0.10, 0.1, 0.05],
                      [0.1, 0.14, 0.1, 0.05], [0.25, 0.15, 0.1, 0.05], [0.4, 0.14, 0.1, 0.05]])
    lines = group_words_into_lines(boxes)
    assert [line.word_indices for line in lines] == [[0, 1, 2], [3, 4, 5]]


def test_sloped_line_is_one_line():
    # each word 0.02 lower than the previous: neighbours overlap by 60%, the ends do not overlap at all
    boxes = _words([(0.1 + 0.12 * i, 0.1 + 0.02 * i) for i in range(6)])
    lines = group_words_into_lines(boxes)
    assert len(lines) == 1 and lines[0].word_indices == list(range(6))
    x, y, w, h = lines[0].box
    assert x <= 0.1 and y <= 0.1 and x + w >= 0.8 and y + h >= 0.25   # the box holds every word


def test_a_tall_offset_word_is_not_skipped():
    # "it worked in" at the end of a line of the bundled sample page (fractions of a region 4.8x wider than
    # tall): "worked" sits higher and is taller, so linking "it" straight to "in" is cheaper, which left
    # "worked" as a line of its own
    boxes = np.array([[0.55, 0.24, 0.022, 0.096], [0.59, 0.16, 0.083, 0.148], [0.678, 0.27, 0.018, 0.052]])
    lines = group_words_into_lines(boxes)
    assert [line.word_indices for line in lines] == [[0, 1, 2]]


def test_tiny_boxes_ignored_and_crops_match_lines():
    boxes = np.array([[0.1, 0.1, 0.3, 0.1], [0.5, 0.5, 0.001, 0.001]])
    lines = group_words_into_lines(boxes)
    assert [line.word_indices for line in lines] == [[0]]
    crops = crop_lines(np.zeros((100, 200), np.uint8), lines)
    assert len(crops) == 1 and crops[0].shape[0] >= 10 and crops[0].shape[1] >= 60
    assert group_words_into_lines(np.zeros((0, 4))) == []


# ---- lines along the text bands of the ink ---------------------------------------------------------------------

BANDS = [(0.08, 0.10, 0.15, 0.18), (0.28, 0.30, 0.35, 0.38)]     # (top, core top, core bottom, bottom) of 2 lines


def test_fragments_join_their_line_along_the_bands():
    # line 1: two words, an i-dot above and the top of a capital; line 2: a word, a comma, a descender below it
    boxes = np.array([[0.1, 0.10, 0.2, 0.05], [0.4, 0.10, 0.2, 0.05], [0.45, 0.05, 0.01, 0.02],
                      [0.12, 0.06, 0.03, 0.04],
                      [0.1, 0.30, 0.2, 0.05], [0.32, 0.34, 0.01, 0.02], [0.2, 0.35, 0.03, 0.05]])
    assert len(group_words_into_lines(boxes)) > 2                                 # chains alone: extra lines
    lines = group_words_into_lines(boxes, bands=BANDS)
    assert [sorted(line.word_indices) for line in lines] == [[0, 1, 2, 3], [4, 5, 6]]


def test_parts_of_a_line_join_left_to_right():
    # the right half of a line sits a little higher: chains would make two lines, bands one, left part first
    boxes = np.array([[0.6, 0.09, 0.15, 0.05], [0.8, 0.085, 0.15, 0.05], [0.1, 0.115, 0.15, 0.05],
                      [0.3, 0.12, 0.15, 0.05]])
    lines = group_words_into_lines(boxes, bands=BANDS[:1])
    assert [line.word_indices for line in lines] == [[2, 3, 0, 1]]


def test_a_tall_band_of_two_touching_lines_is_split_by_chains():
    bands = [(0.0, 0.02, 0.05, 0.07), (0.1, 0.12, 0.30, 0.32), (0.4, 0.42, 0.45, 0.47)]   # middle: two lines
    boxes = _words([(0.1, 0.01), (0.1, 0.12), (0.3, 0.12), (0.1, 0.22), (0.3, 0.22), (0.1, 0.41)])
    lines = group_words_into_lines(boxes, bands=bands)
    assert [line.word_indices for line in lines] == [[0], [1, 2], [3, 4], [5]]


def test_a_word_far_from_every_band_is_kept_as_its_own_line():
    boxes = _words([(0.1, 0.11), (0.3, 0.11), (0.5, 0.7)])
    lines = group_words_into_lines(boxes, bands=BANDS)
    assert [line.word_indices for line in lines] == [[0, 1], [2]]
