"""NIST sclite compatibility: trn files, running sclite, and a per-utterance alignment report (like sclite's .pra).

trn format (what ``write_trn`` writes, UTF-8, one utterance a line)::

    <text> (<speaker>_<utterance>)

e.g. ``he said so (spk3_1)``, or just ``(spk3_2)`` for an empty text. Speakers are ``spk<i>`` and utterances
``spk<i>_<j>`` (both 1-based, as the reference's sclite_helper), so ``-i rm`` finds the speaker as the part before
the '_'. Speakers are items: a line at line level, a page at page level (its lines are its utterances), so
sclite's Mean row is the mean over items. Whitespace inside a text is collapsed to single spaces. sclite reads
some ASCII characters as markup (``;;``/``**`` start comments; ``{ a / b }`` are alternatives; ``@`` and a word's
trailing ``*``, ``;`` or ``\\`` are dropped), so ``* ; @ \\ { }`` are written as their full-width forms
(``＊ ； ＠ ＼ ｛ ｝``) and sclite runs with ``-e utf-8``: every character still counts as one.

sclite runs as ``sclite -h hyp.trn -r ref.trn -i rm -e utf-8 -s`` (word mode) and with ``-c`` added (character
mode: words split into characters, whitespace not scored). ``-s`` makes it case-sensitive like ``ocr.metrics``;
without it (the reference's setting, ``case_sensitive=False`` here) sclite ignores case. ``-c NOASCII`` would
*not* split ASCII words (it scores words), so plain ``-c`` is used. sclite aligns with weights (substitution 4,
insertion/deletion 3), which can in rare cases count one more error than the minimal edit distance.

Where sclite is: ``find_sclite()``; ``install()`` / ``python -m ocr.sclite install`` unpacks Debian's sctk
package into data/sctk without root (Debian keeps the binary outside PATH, in /usr/lib/sctk/bin).
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ocr.metrics import Op, align, count_ops, score_item, strip_spaces
from ocr.core.paths import DATA_DIR, atomic_write_text

SCLITE_ENV = "OCR_SCLITE"
SCTK_DIR = os.path.join(DATA_DIR, "sctk")
DEBIAN_BINARY = os.path.join("usr", "lib", "sctk", "bin", "sclite")
KNOWN_LOCATIONS = (os.path.join(os.sep, DEBIAN_BINARY), os.path.join(SCTK_DIR, DEBIAN_BINARY))
MARKUP = str.maketrans({"*": "\uff0a", ";": "\uff1b", "@": "\uff20", "\\": "\uff3c", "{": "\uff5b", "}": "\uff5d"})


class ScliteError(RuntimeError):
    """sclite could not be installed, run or understood."""


@dataclass
class Utterance:
    """One scored unit: trn id ``uid`` (``spk<i>_<j>``), the ``item`` it comes from (a line or page id), and the
    ``hypothesis`` and ``reference`` texts."""
    uid: str
    item: str
    hypothesis: str
    reference: str


def utterance_id(speaker: int, utterance: int = 1) -> str:
    """trn utterance id of 1-based speaker and utterance numbers: ``spk<speaker>_<utterance>``."""
    return "spk%d_%d" % (speaker, utterance)


def trn_line(text: str, uid: str) -> str:
    """One trn line (no newline): text with whitespace collapsed and sclite markup made literal, then ``(uid)``."""
    text = " ".join(text.translate(MARKUP).split())
    return "%s (%s)" % (text, uid) if text else "(%s)" % uid


def write_trn(path: str, utterances: Iterable[Utterance], side: str) -> None:
    """Write the ``side`` ('hypothesis' or 'reference') of ``utterances`` as a trn file (atomically)."""
    atomic_write_text(path, "".join(trn_line(getattr(u, side), u.uid) + "\n" for u in utterances))


def find_sclite() -> str | None:
    """Path of a working sclite binary, or None. Looks at $OCR_SCLITE (a binary or its folder: an explicit choice
    comes first), then PATH, then Debian's /usr/lib/sctk/bin and data/sctk (see ``install``)."""
    candidates = []
    chosen = os.environ.get(SCLITE_ENV)
    if chosen:
        candidates.append(os.path.join(chosen, "sclite") if os.path.isdir(chosen) else chosen)
    candidates += [shutil.which("sclite"), *KNOWN_LOCATIONS]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return os.path.abspath(path)
    return None


