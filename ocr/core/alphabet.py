"""The one alphabet of the toolkit: the reference's printable set without its stray backslash.

CTC class ``i`` (0 <= i < len(ALPHABET)) is ``ALPHABET[i]``; the CTC blank is the last class,
``BLANK = len(ALPHABET)``, so a recogniser outputs ``NUM_CLASSES = len(ALPHABET) + 1`` scores per step.
"""
from collections.abc import Iterable

import numpy as np

ALPHABET = (" !\"#&'()*+,-./0123456789:;?"
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
            "abcdefghijklmnopqrstuvwxyz")
BLANK = len(ALPHABET)
NUM_CLASSES = len(ALPHABET) + 1
CHAR_TO_INDEX = {c: i for i, c in enumerate(ALPHABET)}


def encode(text: str) -> np.ndarray:
    """Text -> int32 array of class indices, shape (len(text),). Raises ValueError on a character outside ALPHABET."""
    try:
        return np.array([CHAR_TO_INDEX[c] for c in text], dtype=np.int32)
    except KeyError as err:
        raise ValueError("character %r is not in the alphabet" % err.args[0]) from None


def decode(indices: Iterable[int]) -> str:
    """Class indices (e.g. an int array (n,)) -> text; the blank and negative padding are skipped (no CTC collapse
    here)."""
    return "".join(ALPHABET[i] for i in indices if 0 <= i < BLANK)


def in_alphabet(text: str) -> bool:
    """True when every character of ``text`` is in ALPHABET."""
    return all(c in CHAR_TO_INDEX for c in text)
