"""A local IAM On-Line Handwriting Database (IAM-OnDB) tree: pen strokes paired with their transcriptions.

Layout as unpacked from ``lineStrokes-all.tar.gz`` and ``ascii-all.tar.gz``::

    ROOT/lineStrokes/n04/n04-361/n04-361z-01.xml   <StrokeSet><Stroke><Point x= y= time=/>...
    ROOT/ascii/n04/n04-361/n04-361z.txt            ... "CSR:" then the form's lines as written, line 01 first

The CSR text is tokenised ("Mr . Foot ' s", "black - listed", '" prop up "'); ``detokenize`` turns it into
the line-text conventions of IAM's xml ("Mr. Foot's", "black-listed", '"prop up"'), and ``CHARACTER_MAP`` maps
the few characters outside the alphabet once. Strokes are in tablet units with y growing downwards.

Splits are by form. The copy has no writer ids, but each recording session (one writer writing several forms
in a row) has a running clock, so forms whose first pen-down times lie within ``SESSION_GAP_S`` of each
other are grouped as one session and a session goes to one split only (``form_sessions``).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ocr.core.alphabet import in_alphabet

SPLIT_FRACTIONS = (0.9, 0.05, 0.05)       # train / validation / test shares of the lines
SESSION_GAP_S = 1800.0                 # forms started within 30 min of the previous one: same session
CHARACTER_MAP = {"[": "(", "]": ")", "`": "'", "\t": " "}
RESERVED_FORMS_FILE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared",
                                   "reserved_iamondb_forms.txt")
CLITICS = ("s", "t", "ll", "ve", "re", "d", "m")
UNHYPHENATED_RIGHT = {"a", "an", "and", "as", "at", "but", "by", "for", "he", "her", "his", "i", "if", "in", "is",
                      "it", "not", "of", "on", "or", "she", "so", "that", "the", "their", "they", "this", "to",
                      "was", "we", "which", "who", "with", "you"}


class IAMOnDBError(OSError):
    """The IAM-OnDB tree is missing or unusable (one-line message)."""


@dataclass
class OnlineLine:
    """One handwritten line: ``strokes`` is a list of float32 arrays (N, 3) of (x, y, time s), tablet units,
    y down; ``text`` is detokenised and in the alphabet."""
    line_id: str
    form_id: str
    text: str
    strokes: list[np.ndarray] = field(repr=False)
    start_time: float = 0.0


def read_strokes(path: str) -> list[np.ndarray]:
    """A lineStrokes xml file -> list of float32 arrays (N, 3) of x, y (tablet units) and time (seconds).

    Raises ValueError when the file is not parseable or holds no points."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as error:
        raise ValueError("unreadable stroke file %s: %s" % (path, error)) from None
    strokes = []
    for stroke in root.iter("Stroke"):
        points = [(float(p.get("x")), float(p.get("y")), float(p.get("time", 0))) for p in stroke.iter("Point")]
        if points:
            strokes.append(np.array(points, np.float32))
    if not strokes:
        raise ValueError("no pen points in %s" % path)
    return strokes


def read_csr(path: str) -> list[str]:
    """An ascii/ form file -> its CSR lines (stripped, empty lines dropped), line 01 first. Raises ValueError
    when there is no CSR section."""
    with open(path, encoding="latin-1") as f:
        text = f.read()
    if "CSR:" not in text:
        raise ValueError("no CSR section in %s" % path)
    return [line.strip() for line in text.split("CSR:", 1)[1].splitlines() if line.strip()]


def _joins_hyphen(left: str, right: str, known: frozenset) -> bool:
    """True when 'left - right' is one hyphenated word."""
    if (left + "-" + right).lower() in known:
        return True
    return left.isalpha() and right.isalpha() and left.islower() and right.lower() not in UNHYPHENATED_RIGHT


