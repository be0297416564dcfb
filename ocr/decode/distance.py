"""Weighted edit distance with per-character costs, for ranking lexicon candidates for an OCR'd word.

Direction: ``weighted_distance(observed, intended)`` is the cost of turning what the recogniser read into a
candidate word, so the costs describe recogniser errors:

* ``insertion[c]``: the recogniser missed a ``c`` that was written (the candidate has a ``c`` more);
* ``deletion[c]``: the recogniser produced a spurious ``c``;
* ``substitution[a][b]``: the recogniser read ``a`` where ``b`` was written.

Every cost not in the tables is ``default`` (1.0), so unit tables give the Levenshtein distance. Tables are
JSON files under ``models/decoding``: ``edit_costs.json`` when ``utils/learn_edit_costs.py`` has learned one,
else the shipped all-1.0 ``edit_costs_default.json``.
"""
import json
import os
from typing import Any

from ocr.metrics import align as metrics_align
from ocr.core.paths import MODELS_DIR, atomic_write_text

LEARNED_COSTS_PATH = os.path.join(MODELS_DIR, "decoding", "edit_costs.json")
DEFAULT_COSTS_PATH = os.path.join(MODELS_DIR, "decoding", "edit_costs_default.json")
DISTANCE_CACHE_SIZE = 100_000        # (observed, intended) distances an EditCosts keeps: about 15 MB


class EditCosts:
    """Insertion / deletion costs {char: cost}, substitution costs {observed: {intended: cost}}, a default for
    everything else, and free-form ``info`` (how the table was made). Distances are cached per instance, up to
    DISTANCE_CACHE_SIZE pairs (then the cache starts again: a long run does not grow without bound)."""

    def __init__(self, insertion: dict[str, float] | None = None, deletion: dict[str, float] | None = None,
                 substitution: dict[str, dict[str, float]] | None = None, default: float = 1.0,
                 info: dict[str, Any] | None = None) -> None:
        self.insertion = dict(insertion or {})
        self.deletion = dict(deletion or {})
        self.substitution = {a: dict(row) for a, row in (substitution or {}).items()}
        self.default = float(default)
        self.info = dict(info or {})
        self._cache = {}

    def distance(self, observed: str, intended: str) -> float:
        """Weighted edit distance from ``observed`` to ``intended`` (dynamic programming, cached)."""
        key = (observed, intended)
        value = self._cache.get(key)
        if value is None:
            if len(self._cache) >= DISTANCE_CACHE_SIZE:
                self._cache.clear()
            value = self._cache[key] = self._distance(observed, intended)
        return value

    def _distance(self, observed, intended):
        ins, dele, sub, default = self.insertion, self.deletion, self.substitution, self.default
        previous = [0.0]
        for b in intended:
            previous.append(previous[-1] + ins.get(b, default))
        for a in observed:
            row = [previous[0] + dele.get(a, default)]
            sub_a, del_a = sub.get(a, {}), dele.get(a, default)
            for j, b in enumerate(intended):
                replace = previous[j] + (0.0 if a == b else sub_a.get(b, default))
                row.append(min(replace, previous[j + 1] + del_a, row[j] + ins.get(b, default)))
            previous = row
        return previous[-1]

    def to_json(self) -> dict[str, Any]:
        """The table as a JSON-ready dict (only the costs that differ from the default are listed)."""
        return {"default": self.default, "insertion": self.insertion, "deletion": self.deletion,
                "substitution": self.substitution, "info": self.info}

    def save(self, path: str | os.PathLike) -> None:
        """Write the table as JSON, atomically."""
        atomic_write_text(path, json.dumps(self.to_json(), indent=1, ensure_ascii=False, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "EditCosts":
        """Read a table written by save()."""
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return cls(data.get("insertion"), data.get("deletion"), data.get("substitution"),
                   data.get("default", 1.0), data.get("info"))

    @classmethod
    def load_default(cls) -> "EditCosts":
        """The learned table when one exists (models/decoding/edit_costs.json), else the shipped unit table."""
        return cls.load(LEARNED_COSTS_PATH if os.path.exists(LEARNED_COSTS_PATH) else DEFAULT_COSTS_PATH)


def align(observed: str, intended: str) -> list[tuple[str, str | None, str | None]]:
    """A minimal (unit-cost) alignment of two strings as a list of operations, in order:
    ('match', a, a), ('sub', a, b) (read a, b written), ('del', a, None) (a spurious), ('ins', None, b) (b
    missed). It is ocr.metrics.align with ``intended`` as the reference, in the recogniser-error terms above."""
    names = {"C": "match", "S": "sub", "D": "ins", "I": "del"}
    return [(names[op], read, written) for op, written, read in metrics_align(intended, observed)]


UNIT_COSTS = EditCosts(info={"method": "unit costs: Levenshtein distance"})


def weighted_distance(observed: str, intended: str, costs: EditCosts | None = None) -> float:
    """Weighted edit distance from ``observed`` (what was read) to ``intended`` (a candidate) under ``costs``
    (an EditCosts; None = unit costs, i.e. the Levenshtein distance)."""
    return (costs or UNIT_COSTS).distance(observed, intended)
