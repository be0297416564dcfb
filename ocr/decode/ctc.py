"""What every CTC decoder shares: input checks, the label map, CTC forward / Viterbi passes and confidences.

Conventions for all decoders in ``ocr.decode``:

* input: a T x C matrix (numpy or anything ``np.asarray`` takes), one row per time step, of per-row
  normalised **probabilities** or **natural-log probabilities**; ``log_probs=None`` detects which
  (rows of non-negative values summing to 1 are probabilities, rows of non-positive values whose
  exponentials sum to 1 are log-probabilities; anything else, raw logits for instance, is refused);
* ``alphabet``: the C - 1 characters of the non-blank columns, in column order;
* ``blank``: the column of the CTC blank, default the last one (C - 1); the other columns map to
  ``alphabet`` in order;
* output: a :class:`Decoded` (text, line confidence, per-word confidences, log score).

Confidence: each output character gets the highest probability it has over the time steps the best
alignment (Viterbi) of the output text gives it; a word's confidence, and the line's, is the geometric
mean of the confidences of its characters (the line's includes spaces). An empty text gets the
geometric mean, over time steps, of the probability of its only alignment (all blanks).
"""
import math
from dataclasses import dataclass, field

import numpy as np

NEG_INF = -math.inf


@dataclass
class Decoded:
    """A decoded line: ``text``; ``confidence`` in [0, 1]; ``word_confidences`` = [(word, confidence)] for the
    space-separated words in order; ``score`` = the decoder's log score (CTC log-likelihood, plus the LM terms
    when a language model was used), or None where the decoder does not compute one; ``path`` = the alignment the
    confidences came from (per time step the index into ``text``'s characters of the one emitted there, -1 on blank
    steps, as viterbi_alignment returns), None when there is none."""
    text: str
    confidence: float
    word_confidences: list[tuple[str, float]] = field(default_factory=list)
    score: float | None = None
    path: np.ndarray | None = field(default=None, compare=False, repr=False)


def to_log_probs(matrix: np.ndarray, log_probs: bool | None = None) -> np.ndarray:
    """T x C probabilities or log-probabilities -> float64 T x C natural-log probabilities.

    ``log_probs``: True / False says what the input is; None detects it (see the module doc). Raises
    ValueError for a matrix that is neither (e.g. raw logits: apply a softmax first)."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] < 2:
        raise ValueError("expected a T x C matrix with C >= 2, got shape %s" % (m.shape,))
    if log_probs is None:
        if m.size and m.min() >= 0 and np.allclose(m.sum(axis=1), 1.0, atol=1e-3):
            log_probs = False
        elif m.size and m.max() <= 1e-6 and np.allclose(np.exp(m).sum(axis=1), 1.0, atol=1e-3):
            log_probs = True
        elif m.size == 0:
            log_probs = True
        else:
            raise ValueError("rows are neither probabilities nor log-probabilities (raw logits? apply a softmax)")
    if log_probs:
        return m
    with np.errstate(divide="ignore"):
        return np.log(m)


def softmax(scores: np.ndarray) -> np.ndarray:
    """Raw scores (..., C) -> probabilities (softmax over the last axis, numerically stable), in their dtype."""
    exp = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """T x C raw scores -> T x C natural-log probabilities (softmax per row, numerically stable)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def column_labels(alphabet: str, num_columns: int, blank: int | None = None) -> tuple[list[str | None], int]:
    """The character of each of ``num_columns`` columns (None for the blank) and the blank's column index."""
    blank = num_columns - 1 if blank is None else blank % num_columns
    if len(alphabet) != num_columns - 1:
        raise ValueError("alphabet has %d characters but the matrix has %d columns (expected %d + blank)"
                         % (len(alphabet), num_columns, len(alphabet)))
    labels: list[str | None] = list(alphabet)
    labels.insert(blank, None)
    return labels, blank


def text_to_columns(text: str, labels: list[str | None]) -> list[int]:
    """Text -> list of column indices under ``labels`` (from column_labels); KeyError on an unknown character."""
    index = {c: i for i, c in enumerate(labels) if c is not None}
    return [index[c] for c in text]


