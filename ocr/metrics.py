"""Error rates of text against a reference, alignments for reports, and box metrics for the segmentation stages.

Text is compared exactly: case, punctuation and spaces count, unless a function says otherwise. Words are the
whitespace-separated tokens of a text. Error rates are fractions (0.084, not 8.4 %).

CER/WER come in two conventions:

* **pooled** (the usual HTR convention): total edit distance / total reference length over all items, spaces
  included in the characters (``cer``, ``wer``, ``Summary.cer``, ``Summary.wer``);
* **mean per item** (the reference's sclite convention, ``sclite -c`` Mean row): the mean over items of each
  item's error rate, characters compared with all whitespace removed (``cer_mean``, ``wer_mean``,
  ``Summary.cer_mean``, ``Summary.wer_mean``). As sclite does, items whose reference is empty are left out of
  the mean (they still count in the pooled figures).

Pages: ``pair_lines`` aligns predicted lines to reference lines (a missed or an extra line costs its length,
a pair costs its edit distance), so one missed line is penalised once instead of shifting every later pair;
``page_score`` also gives the alignment-free figure of the concatenated lines.

Boxes are ``(x, y, w, h)``: top-left corner, width and height, in any unit (fractions of an image or pixels) as
long as both sides of a comparison use the same one. Box functions are vectorised with numpy.
"""
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

import editdistance
import numpy as np
from numpy.typing import ArrayLike

