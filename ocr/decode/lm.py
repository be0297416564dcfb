"""Character n-gram language model: interpolated modified Kneser-Ney, count-pruned, stored in backoff form.

Training text: ``load_sentences('train')`` joined by single spaces into one stream (lines of a page start
and end mid-sentence, so there are no sentence-start/end symbols); the vocabulary is ``ocr.core.alphabet.ALPHABET``
(the corpus is normalised to it; a character outside it gets the log-probability ``unk_logp``).

Smoothing (Chen & Goodman 1998): highest order on raw counts, lower orders on continuation counts
N1+(. g); three discounts D1, D2, D3+ per order from the count-of-counts; interpolation down to a uniform
distribution over the vocabulary. Pruning: an n-gram is kept when it occurs at least ``min_counts[n-1]``
times (non-decreasing in n, so every kept n-gram's history and suffix are kept too); kept n-grams keep their
interpolated probability and each history gets the backoff weight that renormalises what was pruned
(as SRILM does): bow(h) = (1 - sum_kept p(w|h)) / (1 - sum_kept p_pruned(w|h[1:])).

Query: log p(w | h) = logp(h w) if stored, else bow(h) + log p(w | h[1:]) (bow = 0 when h is not stored).
File: gzip text, one stored n-gram per line ``ngram<TAB>logp<TAB>bow`` (natural logs), orders ascending,
plus a JSON of settings and figures beside it. Build: ``python utils/build_char_lm.py`` (about 10 s).
"""
import argparse
import gzip
import json
import math
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ocr.core.alphabet import ALPHABET
from ocr.core.paths import MODELS_DIR, atomic_write_bytes, atomic_write_text

DECODING_DIR = os.path.join(MODELS_DIR, "decoding")
DEFAULT_LM_PATH = os.path.join(DECODING_DIR, "char_lm.tsv.gz")
DEFAULT_ORDER = 6
DEFAULT_MIN_COUNTS = (1, 1, 2, 3, 3, 3)


class CharNgramLM:
    """A character n-gram model in backoff form. ``logprobs``: {ngram: log p(last char | the others)};
    ``backoffs``: {history: log backoff weight} (absent = 0); ``order``: the n-gram order; ``unk_logp``: the
    log-probability given to a character that is not in the vocabulary."""

    def __init__(self, logprobs: dict[str, float], backoffs: dict[str, float], order: int, unk_logp: float) -> None:
        self.logprobs = logprobs
        self.backoffs = backoffs
        self.order = order
        self.unk_logp = unk_logp

    def log_prob(self, char: str, context: str = "") -> float:
        """Natural-log P(char | context); only the last ``order - 1`` characters of ``context`` matter. (Not
        cached: a cache of every context seen grew by about 0.75 MB a page in a folder run and saved the beam
        search a few % of its time at most.)"""
        context = context[len(context) - self.order + 1:] if len(context) >= self.order else context
        total = 0.0
        for start in range(len(context) + 1):
            history = context[start:]
            logp = self.logprobs.get(history + char)
            if logp is not None:
                return total + logp
            total += self.backoffs.get(history, 0.0)
        return total + self.unk_logp

    def score(self, text: str, context: str = "") -> float:
        """Natural-log probability of ``text`` following ``context``: the sum of log_prob over its characters."""
        full, total = context + text, 0.0
        for i in range(len(context), len(full)):
            total += self.log_prob(full[i], full[max(0, i - self.order + 1):i])
        return total

    @classmethod
    def load(cls, path: str = DEFAULT_LM_PATH) -> "CharNgramLM":
        """Read a model written by ``save_lm`` (the gzip text file; its JSON settings sit beside it)."""
        with open(_settings_path(path), encoding="utf-8") as f:
            settings = json.load(f)
        logprobs, backoffs = {}, {}
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                ngram, logp, bow = line.rstrip("\n").split("\t")
                logprobs[ngram] = float(logp)
                if bow != "0":
                    backoffs[ngram] = float(bow)
        return cls(logprobs, backoffs, settings["order"], settings["unk_logp"])


