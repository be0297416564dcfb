"""Error rates and box overlap. Strings are compared exactly (case and spaces count) unless a function says otherwise.

CER/WER come in two conventions:
* pooled (the HTR convention): total edit distance / total reference length, spaces included;
* mean per item (the reference's sclite convention): the mean of per-line (or per-page) error rates.
"""
import editdistance


def edit_distance(a, b):
    """Levenshtein distance between two sequences (strings or lists of words)."""
    return editdistance.eval(a, b)


def cer(hypotheses, references):
    """Pooled character error rate: sum of edit distances / total reference characters (spaces included)."""
    errors = sum(edit_distance(h, r) for h, r in zip(hypotheses, references, strict=True))
    return errors / max(1, sum(len(r) for r in references))


def wer(hypotheses, references):
    """Pooled word error rate over whitespace-split words."""
    errors = sum(edit_distance(h.split(), r.split()) for h, r in zip(hypotheses, references, strict=True))
    return errors / max(1, sum(len(r.split()) for r in references))