def install(dest: str = SCTK_DIR) -> str:
    """Unpack Debian's sctk package into ``dest`` without root (``apt-get download sctk`` + ``dpkg-deb -x``) and
    return the sclite path (``dest``/usr/lib/sctk/bin/sclite). Does nothing if it is already there."""
    binary = os.path.join(dest, DEBIAN_BINARY)
    if os.access(binary, os.X_OK):
        return binary
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        raise ScliteError("installing sclite needs apt-get and dpkg-deb (Debian/Ubuntu)")
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(["apt-get", "download", "sctk"], cwd=tmp, capture_output=True, text=True)
        debs = glob.glob(os.path.join(tmp, "sctk_*.deb"))
        if result.returncode != 0 or not debs:
            message = (result.stderr.strip().splitlines() or ["no .deb downloaded"])[-1]
            raise ScliteError("apt-get download sctk failed: %s" % message)
        os.makedirs(dest, exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", debs[0], dest], check=True, capture_output=True)
    if not os.access(binary, os.X_OK):
        raise ScliteError("the sctk package has no %s" % DEBIAN_BINARY)
    return binary


@dataclass
class ScliteRow:
    """One summary row of sclite, in percent: Corr, Sub, Del, Ins, Err (= Sub + Del + Ins), S.Err (sentences
    with an error)."""
    corr: float
    sub: float
    dele: float
    ins: float
    err: float
    serr: float


@dataclass
class ScliteResult:
    """sclite's ``Sum/Avg`` row (pooled over all utterances), its ``Mean`` row (mean over speakers, i.e. items;
    the reference's figure) and its full stdout."""
    sum: ScliteRow
    mean: ScliteRow
    output: str


_ROW = re.compile(r"^\s*\|\s*(Sum/Avg|Mean)\s*\|[^|]*\|([^|]*)\|", re.MULTILINE)


def parse_summary(output: str) -> ScliteResult:
    """ScliteResult from sclite's stdout summary table (values marked ``+``/``*`` by sclite are read as numbers)."""
    rows = {}
    for name, values in _ROW.findall(output):
        numbers = [float(v.rstrip("+*")) for v in values.split()]
        if len(numbers) != 6:
            raise ScliteError("cannot read sclite's %s row: %r" % (name, values))
        rows[name] = ScliteRow(*numbers)
    if set(rows) != {"Sum/Avg", "Mean"}:
        raise ScliteError("no Sum/Avg and Mean rows in sclite's output")
    return ScliteResult(rows["Sum/Avg"], rows["Mean"], output)


def run_sclite(hyp_trn: str, ref_trn: str, characters: bool = False, case_sensitive: bool = True,
               sclite: str | None = None) -> ScliteResult:
    """Score trn files with sclite (word mode, or character mode with ``characters``) -> ScliteResult.
    ``sclite``: the binary (default ``find_sclite()``)."""
    sclite = sclite or find_sclite()
    if not sclite:
        raise ScliteError("sclite not found (python -m ocr.sclite install, or set %s)" % SCLITE_ENV)
    command = [sclite, "-h", hyp_trn, "-r", ref_trn, "-i", "rm", "-e", "utf-8"]
    if characters:
        command.append("-c")
    if case_sensitive:
        command.append("-s")
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise ScliteError("sclite failed (exit %d): %s" % (result.returncode,
                                                           (result.stderr or result.stdout).strip()[-300:]))
    return parse_summary(result.stdout)


def write_trn_pair(prefix: str, utterances: Sequence[Utterance]) -> tuple[str, str]:
    """Write ``<prefix>.hyp.trn`` and ``<prefix>.ref.trn`` of ``utterances``; returns their paths."""
    hyp, ref = prefix + ".hyp.trn", prefix + ".ref.trn"
    write_trn(hyp, utterances, "hypothesis")
    write_trn(ref, utterances, "reference")
    return hyp, ref


def score_trn_pair(hyp_trn: str, ref_trn: str, case_sensitive: bool = True,
                   sclite: str | None = None) -> dict[str, ScliteResult]:
    """sclite in word and character mode on a trn pair -> {'words': ScliteResult, 'chars': ScliteResult}."""
    return {mode: run_sclite(hyp_trn, ref_trn, characters=mode == "chars", case_sensitive=case_sensitive,
                             sclite=sclite)
            for mode in ("words", "chars")}


def _aligned_rows(ops: Iterable[Op]) -> tuple[str, str, str]:
    """REF/HYP/Eval text rows of a word alignment, columns padded, gaps shown as stars."""
    ref, hyp, marks = [], [], []
    for op, r, h in ops:
        r, h = r or "*" * len(h), h or "*" * len(r)
        width = max(len(r), len(h))
        ref.append(r.ljust(width))
        hyp.append(h.ljust(width))
        marks.append(("" if op == "C" else op).ljust(width))
    rows = (("REF:  ", ref), ("HYP:  ", hyp), ("Eval: ", marks))
    return tuple((label + " ".join(cells)).rstrip() for label, cells in rows)


def _counts(ops: Iterable[Op]) -> str:
    """'#C #S #D #I' of an alignment."""
    counts = count_ops(ops)
    return "%d %d %d %d" % tuple(counts[op] for op in ("C", "S", "D", "I"))


def format_alignment_report(utterances: Iterable[Utterance], title: str = "") -> str:
    """A per-utterance alignment report like sclite's .pra: id and item; counts (#C #S #D #I) of the words and of
    the characters with whitespace removed (what ``sclite -c`` aligns); error totals (characters with spaces);
    and the word alignment with S/D/I marked under each error (stars fill the missing side)."""
    blocks = ["%s\nCase-sensitive; counts are (#C #S #D #I) of a minimal edit alignment." % (title or "alignments")]
    for u in utterances:
        word_ops = align(u.reference.split(), u.hypothesis.split())
        score = score_item(u.hypothesis, u.reference)
        blocks.append("\n".join([
            "id: (%s)  item: %s" % (u.uid, u.item),
            "Scores words: %s   chars without spaces: %s" % (
                _counts(word_ops), _counts(align(strip_spaces(u.reference), strip_spaces(u.hypothesis)))),
            "Errors: words %d/%d  chars with spaces %d/%d" % (score.word_errors, score.words, score.char_errors,
                                                               score.chars),
            *_aligned_rows(word_ops)]))
    return "\n\n".join(blocks) + "\n"


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m ocr.sclite install [--dest DIR]`` or ``python -m ocr.sclite find``."""
    parser = argparse.ArgumentParser(prog="python -m ocr.sclite", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    install_parser = commands.add_parser("install", help="unpack Debian's sctk into DEST (no root)")
    install_parser.add_argument("--dest", default=SCTK_DIR, help="target folder (default %(default)s)")
    commands.add_parser("find", help="print the sclite that would be used")
    args = parser.parse_args(argv)
    if args.command == "install":
        try:
            print(install(args.dest))
        except (ScliteError, subprocess.CalledProcessError, OSError) as error:
            print("error: %s" % error, file=sys.stderr)
            return 1
        return 0
    path = find_sclite()
    if not path:
        print("error: sclite not found (python -m ocr.sclite install, or set %s)" % SCLITE_ENV, file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
