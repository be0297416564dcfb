"""Greedy (best path) CTC decoding: the most probable class per time step, repeats collapsed, blanks dropped."""
import numpy as np

from ocr.core.alphabet import ALPHABET
from ocr.decode.ctc import Decoded, column_labels, make_decoded, to_log_probs


def best_path(log_probs: np.ndarray, blank: int) -> tuple[list[int], np.ndarray]:
    """Best path of T x C log-probs (or probabilities: only the argmax matters).

    Returns (columns, path): the collapsed label sequence as column indices, and for each time step the
    index into it of the label emitted there (-1 on blank steps)."""
    best = np.argmax(np.asarray(log_probs), axis=1)
    emitting = best != blank
    starts = emitting & np.concatenate(([True], best[1:] != best[:-1]))
    path = np.where(emitting, np.cumsum(starts) - 1, -1)
    return best[starts].tolist(), path


def decode_greedy(probs: np.ndarray, alphabet: str = ALPHABET, blank: int | None = None,
                  log_probs: bool | None = None) -> Decoded:
    """Best-path decoding of a T x C matrix (probabilities or log-probabilities, see ``ocr.decode.ctc``).

    ``blank``: the blank column (default last); ``alphabet``: the characters of the other columns in order.
    Returns a Decoded whose ``score`` is the log-probability of the best path itself."""
    lp = to_log_probs(probs, log_probs)
    labels, blank = column_labels(alphabet, lp.shape[1], blank)
    columns, path = best_path(lp, blank)
    text = "".join(labels[c] for c in columns)
    return make_decoded(text, lp, labels, blank, score=float(lp.max(axis=1).sum()), path=path)