def detokenize(text: str, known_hyphenated: frozenset[str] = frozenset()) -> str:
    """Tokenised CSR text -> IAM xml line-text conventions.

    Punctuation tokens attach to the word before them, clitics join their word ("Foot ' s" -> "Foot's"),
    stand-alone quotes alternate opening / closing within the line, "a - b" becomes "a-b" when that compound is
    in ``known_hyphenated`` (lower case) or both parts are lower-case words and the right one is no function
    word, and characters outside the alphabet go through CHARACTER_MAP."""
    text = "".join(CHARACTER_MAP.get(c, c) for c in text)
    text = re.sub(r"(\w) ?' ?(%s)\b" % "|".join(CLITICS), r"\1'\2", text)
    text = re.sub(r" \.(?=[A-Z])", ". ", text)                # "Mr .Foot" -> "Mr. Foot"
    words, glue_next, opening = [], False, True
    tokens = text.split()
    for i, token in enumerate(tokens):
        if glue_next and words:
            words[-1] += token
            glue_next = False
        elif token == '"':
            if opening or not words:
                words.append(token)
                glue_next = True
            else:
                words[-1] += token
            opening = not opening
        elif token == "(":
            words.append(token)
            glue_next = True
        elif words and (re.fullmatch(r"[.,;:!?)]+", token) or token == "n't"):
            words[-1] += token
        elif (token == "-" and words and i + 1 < len(tokens)
              and _joins_hyphen(words[-1], tokens[i + 1], known_hyphenated)):
            words[-1] += token
            glue_next = True
        else:
            words.append(token)
    text = " ".join(words)
    return re.sub(r"\b(Mr|Mrs|Dr|St)\.(?=[A-Z])", r"\1. ", text)


def hyphenated_words(lines: list[str]) -> frozenset[str]:
    """Lower-case 'a-b' compounds written without spaces anywhere in ``lines`` (raw CSR text)."""
    return frozenset(w.lower().strip(".,;:!?\"'()") for line in lines for w in line.split()
                     if re.fullmatch(r"[\w'.,;:!?\"()]*\w-\w[\w'.,;:!?\"()]*", w))


def read_reserved_forms(path: str | None = None) -> frozenset[str]:
    """Form ids listed in the reserved-forms file (default RESERVED_FORMS_FILE; one per line, '#' comments);
    empty when the file is absent."""
    path = path or RESERVED_FORMS_FILE
    if not os.path.isfile(path):
        return frozenset()
    with open(path, encoding="utf-8") as f:
        return frozenset(line.strip() for line in f if line.strip() and not line.startswith("#"))


def _stroke_files(root: str) -> dict:
    """{form id: {line number: path}} of every ``lineStrokes/**/<form>-NN.xml``."""
    forms = {}
    for folder, _, names in os.walk(os.path.join(root, "lineStrokes")):
        for name in names:
            match = re.fullmatch(r"(.+)-(\d\d)\.xml", name)
            if match:
                forms.setdefault(match.group(1), {})[int(match.group(2))] = os.path.join(folder, name)
    return forms


def _ascii_files(root: str) -> dict:
    """{form id: path} of every ``ascii/**/<form>.txt``."""
    found = {}
    for folder, _, names in os.walk(os.path.join(root, "ascii")):
        for name in names:
            if name.endswith(".txt"):
                found[name[:-4]] = os.path.join(folder, name)
    return found