def _extended(columns, blank):
    """CTC state sequence blank, l1, blank, l2, ..., blank and the mask of states that may skip the previous one."""
    states = np.full(2 * len(columns) + 1, blank, dtype=np.int64)
    states[1::2] = columns
    skip = np.zeros(len(states), dtype=bool)
    skip[3::2] = states[3::2] != states[1:-2:2]
    return states, skip


def ctc_log_likelihood(log_probs: np.ndarray, columns: list[int], blank: int) -> float:
    """log P(label sequence | T x C log-probs): the CTC forward pass (sum over all alignments), log domain.

    ``columns``: the label sequence as column indices. Returns -inf when no alignment fits in T steps."""
    lp = np.asarray(log_probs, dtype=np.float64)
    states, skip = _extended(columns, blank)
    emit = lp[:, states]
    two_back = np.where(skip, 0.0, NEG_INF)[2:]
    alpha = np.full(len(states), NEG_INF)
    alpha[:2] = emit[0, :2]
    for t in range(1, len(lp)):
        prev = alpha.copy()
        alpha[1:] = np.logaddexp(alpha[1:], prev[:-1])
        alpha[2:] = np.logaddexp(alpha[2:], prev[:-2] + two_back)
        alpha += emit[t]
    return float(np.logaddexp(alpha[-1], alpha[-2])) if len(states) > 1 else float(alpha[-1])


def viterbi_alignment(log_probs: np.ndarray, columns: list[int], blank: int) -> np.ndarray | None:
    """Most probable alignment of a label sequence to T x C log-probs.

    Returns an int array of length T: for each time step the index (into ``columns``) of the label it emits,
    or -1 for a blank step; None when no alignment fits in T steps."""
    lp = np.asarray(log_probs, dtype=np.float64)
    states, skip = _extended(columns, blank)
    n, steps = len(states), len(lp)
    if steps == 0:
        return np.zeros(0, dtype=np.int64) if not columns else None
    back = np.zeros((steps, n), dtype=np.int8)
    emit = lp[:, states]
    delta = np.full(n, NEG_INF)
    delta[:2] = emit[0, :2]
    one, two = np.full(n, NEG_INF), np.full(n, NEG_INF)
    for t in range(1, steps):
        one[1:] = delta[:-1]
        two[2:] = delta[:-2]
        two[~skip] = NEG_INF
        from_one, from_two = one > delta, two > np.maximum(delta, one)
        back[t] = from_one
        back[t, from_two] = 2
        delta = np.maximum(np.maximum(delta, one), two) + emit[t]
    end = n - 1 if n == 1 or delta[-1] >= delta[-2] else n - 2
    if delta[end] == NEG_INF:
        return None
    path = np.empty(steps, dtype=np.int64)
    for t in range(steps - 1, -1, -1):
        path[t] = end
        end -= back[t, end]
    return np.where(path % 2 == 1, path // 2, -1)


def make_decoded(text: str, log_probs: np.ndarray, labels: list[str | None], blank: int, score: float | None = None,
                 path: np.ndarray | None = None) -> Decoded:
    """Build the :class:`Decoded` of ``text`` for T x C log-probs: confidences from its alignment ``path``
    (label index per time step, -1 for blank, as viterbi_alignment returns; computed when None)."""
    lp = np.asarray(log_probs)
    columns = text_to_columns(text, labels)
    if not text:
        return Decoded(text, float(np.exp(lp[:, blank].mean())) if len(lp) else 1.0, [], score)
    if path is None:
        path = viterbi_alignment(lp, columns, blank)
    char_log = np.full(len(text), NEG_INF)
    if path is not None:
        steps = np.flatnonzero(path >= 0)
        np.maximum.at(char_log, path[steps], lp[steps, np.asarray(columns)[path[steps]]])
    words, start = [], 0
    for word in text.split(" "):
        if word:
            words.append((word, float(np.exp(char_log[start:start + len(word)].mean()))))
        start += len(word) + 1
    return Decoded(text, float(np.exp(char_log.mean())), words, score, path)