def _settings_path(path):
    return path[:-len(".tsv.gz")] + ".json" if path.endswith(".tsv.gz") else path + ".json"


def _ngram_codes(ids, n, base):
    """Integer code of every n-gram of the id stream: sum ids[i+k] * base**(n-1-k)."""
    codes = np.zeros(len(ids) - n + 1, dtype=np.int64)
    for k in range(n):
        codes = codes * base + ids[k:len(ids) - n + 1 + k]
    return codes


def _discounts(counts):
    """Modified Kneser-Ney discounts (D1, D2, D3+) from the count-of-counts of ``counts``."""
    n1, n2, n3, n4 = (max(int(np.sum(counts == k)), 1) for k in (1, 2, 3, 4))
    y = n1 / (n1 + 2.0 * n2)
    d = np.array([0.0, 1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3])
    return np.clip(d, 0.0, [0.0, 1.0, 2.0, 3.0])


def _lookup(keys, codes):
    """Positions of ``codes`` in the sorted array ``keys`` and whether each was found."""
    pos = np.minimum(np.searchsorted(keys, codes), len(keys) - 1)
    return pos, keys[pos] == codes


class _Tables:
    """The pruned model as sorted code arrays per order (index n-1 for order n): codes, logp, bow."""

    def __init__(self, vocab_size: int) -> None:
        self.base = vocab_size
        self.codes, self.logp, self.bow = [], [], []

    def query(self, codes: np.ndarray, n: int) -> np.ndarray:
        """Vectorised log p_pruned(last | history) for n-gram ``codes`` of order n (backoff recursion)."""
        if n == 1:
            return self.logp[0][codes]
        pos, found = _lookup(self.codes[n - 1], codes)
        out = np.where(found, self.logp[n - 1][pos], 0.0)
        missing = ~found
        if missing.any():
            hist_pos, hist_found = _lookup(self.codes[n - 2], codes[missing] // self.base)
            bow = np.where(hist_found, self.bow[n - 2][hist_pos], 0.0)
            out[missing] = bow + self.query(codes[missing] % self.base ** (n - 1), n - 1)
        return out


def train_lm(text: str, order: int = DEFAULT_ORDER, min_counts: Sequence[int] = DEFAULT_MIN_COUNTS,
             vocabulary: str = ALPHABET) -> tuple[_Tables, dict[str, Any]]:
    """Train on one string (characters of ``vocabulary`` only). Returns (tables, settings): the pruned model
    as a _Tables and a dict of its settings and n-gram counts."""
    min_counts = tuple(min_counts)[:order]
    if len(min_counts) != order or any(b < a for a, b in zip(min_counts, min_counts[1:])) or min_counts[0] != 1:
        raise ValueError("min_counts needs one value per order, non-decreasing, starting at 1")
    index = {c: i for i, c in enumerate(vocabulary)}
    ids = np.array([index[c] for c in text], dtype=np.int64)
    base = len(vocabulary)
    raw = [np.unique(_ngram_codes(ids, n, base), return_counts=True) for n in range(1, order + 1)]
    tables, full_logp, discounts = _Tables(base), [], []
    for n in range(1, order + 1):
        codes, counts = raw[n - 1]
        if n < order:            # continuation counts: distinct left extensions of each n-gram
            suffixes, cont = np.unique(raw[n][0] % base ** n, return_counts=True)
            pos, found = _lookup(suffixes, codes)
            adjusted = np.where(found, cont[pos], 1)
        else:
            adjusted = counts
        d = _discounts(adjusted)
        discounts.append(d[1:].round(4).tolist())
        discounted = adjusted - d[np.minimum(adjusted, 3)]
        if n == 1:
            total = adjusted.sum()
            gamma = np.bincount(np.minimum(adjusted, 3), minlength=4)[1:] @ d[1:] / total
            logp = np.full(base, math.log(gamma / base))
            logp[codes] = np.log(discounted / total + gamma / base)
            full_logp.append(logp)
            tables.codes.append(np.arange(base, dtype=np.int64))
            tables.logp.append(logp)
            continue
        _, inverse = np.unique(codes // base, return_inverse=True)
        totals = np.bincount(inverse, weights=adjusted)
        mass = np.bincount(inverse, weights=d[np.minimum(adjusted, 3)])
        suffixes = codes % base ** (n - 1)
        lower = full_logp[0][suffixes] if n == 2 else full_logp[n - 2][_lookup(raw[n - 2][0], suffixes)[0]]
        logp = np.log(discounted / totals[inverse] + mass[inverse] / totals[inverse] * np.exp(lower))
        full_logp.append(logp)
        keep = counts >= min_counts[n - 1]
        kept_codes, kept_logp = codes[keep], logp[keep]
        # backoff weights of the kept histories (the kept (n-1)-grams) for this order
        parents, parent_inv = np.unique(kept_codes // base, return_inverse=True)
        kept_sum = np.bincount(parent_inv, weights=np.exp(kept_logp))
        lower_sum = np.bincount(parent_inv, weights=np.exp(tables.query(kept_codes % base ** (n - 1), n - 1)))
        bow_values = np.log(np.maximum(1 - kept_sum, 1e-12)) - np.log(np.maximum(1 - lower_sum, 1e-12))
        bow = np.zeros(len(tables.codes[n - 2]))
        bow[_lookup(tables.codes[n - 2], parents)[0]] = bow_values
        tables.bow.append(bow)
        tables.codes.append(kept_codes)
        tables.logp.append(kept_logp)
    tables.bow.append(np.zeros(len(tables.codes[-1])))
    settings = {"order": order, "min_counts": list(min_counts), "smoothing": "interpolated modified Kneser-Ney",
                "discounts": discounts, "vocabulary": vocabulary, "training_chars": int(len(ids)),
                "ngrams_per_order": [int(len(c)) for c in tables.codes],
                "unk_logp": float(tables.logp[0].min())}
    return tables, settings


def _code_to_text(code, n, vocabulary):
    base = len(vocabulary)
    chars = []
    for _ in range(n):
        code, rem = divmod(code, base)
        chars.append(vocabulary[rem])
    return "".join(reversed(chars))


def tables_to_lm(tables: _Tables, settings: dict[str, Any]) -> CharNgramLM:
    """The trained tables as a CharNgramLM (what load() would return after save_lm)."""
    logprobs, backoffs = {}, {}
    vocabulary = settings["vocabulary"]
    for n, (codes, logp, bow) in enumerate(zip(tables.codes, tables.logp, tables.bow), start=1):
        for code, lp, b in zip(codes.tolist(), logp.tolist(), bow.tolist()):
            key = _code_to_text(code, n, vocabulary)
            logprobs[key] = round(lp, 4)
            if round(b, 4):
                backoffs[key] = round(b, 4)
    return CharNgramLM(logprobs, backoffs, settings["order"], settings["unk_logp"])


def save_lm(lm: CharNgramLM, settings: dict[str, Any], path: str = DEFAULT_LM_PATH) -> None:
    """Write ``lm`` (a CharNgramLM) as gzip text and ``settings`` as JSON beside it, atomically."""
    lines = ["%s\t%.4f\t%s" % (ngram, logp, ("%.4f" % lm.backoffs[ngram]) if ngram in lm.backoffs else "0")
             for ngram, logp in sorted(lm.logprobs.items(), key=lambda item: (len(item[0]), item[0]))]
    atomic_write_bytes(path, gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0))
    atomic_write_text(_settings_path(path), json.dumps(settings, indent=1, ensure_ascii=False) + "\n")


def bits_per_char(lm: CharNgramLM, text: str) -> float:
    """Cross-entropy of ``lm`` on ``text`` in bits per character (each character given its full context)."""
    return -lm.score(text) / max(1, len(text)) / math.log(2)


def held_out_texts(iamondb: str | None = None) -> dict[str, str]:
    """{name: held-out text} to measure a LM on: the corpus validation part (first 200,000 characters) and, with
    an IAM-OnDB tree, its validation forms' lines (``ocr.data.prose.iamondb_validation_text``)."""
    from ocr.data.corpus import load_sentences
    texts = {"corpus_validation": " ".join(load_sentences("validation"))[:200000]}
    if iamondb:
        from ocr.data.prose import iamondb_validation_text
        texts["iamondb_validation"] = iamondb_validation_text(iamondb)
    return texts


def build(order: int = DEFAULT_ORDER, min_counts: Sequence[int] = DEFAULT_MIN_COUNTS, path: str = DEFAULT_LM_PATH,
          prose: bool = False, iamondb: str | None = None) -> CharNgramLM:
    """Train on the corpus train part (plus ``ocr.data.prose`` sentences when ``prose``), report held-out bits/char
    (``held_out_texts``), save. Returns the LM."""
    from ocr.data.corpus import load_sentences
    started = time.time()
    sentences = load_sentences("train")
    if prose:
        from ocr.data.prose import load_prose
        sentences = sentences + load_prose()
    tables, settings = train_lm(" ".join(sentences), order, min_counts)
    lm = tables_to_lm(tables, settings)
    held_out = held_out_texts(iamondb)
    settings.update({"training_data": "ocr.data.corpus load_sentences('train')%s joined by spaces"
                                      % (" + ocr.data.prose load_prose()" if prose else ""),
                     "command": "python utils/build_char_lm.py --order %d --min-counts %s%s%s"
                                % (order, ",".join(map(str, min_counts)), " --prose" if prose else "",
                                   " --iamondb " + iamondb if iamondb else ""),
                     "validation_bits_per_char": round(bits_per_char(lm, held_out["corpus_validation"]), 4),
                     "validation_chars": len(held_out["corpus_validation"])})
    if iamondb:
        settings["iamondb_validation_bits_per_char"] = round(bits_per_char(lm, held_out["iamondb_validation"]), 4)
        settings["iamondb_validation_chars"] = len(held_out["iamondb_validation"])
    settings["build_seconds"] = round(time.time() - started, 1)
    save_lm(lm, settings, path)
    settings["file_bytes"] = os.path.getsize(path)
    atomic_write_text(_settings_path(path), json.dumps(settings, indent=1, ensure_ascii=False) + "\n")
    return lm


def main(argv: list[str] | None = None) -> None:
    """Command line of utils/build_char_lm.py: build the LM and print its settings."""
    parser = argparse.ArgumentParser(description="Train the character LM on the corpus train part and save it.")
    parser.add_argument("--order", type=int, default=DEFAULT_ORDER)
    parser.add_argument("--min-counts", default=",".join(map(str, DEFAULT_MIN_COUNTS)),
                        help="comma-separated minimum count per order (non-decreasing, first 1)")
    parser.add_argument("-o", "--output", default=DEFAULT_LM_PATH)
    parser.add_argument("--prose", action="store_true", help="train on ocr.data.prose sentences too")
    parser.add_argument("--iamondb", help="IAM-OnDB tree: also report bits/char on its validation forms' text")
    parser.add_argument("--measure", metavar="LM", help="only print the bits/char of an existing LM file")
    args = parser.parse_args(argv)
    if args.measure:
        lm = CharNgramLM.load(args.measure)
        for name, text in held_out_texts(args.iamondb).items():
            print("%s: %.4f bits/char (%d chars)" % (name, bits_per_char(lm, text), len(text)))
        return
    build(args.order, tuple(int(x) for x in args.min_counts.split(",")), args.output, args.prose, args.iamondb)
    with open(_settings_path(args.output), encoding="utf-8") as f:
        print(f.read())

