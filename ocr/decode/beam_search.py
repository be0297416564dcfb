"""CTC prefix beam search (Graves 2012; Hannun et al. 2014) in the log domain, with an optional character LM.

Each prefix keeps two log-probabilities: of the alignments of the steps so far that produce it and end in a
blank (``pb``) or in its last character (``pnb``); a repeated character is only appended from ``pb``. With a
language model a prefix is ranked by

    log P_ctc(prefix) + alpha * log P_lm(prefix) + beta * len(prefix)

(``alpha`` weighs the LM, ``beta`` is a per-character insertion bonus that offsets the LM's pull towards
short texts). Pruning for speed: at each step only the characters with probability >= ``min_prob`` are tried
as extensions (the step's most probable character always is), and at most ``width`` prefixes survive the
step, those scoring within ``margin`` (natural log) of the best.

A beam can lose a prefix that would have won in the end, so the greedy text is scored too (a CTC forward
pass, plus the LM terms) and takes its place in the n-best when it scores higher: the result is never less
probable than greedy's under the same scoring.
"""
import heapq
import math
from typing import Any

import numpy as np

from ocr.core.alphabet import ALPHABET
from ocr.decode.ctc import NEG_INF, Decoded, column_labels, ctc_log_likelihood, make_decoded, to_log_probs
from ocr.decode.greedy import best_path
from ocr.decode.lm import CharNgramLM


def _logadd(a, b):
    """log(exp(a) + exp(b)) for Python floats, safe with -inf."""
    if a < b:
        a, b = b, a
    if b == NEG_INF:
        return a
    return a + math.log1p(math.exp(b - a))


def _search(lp, labels, blank, width, min_prob, margin, lm, alpha, beta):
    """The beam proper on T x C log-probs: {prefix: [pb, pnb, lm_score, last column]} of the surviving prefixes."""
    keep = lp >= math.log(min_prob)
    keep[np.arange(len(lp)), lp.argmax(axis=1)] = True
    keep[:, blank] = False
    candidates = [np.flatnonzero(row).tolist() for row in keep]
    bonus = {}                      # (prefix, column) -> alpha * log P_lm(char | prefix) + beta
    beams = {"": [0.0, NEG_INF, 0.0, -1]}
    for row, extend in zip(lp.tolist(), candidates):
        blank_lp = row[blank]
        grown = {}
        for prefix, (pb, pnb, lm_score, last) in beams.items():
            total = _logadd(pb, pnb)
            entry = grown.get(prefix)
            if entry is None:
                grown[prefix] = entry = [NEG_INF, NEG_INF, lm_score, last]
            entry[0] = _logadd(entry[0], total + blank_lp)
            if last >= 0:
                entry[1] = _logadd(entry[1], pnb + row[last])
            for c in extend:
                new = prefix + labels[c]
                entry = grown.get(new)
                if entry is None:
                    step_bonus = 0.0
                    if lm is not None:
                        step_bonus = bonus.get((prefix, c))
                        if step_bonus is None:
                            step_bonus = bonus[prefix, c] = alpha * lm.log_prob(labels[c], prefix) + beta
                    grown[new] = entry = [NEG_INF, NEG_INF, lm_score + step_bonus, c]
                entry[1] = _logadd(entry[1], (pb if c == last else total) + row[c])
        if not extend:           # the same prefixes as before this step: keep them all
            beams = grown
            continue
        ranked = heapq.nlargest(width, ((_logadd(e[0], e[1]) + e[2], p) for p, e in grown.items()))
        floor = ranked[0][0] - margin
        beams = {p: grown[p] for score, p in ranked if score >= floor}
    return beams


def prefix_beam_search(probs: np.ndarray, alphabet: str = ALPHABET, blank: int | None = None,
                       log_probs: bool | None = None, width: int = 10, n_best: int = 1, min_prob: float = 3e-3,
                       margin: float = 10.0, lm: CharNgramLM | None = None, alpha: float = 0.5,
                       beta: float = 1.0) -> list[Decoded]:
    """CTC prefix beam search over a T x C matrix (probabilities or log-probabilities, see ``ocr.decode.ctc``).

    ``width``: prefixes kept per step; ``min_prob``, ``margin``: pruning of unlikely characters and prefixes
    per step (``margin=inf`` keeps ``width`` prefixes always, for an n-best list); ``lm``: a
    CharNgramLM or None; ``alpha``/``beta``: LM weight and per-character bonus (used only with ``lm``).
    Returns the ``n_best`` best as a list of Decoded, best first; ``score`` = the ranking score above."""
    lp = to_log_probs(probs, log_probs)
    labels, blank = column_labels(alphabet, lp.shape[1], blank)
    if lm is None:
        alpha = beta = 0.0
    beams = _search(lp, labels, blank, width, min_prob, margin, lm, alpha, beta)
    scored = {prefix: _logadd(pb, pnb) + lm_score for prefix, (pb, pnb, lm_score, _) in beams.items()}
    columns, _ = best_path(lp, blank)
    greedy = "".join(labels[c] for c in columns)
    if greedy not in scored:
        lm_terms = alpha * lm.score(greedy) + beta * len(greedy) if lm is not None else 0.0
        scored[greedy] = ctc_log_likelihood(lp, columns, blank) + lm_terms
    ranked = heapq.nlargest(n_best, scored.items(), key=lambda item: item[1])
    return [make_decoded(text, lp, labels, blank, score=score) for text, score in ranked]


def decode_beam(probs: np.ndarray, alphabet: str = ALPHABET, blank: int | None = None, log_probs: bool | None = None,
                **options: Any) -> Decoded:
    """The best result of prefix_beam_search (same arguments, n_best excepted) as one Decoded."""
    return prefix_beam_search(probs, alphabet, blank, log_probs, n_best=1, **options)[0]