OPS = ("C", "S", "D", "I")   # correct, substitution, deletion (reference token missing), insertion (extra token)
Op = tuple[str, str | None, str | None]     # (op, reference token, hypothesis token): one step of ``align``


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance between two sequences (strings or lists of words), unit costs."""
    return editdistance.eval(a, b)


def strip_spaces(text: str) -> str:
    """``text`` with all whitespace removed (how ``sclite -c`` sees a line)."""
    return "".join(text.split())


def cer(hypotheses: Iterable[str], references: Iterable[str]) -> float:
    """Pooled character error rate: sum of edit distances / total reference characters (spaces included)."""
    return Summary.of(score_item(h, r) for h, r in zip(hypotheses, references, strict=True)).cer


def wer(hypotheses: Iterable[str], references: Iterable[str]) -> float:
    """Pooled word error rate: sum of word edit distances / total reference words."""
    return Summary.of(score_item(h, r) for h, r in zip(hypotheses, references, strict=True)).wer


def cer_mean(hypotheses: Iterable[str], references: Iterable[str]) -> float:
    """Mean over items of the per-item character error rate, whitespace removed (sclite ``-c`` Mean row)."""
    return Summary.of(score_item(h, r) for h, r in zip(hypotheses, references, strict=True)).cer_mean


def wer_mean(hypotheses: Iterable[str], references: Iterable[str]) -> float:
    """Mean over items of the per-item word error rate (sclite word-mode Mean row)."""
    return Summary.of(score_item(h, r) for h, r in zip(hypotheses, references, strict=True)).wer_mean


@dataclass
class ItemScore:
    """Edit counts of one item (a line, or a page as the sum of its line pairs). ``*_nospace`` counts compare
    the texts with whitespace removed; the others compare them as they are."""
    char_errors: int = 0
    chars: int = 0
    char_errors_nospace: int = 0
    chars_nospace: int = 0
    word_errors: int = 0
    words: int = 0

    def __add__(self, other: "ItemScore") -> "ItemScore":
        return ItemScore(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def cer(self) -> float | None:
        """Character error rate of this item, spaces included (None for an empty reference)."""
        return self.char_errors / self.chars if self.chars else None

    @property
    def cer_nospace(self) -> float | None:
        """Character error rate with whitespace removed (None for an empty reference)."""
        return self.char_errors_nospace / self.chars_nospace if self.chars_nospace else None

    @property
    def wer(self) -> float | None:
        """Word error rate of this item (None for an empty reference)."""
        return self.word_errors / self.words if self.words else None


def score_item(hypothesis: str, reference: str) -> ItemScore:
    """ItemScore of one hypothesis text against its reference text."""
    return ItemScore(edit_distance(hypothesis, reference), len(reference),
                     edit_distance(strip_spaces(hypothesis), strip_spaces(reference)), len(strip_spaces(reference)),
                     edit_distance(hypothesis.split(), reference.split()), len(reference.split()))


def _mean(values: Iterable[float | None]) -> float:
    """The mean of the values that are not None; 0.0 when there are none."""
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else 0.0


@dataclass
class Summary:
    """Error rates over a set of items: ``cer``/``wer`` pooled (spaces included), ``cer_mean``/``wer_mean`` the
    mean of per-item rates (whitespace removed; empty references left out), ``items`` the number of items."""
    cer: float
    wer: float
    cer_mean: float
    wer_mean: float
    items: int

    @classmethod
    def of(cls, scores: Iterable[ItemScore]) -> "Summary":
        """Summary of an iterable of ItemScore."""
        scores = list(scores)
        total = sum(scores, ItemScore())
        return cls(total.char_errors / max(1, total.chars), total.word_errors / max(1, total.words),
                   _mean(s.cer_nospace for s in scores), _mean(s.wer for s in scores), len(scores))


def align(reference: Sequence[str], hypothesis: Sequence[str]) -> list[Op]:
    """Minimal-edit alignment of two sequences (strings or word lists) by Levenshtein backtrace.

    Returns a list of ``(op, ref_token, hyp_token)`` with op in C (correct), S (substitution), D (deletion:
    ref_token has no hyp_token, which is None) and I (insertion: ref_token is None). The number of S + D + I is
    the edit distance; among equally short alignments, substitutions are preferred to deletion + insertion."""
    n, m = len(reference), len(hypothesis)
    cost = [list(range(m + 1))]
    for i in range(1, n + 1):
        above, row, r = cost[-1], [i], reference[i - 1]
        for j in range(1, m + 1):
            row.append(min(above[j - 1] + (r != hypothesis[j - 1]), above[j] + 1, row[j - 1] + 1))
        cost.append(row)
    ops, i, j = [], n, m
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (reference[i - 1] != hypothesis[j - 1]):
            same = reference[i - 1] == hypothesis[j - 1]
            ops.append(("C" if same else "S", reference[i - 1], hypothesis[j - 1]))
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            ops.append(("D", reference[i - 1], None))
            i -= 1
        else:
            ops.append(("I", None, hypothesis[j - 1]))
            j -= 1
    return ops[::-1]


def count_ops(ops: Iterable[Op]) -> dict[str, int]:
    """{'C': n, 'S': n, 'D': n, 'I': n} of an alignment from ``align``."""
    counts = dict.fromkeys(OPS, 0)
    for op, _, _ in ops:
        counts[op] += 1
    return counts


def pair_lines(hypothesis_lines: Sequence[str], reference_lines: Sequence[str]) -> list[tuple[str, str]]:
    """Pair predicted lines with reference lines by alignment, keeping both orders (DP over lines).

    A pair costs the character edit distance of its two lines; a reference line left unpaired (missed) costs its
    length, a predicted line left unpaired (extra) costs its length. Blank lines are dropped first. Returns the
    list of ``(hypothesis, reference)`` in order, with "" standing for the missing side of an unpaired line."""
    hyp = [h for h in hypothesis_lines if h.strip()]
    ref = [r for r in reference_lines if r.strip()]
    n, m = len(hyp), len(ref)
    pair = np.array([[edit_distance(h, r) for r in ref] for h in hyp], dtype=np.int64).reshape(n, m)
    cost = np.zeros((n + 1, m + 1), dtype=np.int64)
    cost[1:, 0] = np.cumsum([len(h) for h in hyp])
    cost[0, 1:] = np.cumsum([len(r) for r in ref])
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i, j] = min(cost[i - 1, j - 1] + pair[i - 1, j - 1],
                             cost[i - 1, j] + len(hyp[i - 1]), cost[i, j - 1] + len(ref[j - 1]))
    pairs, i, j = [], n, m
    while i or j:
        if i and j and cost[i, j] == cost[i - 1, j - 1] + pair[i - 1, j - 1]:
            pairs.append((hyp[i - 1], ref[j - 1]))
            i, j = i - 1, j - 1
        elif j and cost[i, j] == cost[i, j - 1] + len(ref[j - 1]):
            pairs.append(("", ref[j - 1]))
            j -= 1
        else:
            pairs.append((hyp[i - 1], ""))
            i -= 1
    return pairs[::-1]


def page_score(hypothesis_lines: Sequence[str],
               reference_lines: Sequence[str]) -> tuple[ItemScore, ItemScore, list[tuple[str, str]]]:
    """(alignment-free ItemScore of the page, line-paired ItemScore, pairs from ``pair_lines``).

    Alignment-free: the non-blank lines of each side joined with single spaces and compared as one text.
    Line-paired: the sum of the ItemScores of the pairs from ``pair_lines``."""
    def join(lines: Sequence[str]) -> str:
        return " ".join(line.strip() for line in lines if line.strip())
    pairs = pair_lines(hypothesis_lines, reference_lines)
    return (score_item(join(hypothesis_lines), join(reference_lines)),
            sum((score_item(h, r) for h, r in pairs), ItemScore()), pairs)


# ---------------------------------------------------------------------------------------------------- boxes

def _boxes(boxes: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(N, 4) or a 4-vector of (x, y, w, h) boxes -> their x0, y0, x1, y1 as (N,) float64 arrays."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return boxes[:, 0], boxes[:, 1], boxes[:, 0] + boxes[:, 2], boxes[:, 1] + boxes[:, 3]


def _overlap(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairwise (intersection, union, enclosing area) of (N, 4) and (M, 4) boxes, each (N, M)."""
    ax0, ay0, ax1, ay1 = (v[:, None] for v in _boxes(a))
    bx0, by0, bx1, by1 = (v[None, :] for v in _boxes(b))
    inter = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0, None) * \
        np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0), 0, None)
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    hull = (np.maximum(ax1, bx1) - np.minimum(ax0, bx0)) * (np.maximum(ay1, by1) - np.minimum(ay0, by0))
    return inter, union, hull


