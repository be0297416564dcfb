"""Metrics against hand-computed values (the computation is written beside each)."""
import numpy as np
import pytest

from ocr.metrics import (Summary, align, average_precision, cer, cer_mean, count_ops, edit_distance, giou, iou,
                         match_boxes, page_score, pair_lines, score_item, wer, wer_mean)

HYPS = ["the cat", "helo world"]
REFS = ["the bat", "hello world"]


def test_edit_distance_strings_and_words():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("a b c".split(), "a c".split()) == 1


def test_cer_wer_pooled_hand_computed():
    # CER, spaces included: "the cat"/"the bat" 1 edit (c->b) of 7 chars; "helo world"/"hello world" 1 edit
    # (missing l) of 11 chars -> pooled (1 + 1) / (7 + 11) = 2/18.
    assert cer(HYPS, REFS) == pytest.approx(2 / 18)
    # WER: "cat" for "bat" is 1 of 2 words; "helo" for "hello" is 1 of 2 words -> (1 + 1) / (2 + 2).
    assert wer(HYPS, REFS) == pytest.approx(0.5)


def test_mean_per_item_differs_from_pooled():
    # Mean per item, spaces removed: "thecat"/"thebat" 1/6; "heloworld"/"helloworld" 1/10
    # -> (1/6 + 1/10) / 2 = 2/15 = 0.1333, whereas pooled with spaces is 2/18 = 0.1111.
    assert cer_mean(HYPS, REFS) == pytest.approx(2 / 15)
    assert cer_mean(HYPS, REFS) != pytest.approx(cer(HYPS, REFS))
    # Words: item 1 has 0 errors in 4 words, item 2 one error in 1 word -> pooled 1/5, mean (0 + 1) / 2.
    hyps, refs = ["a b c d", "y"], ["a b c d", "x"]
    assert wer(hyps, refs) == pytest.approx(0.2)
    assert wer_mean(hyps, refs) == pytest.approx(0.5)


def test_empty_reference_left_out_of_mean_but_pooled():
    # As sclite: the empty-reference item is not averaged; pooled counts its 2 inserted characters:
    # (0 + 2) / (3 + 0) characters.
    summary = Summary.of([score_item("abc", "abc"), score_item("ab", "")])
    assert summary.cer_mean == 0.0
    assert summary.cer == pytest.approx(2 / 3)
    assert summary.items == 2


def test_alignment_ops_characters():
    # kitten -> sitting: k->s (S), i t t (C C C), e->i (S), n (C), g inserted (I): 3 edits.
    ops = align("kitten", "sitting")
    assert [op for op, _, _ in ops] == ["S", "C", "C", "C", "S", "C", "I"]
    assert ops[0] == ("S", "k", "s") and ops[-1] == ("I", None, "g")
    assert count_ops(ops) == {"C": 4, "S": 2, "D": 0, "I": 1}


def test_alignment_ops_words_and_deletion():
    assert align("the cat sat".split(), "the bat sat down".split()) == [
        ("C", "the", "the"), ("S", "cat", "bat"), ("C", "sat", "sat"), ("I", None, "down")]
    assert align("abc", "ac") == [("C", "a", "a"), ("D", "b", None), ("C", "c", "c")]
    assert align("", "") == []


def test_line_pairing_penalises_only_the_missed_line():
    refs = ["the quick brown fox", "jumps over", "the lazy dog"]
    hyps = ["the quick brown fox", "the lazy dog"]
    assert pair_lines(hyps, refs) == [(refs[0], refs[0]), ("", "jumps over"), (refs[2], refs[2])]
    free, paired, _ = page_score(hyps, refs)
    # Paired: only "jumps over" is wrong: 10 characters with its space, 9 without, 2 words.
    assert (paired.char_errors, paired.char_errors_nospace, paired.word_errors) == (10, 9, 2)
    assert paired.chars == 19 + 10 + 12
    # Alignment-free: the joined texts differ by the deleted "jumps over " (11 characters with spaces).
    assert free.char_errors == 11 and free.chars == 19 + 1 + 10 + 1 + 12


def test_line_pairing_extra_line_and_blank_lines():
    assert pair_lines(["a b", "noise", "c d"], ["a b", "", "c d"]) == [("a b", "a b"), ("noise", ""), ("c d", "c d")]


def test_iou_giou_hand_computed():
    a, b, far = [0, 0, 2, 2], [1, 1, 2, 2], [4, 0, 2, 2]
    # a, b: intersection 1x1 = 1, union 4 + 4 - 1 = 7 -> IoU 1/7; enclosing box (0,0)-(3,3) = 9
    # -> GIoU = 1/7 - (9 - 7)/9 = -5/63.
    assert iou(a, b)[0, 0] == pytest.approx(1 / 7)
    assert giou(a, b)[0, 0] == pytest.approx(1 / 7 - 2 / 9)
    # a, far: no overlap -> IoU 0; union 8, enclosing (0,0)-(6,2) = 12 -> GIoU = 0 - (12 - 8)/12 = -1/3.
    assert iou(a, far)[0, 0] == 0.0
    assert giou(a, far)[0, 0] == pytest.approx(-1 / 3)
    assert giou(a, a)[0, 0] == pytest.approx(1.0)
    matrix = iou([a, b], [a, b, far])
    assert matrix.shape == (2, 3)
    np.testing.assert_allclose(matrix, [[1, 1 / 7, 0], [1 / 7, 1, 0]])


def test_match_boxes_precision_recall_f1():
    gt = [[0, 0, 2, 2], [10, 10, 2, 2]]
    # prediction 0 = gt 0 (IoU 1); prediction 1 overlaps gt 0 by 1/7 (below 0.5, and gt 0 is taken);
    # prediction 2 covers half of gt 1: intersection 2, union 4 -> IoU 0.5 (>= 0.5, matched).
    predictions = [[0, 0, 2, 2], [1, 1, 2, 2], [10, 10, 2, 1]]
    result = match_boxes(predictions, gt, threshold=0.5)
    assert [(p, g) for p, g, _ in result.matches] == [(0, 0), (2, 1)]
    # P = 2/3, R = 2/2, F1 = 2 * (2/3) * 1 / (2/3 + 1) = 0.8
    assert (result.precision, result.recall) == (pytest.approx(2 / 3), 1.0)
    assert result.f1 == pytest.approx(0.8)
    empty = match_boxes(np.zeros((0, 4)), gt)
    assert (empty.precision, empty.recall, empty.f1) == (1.0, 0.0, 0.0)


def test_average_precision_hand_computed():
    # Two images, two ground-truth boxes. Ranked: 0.9 TP (image 0), 0.8 FP (image 0, a duplicate of the taken
    # box), 0.7 TP (image 1). Precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1. Envelope 1, 2/3, 2/3.
    # AP = (1/2 - 0) * 1 + (1/2 - 1/2) * 2/3 + (1 - 1/2) * 2/3 = 1/2 + 1/3 = 5/6.
    detections = [(np.array([[0, 0, 2, 2], [0, 0, 2, 2]]), np.array([0.9, 0.8])),
                  (np.array([[5, 5, 2, 2]]), np.array([0.7]))]
    ground_truths = [np.array([[0, 0, 2, 2]]), np.array([[5, 5, 2, 2]])]
    assert average_precision(detections, ground_truths) == pytest.approx(5 / 6)
    assert average_precision([(np.zeros((0, 4)), np.zeros(0))], [np.array([[0, 0, 1, 1]])]) == 0.0
