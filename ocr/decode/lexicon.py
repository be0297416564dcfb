"""Lexicon search: a CTC decoder's words that are not in a lexicon are replaced by close, frequent words.

For each word of the decoded line (a run of letters, with inner apostrophes, not touching a digit):

1. kept when its lower case is in the lexicon (or when it is a single letter);
2. else candidates = lexicon words within 2 plain edits (OSA distance, scanned by ``rapidfuzz`` among the words
   of a near length: the words SymSpell's symmetric-delete lookup finds, without its 3 s index build);
3. each candidate gets ``weighted_distance(word, candidate) + frequency_weight * log10(top count / count)``
   (``ocr.decode.distance``: learned costs when present, else unit costs; the second term is the
   candidate's rarity in decades of frequency below the most frequent word);
4. the best candidate replaces the word when its weighted distance is at most
   ``min(max_distance, max_ratio * len(word))`` and its characters are in the recogniser's alphabet, else
   the word stays;
5. case comes back from the original (``Tbe`` -> ``The``, ``TBE`` -> ``THE``); punctuation and spacing are
   untouched (``Tbe,`` -> ``The,``). A word with an apostrophe not in the lexicon is corrected on the part
   before its first apostrophe (``Tbe's`` -> ``The's``).

With the matrix at hand (``decode_lexicon(..., rank='matrix')``), step 3 ranks the close candidates by the
recogniser's own evidence instead: log P_ctc(line with the candidate) + log(count / top count).

The default lexicon is the English frequency list that ``symspellpy`` ships (82,765 lower-case words with
counts); ``Lexicon.from_text_file`` makes one from any text (word counts from the text itself).
"""
import math
import os
import re
from typing import Any

import numpy as np
import symspellpy
from rapidfuzz import process
from rapidfuzz.distance import OSA

from ocr.core.alphabet import ALPHABET
from ocr.core.paths import MODELS_DIR
from ocr.decode.beam_search import prefix_beam_search
from ocr.decode.ctc import Decoded, column_labels, ctc_log_likelihood, make_decoded, text_to_columns, to_log_probs
from ocr.decode.distance import EditCosts
from ocr.decode.greedy import decode_greedy

ENGLISH_WORDS_PATH = os.path.join(os.path.dirname(symspellpy.__file__), "frequency_dictionary_en_82_765.txt")
PROSE_WORDS_PATH = os.path.join(MODELS_DIR, "decoding", "prose_words.txt")
WORD = re.compile(r"(?<![\w'])[A-Za-z]+(?:'[A-Za-z]+)*(?![\w'])")
MAX_EDITS = 2
CANDIDATE_CACHE_SIZE = 10_000       # words whose close candidates a LexiconCorrector keeps: about 20 MB


class Lexicon:
    """Lower-case words with counts, grouped by length for candidate generation (no index to build: a lookup
    scans, in C, the words whose length is within MAX_EDITS of the query's)."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = dict(counts)
        self.top_count = max(self.counts.values())
        by_length = {}
        for word in self.counts:
            by_length.setdefault(len(word), []).append(word)
        self._by_length = by_length

    def __contains__(self, word: str) -> bool:
        return word.lower() in self.counts

    def candidates(self, word: str) -> list[tuple[str, int]]:
        """[(lexicon word, count)] within MAX_EDITS plain edits (OSA distance: insertions, deletions,
        substitutions, adjacent transpositions) of ``word`` lower-cased, nearest first, then most frequent.
        The same words as SymSpell's symmetric-delete lookup (Verbosity.ALL), without its index."""
        word = word.lower()
        found = []
        for length in range(max(1, len(word) - MAX_EDITS), len(word) + MAX_EDITS + 1):
            choices = self._by_length.get(length)
            if choices:
                found += process.extract(word, choices, scorer=OSA.distance, score_cutoff=MAX_EDITS, limit=None)
        found.sort(key=lambda item: (item[1], -self.counts[item[0]], item[0]))
        return [(term, self.counts[term]) for term, _, _ in found]

    @classmethod
    def english(cls) -> "Lexicon":
        """The English frequency list shipped by symspellpy (``word count`` per line), plus the words of
        PROSE_WORDS_PATH (``utils/build_word_list.py``: names and words of handwritten-style prose that the list
        lacks), each as rare as the list's rarest word."""
        counts = read_word_counts(ENGLISH_WORDS_PATH)
        if os.path.exists(PROSE_WORDS_PATH):
            rarest = min(counts.values())
            with open(PROSE_WORDS_PATH, encoding="utf-8") as f:
                for word in f.read().split():
                    counts.setdefault(word, rarest)
        return cls(counts)

    @classmethod
    def from_text_file(cls, path: str | os.PathLike) -> "Lexicon":
        """Every word (letters and inner apostrophes) of a text file, lower-cased, counted."""
        counts = {}
        with open(path, encoding="utf-8") as f:
            for word in WORD.findall(f.read()):
                counts[word.lower()] = counts.get(word.lower(), 0) + 1
        return cls(counts)


def read_word_counts(path: str) -> dict[str, int]:
    """{word: count} of a ``word count`` per line file."""
    counts = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            word, count = line.split()
            counts[word] = int(count)
    return counts


def _restore_case(original, word):
    if len(original) > 1 and original.isupper():
        return word.upper()
    if original[0].isupper():
        return word[0].upper() + word[1:]
    return word