def load_iamondb(root: str, exclude_forms: frozenset[str] | None = None, forms: set[str] | None = None,
                 log: Callable[[str], None] = print) -> list[OnlineLine]:
    """Every usable line of the IAM-OnDB tree at ``root`` -> list of OnlineLine, sorted by line id.

    Forms in ``exclude_forms`` (default: the reserved evaluation forms) are left out entirely; ``forms``
    restricts to those form ids. Lines whose stroke file is unreadable, that have no CSR line (or a form whose
    CSR line count differs from its stroke files), or whose text is empty or outside the alphabet after mapping
    are skipped; one summary line of counts goes to ``log``. Raises IAMOnDBError when ``root`` holds no
    lineStrokes/ or ascii/ folder."""
    for sub in ("lineStrokes", "ascii"):
        if not os.path.isdir(os.path.join(root, sub)):
            raise IAMOnDBError("%s has no %s/ folder (unpack lineStrokes-all.tar.gz and ascii-all.tar.gz there)"
                               % (root, sub))
    exclude = read_reserved_forms() if exclude_forms is None else exclude_forms
    if exclude_forms is None and not exclude:
        log("note: no reserved-forms list at %s: every form is used" % os.path.normpath(RESERVED_FORMS_FILE))
    strokes_by_form, ascii_by_form = _stroke_files(root), _ascii_files(root)
    counts = {"reserved": 0, "unpaired": 0, "unreadable": 0, "alphabet": 0}
    csr, lines = {}, []
    for form_id in sorted(strokes_by_form):
        if form_id in exclude:
            counts["reserved"] += len(strokes_by_form[form_id])
            continue
        if forms is not None and form_id not in forms:
            continue
        try:
            csr[form_id] = read_csr(ascii_by_form[form_id])
        except (KeyError, OSError, ValueError):
            counts["unpaired"] += len(strokes_by_form[form_id])
            continue
        if len(csr[form_id]) != len(strokes_by_form[form_id]):
            counts["unpaired"] += len(strokes_by_form[form_id])
            del csr[form_id]
    known = hyphenated_words([line for form in csr.values() for line in form])
    for form_id, texts in csr.items():
        for number, path in sorted(strokes_by_form[form_id].items()):
            if not 1 <= number <= len(texts):
                counts["unpaired"] += 1
                continue
            text = detokenize(texts[number - 1], known)
            if not text or not in_alphabet(text):
                counts["alphabet"] += 1
                continue
            try:
                strokes = read_strokes(path)
            except ValueError:
                counts["unreadable"] += 1
                continue
            lines.append(OnlineLine("%s-%02d" % (form_id, number), form_id, text, strokes,
                                    float(strokes[0][0, 2])))
    log("IAM-OnDB %s: %d lines from %d forms (skipped: %d reserved, %d unpaired, %d unreadable, %d outside the "
        "alphabet)" % (root, len(lines), len({line.form_id for line in lines}), counts["reserved"],
                       counts["unpaired"], counts["unreadable"], counts["alphabet"]))
    return lines


def form_sessions(lines: list[OnlineLine], gap_s: float = SESSION_GAP_S) -> dict[str, int]:
    """{form id: session number}: forms sorted by their first pen-down time; a new session starts where the gap to
    the previous form's start exceeds ``gap_s``. Clocks restart per recording day, so unrelated forms can fall
    into one session; that only merges groups, which keeps the splits disjoint."""
    starts = {}
    for line in lines:
        starts[line.form_id] = min(starts.get(line.form_id, np.inf), line.start_time)
    sessions, session, previous = {}, -1, None
    for form_id, start in sorted(starts.items(), key=lambda kv: (kv[1], kv[0])):
        if previous is None or start - previous > gap_s:
            session += 1
        sessions[form_id] = session
        previous = start
    return sessions


def split_lines(lines: list[OnlineLine], fractions: tuple[float, ...] = SPLIT_FRACTIONS,
                seed: int = 0) -> dict[str, list[OnlineLine]]:
    """{'train', 'validation', 'test': [OnlineLine]}: whole sessions (``form_sessions``) are assigned at random
    (seeded) until each split holds about its fraction of the lines."""
    sessions = form_sessions(lines)
    by_session = {}
    for line in lines:
        by_session.setdefault(sessions[line.form_id], []).append(line)
    order = np.random.default_rng(seed).permutation(sorted(by_session))
    total, taken = len(lines), 0
    bounds = np.cumsum(fractions) / np.sum(fractions) * total
    out = {"train": [], "validation": [], "test": []}
    for session in order:
        role = "train" if taken < bounds[0] else "validation" if taken < bounds[1] else "test"
        out[role].extend(by_session[session])
        taken += len(by_session[session])
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m ocr.data.iamondb ROOT``: print the tree's counts and split sizes."""
    parser = argparse.ArgumentParser(prog="python -m ocr.data.iamondb",
                                     description="Count an IAM-OnDB tree's usable lines and its splits' sizes.")
    parser.add_argument("root", help="IAM-OnDB tree holding lineStrokes/ and ascii/")
    args = parser.parse_args(argv)
    try:
        lines = load_iamondb(args.root)
    except IAMOnDBError as error:
        print("error: %s" % error, file=sys.stderr)
        return 2
    for role, part in split_lines(lines).items():
        print("%s: %d lines, %d forms" % (role, len(part), len({line.form_id for line in part})))
    return 0


if __name__ == "__main__":
    sys.exit(main())