def iou(boxes_a: ArrayLike, boxes_b: ArrayLike) -> np.ndarray:
    """Pairwise intersection over union of (N, 4) and (M, 4) ``(x, y, w, h)`` boxes -> (N, M) in [0, 1].
    A single box may be given as a 4-vector (it counts as N or M = 1). Degenerate pairs (zero union) give 0."""
    inter, union, _ = _overlap(boxes_a, boxes_b)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def giou(boxes_a: ArrayLike, boxes_b: ArrayLike) -> np.ndarray:
    """Pairwise generalised IoU (Rezatofighi et al. 2019) of ``(x, y, w, h)`` boxes -> (N, M) in [-1, 1]:
    IoU - (enclosing area - union) / enclosing area, where the enclosing box is the smallest box holding both.
    Negative for boxes that do not overlap, the more so the further apart they are."""
    inter, union, hull = _overlap(boxes_a, boxes_b)
    overlap = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return overlap - np.divide(hull - union, hull, out=np.zeros_like(hull), where=hull > 0)


@dataclass
class BoxMatch:
    """Result of ``match_boxes``: ``matches`` = [(prediction index, ground-truth index, IoU)], and precision,
    recall, F1 of the predictions at the threshold."""
    matches: list[tuple[int, int, float]]
    precision: float
    recall: float
    f1: float


def match_boxes(predictions: ArrayLike, ground_truth: ArrayLike, threshold: float = 0.5) -> BoxMatch:
    """Greedy one-to-one matching of predicted to ground-truth ``(x, y, w, h)`` boxes.

    Pairs are taken in decreasing IoU order while both boxes are free and IoU >= threshold. Precision = matches /
    predictions, recall = matches / ground-truth boxes; each is 1.0 when its denominator is 0 (nothing claimed,
    or nothing to find); F1 is their harmonic mean (0 when both are 0)."""
    overlaps = iou(predictions, ground_truth)
    n_pred, n_gt = overlaps.shape
    matches, used_pred, used_gt = [], set(), set()
    for flat in np.argsort(-overlaps, axis=None, kind="stable"):
        p, g = divmod(int(flat), n_gt)
        if overlaps[p, g] < threshold:
            break
        if p not in used_pred and g not in used_gt:
            matches.append((p, g, float(overlaps[p, g])))
            used_pred.add(p)
            used_gt.add(g)
    precision = len(matches) / n_pred if n_pred else 1.0
    recall = len(matches) / n_gt if n_gt else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return BoxMatch(matches, precision, recall, f1)


def average_precision(detections: Sequence[tuple[ArrayLike, ArrayLike]], ground_truths: Sequence[ArrayLike],
                      threshold: float = 0.5) -> float:
    """VOC-style average precision (all-point interpolation, as VOC 2010+) of scored detections.

    ``detections``: one ``(boxes (N, 4), scores (N,))`` per image; ``ground_truths``: one (M, 4) array per image;
    boxes ``(x, y, w, h)``. All detections are ranked by score; each is a true positive when its best-IoU
    ground-truth box of the same image has IoU >= threshold and was not already taken by a higher-scored
    detection, else a false positive. AP = sum over recall steps of (recall step) x (the highest precision at
    that recall or beyond). No ground-truth boxes at all gives 0.0."""
    ranked, n_gt = [], 0
    for image, ((boxes, scores), gt) in enumerate(zip(detections, ground_truths, strict=True)):
        gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
        n_gt += len(gt)
        overlaps = iou(boxes, gt)
        ranked += [(float(s), image, overlaps[k]) for k, s in enumerate(np.asarray(scores).reshape(-1))]
    if n_gt == 0:
        return 0.0
    ranked.sort(key=lambda item: -item[0])
    taken, hits = set(), []
    for _, image, overlaps in ranked:
        best = int(np.argmax(overlaps)) if overlaps.size else -1
        hit = best >= 0 and overlaps[best] >= threshold and (image, best) not in taken
        if hit:
            taken.add((image, best))
        hits.append(hit)
    tp = np.cumsum(hits)
    recall = np.concatenate([[0.0], tp / n_gt])
    precision = tp / np.arange(1, len(hits) + 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum((recall[1:] - recall[:-1]) * envelope))