class LexiconCorrector:
    """Word-by-word correction of decoded text against a lexicon (see the module doc for the rule).

    ``lexicon``: a Lexicon (default: English); ``costs``: an EditCosts (default: learned, else unit)."""

    def __init__(self, lexicon: Lexicon | None = None, costs: EditCosts | None = None, max_distance: float = 2.0,
                 max_ratio: float = 0.34, frequency_weight: float = 0.1) -> None:
        self.lexicon = lexicon if lexicon is not None else _english()
        self.costs = costs if costs is not None else EditCosts.load_default()
        self.max_distance, self.max_ratio, self.frequency_weight = max_distance, max_ratio, frequency_weight
        self._cache = {}

    def close_candidates(self, word: str, alphabet: str = ALPHABET) -> list[tuple[str, float, int]]:
        """[(replacement, weighted distance, count)] for a word that is not in the lexicon: the candidates within
        the distance limit, case restored, written in ``alphabet``; [] for a lexicon word or a single letter."""
        if len(word) < 2 or word in self.lexicon:
            return []
        if "'" in word:
            stem, rest = word.split("'", 1)
            return [(c + "'" + rest, d, n) for c, d, n in self.close_candidates(stem, alphabet)]
        lower = word.lower()
        found = self._cache.get(lower)
        if found is None:
            if len(self._cache) >= CANDIDATE_CACHE_SIZE:      # a long run does not grow without bound
                self._cache.clear()
            limit = min(self.max_distance, self.max_ratio * len(lower))
            scored = ((c, self.costs.distance(lower, c), n) for c, n in self.lexicon.candidates(lower))
            found = self._cache[lower] = [item for item in scored if item[1] <= limit]
        allowed = set(alphabet)
        return [(_restore_case(word, c), d, n) for c, d, n in found if allowed.issuperset(_restore_case(word, c))]

    def correct_word(self, word: str, alphabet: str = ALPHABET) -> str:
        """The replacement of one word (letters and inner apostrophes): the close candidate with the lowest
        ``distance + frequency_weight * log10(top count / count)``, or the word itself when there is none."""
        candidates = self.close_candidates(word, alphabet)
        if not candidates:
            return word
        top = self.lexicon.top_count
        return min(candidates, key=lambda c: c[1] + self.frequency_weight * math.log10(top / c[2]))[0]

    def correct_text(self, text: str, alphabet: str = ALPHABET) -> str:
        """``text`` with every word corrected; everything between words is kept as it is. Replacements must
        be written with characters of ``alphabet``."""
        return WORD.sub(lambda match: self.correct_word(match.group(0), alphabet), text)


_ENGLISH = []


def _english():
    """The English lexicon, read once per process (about 0.1 s)."""
    if not _ENGLISH:
        _ENGLISH.append(Lexicon.english())
    return _ENGLISH[0]


def rank_by_matrix(text: str, log_probs: np.ndarray, labels: list[str | None], blank: int,
                   corrector: LexiconCorrector, alphabet: str = ALPHABET) -> str:
    """Correct ``text`` choosing each word's replacement with the T x C log-probs: among the close candidates
    (the corrector's distance limit), the one with the highest log P_ctc(line with it) + log(count / top
    count), the Bayes rule with the recogniser as the channel; a word without close candidates stays.
    Words are decided from the last to the first, each with the decisions after it in place."""
    top = corrector.lexicon.top_count
    for match in reversed(list(WORD.finditer(text))):
        best, best_score = match.group(0), None
        for candidate, _, count in corrector.close_candidates(match.group(0), alphabet):
            trial = text[:match.start()] + candidate + text[match.end():]
            score = ctc_log_likelihood(log_probs, text_to_columns(trial, labels), blank) + math.log(count / top)
            if best_score is None or score > best_score:
                best, best_score = candidate, score
        text = text[:match.start()] + best + text[match.end():]
    return text


def decode_lexicon(probs: np.ndarray, alphabet: str = ALPHABET, blank: int | None = None,
                   log_probs: bool | None = None, corrector: LexiconCorrector | None = None, base: str = "greedy",
                   rank: str = "distance", **base_options: Any) -> Decoded:
    """Decode a T x C matrix (probabilities or log-probabilities) with the ``base`` decoder ('greedy' or
    'beam', with ``base_options``), then correct its words with ``corrector`` (a LexiconCorrector; default
    English lexicon and default costs). ``rank``: 'distance' ranks close candidates by weighted distance and
    frequency (LexiconCorrector.correct_word), 'matrix' by the matrix and frequency (rank_by_matrix).
    Confidences come from the matrix for the corrected text."""
    lp = to_log_probs(probs, log_probs)
    if base == "greedy":
        text = decode_greedy(lp, alphabet, blank, log_probs=True).text
    elif base == "beam":
        text = prefix_beam_search(lp, alphabet, blank, log_probs=True, **base_options)[0].text
    else:
        raise ValueError("base decoder must be 'greedy' or 'beam', not %r" % base)
    corrector = corrector if corrector is not None else LexiconCorrector()
    labels, blank = column_labels(alphabet, lp.shape[1], blank)
    if rank == "distance":
        text = corrector.correct_text(text, alphabet)
    elif rank == "matrix":
        text = rank_by_matrix(text, lp, labels, blank, corrector, alphabet)
    else:
        raise ValueError("rank must be 'distance' or 'matrix', not %r" % rank)
    return make_decoded(text, lp, labels, blank)
