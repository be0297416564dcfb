"""English text for the data engine and the language models, from Debian packages (no network beyond the registry).

Sources: ``sword-text-web`` (World English Bible, public domain; a SWORD zText module read directly) and
``fortunes`` / ``fortunes-min`` (modern English quotations). The text is normalised to the toolkit's alphabet,
cut into sentences and assigned to a part by contiguous chunks of sentences:

* ``train`` (90%): text of synthetic training forms; language models train on it too;
* ``validation`` (5%) and ``test`` (5%): text of synthetic validation/test forms only.

Usage: ``python -m ocr.data.corpus build`` (idempotent; writes ``<data dir>/text/sentences.tsv`` atomically).
"""
import argparse
import glob
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unicodedata
import zlib

from ocr.core.alphabet import in_alphabet
from ocr.core.paths import DATA_DIR, atomic_write_text

PACKAGES = ("sword-text-web", "fortunes", "fortunes-min")
PARTS = ("train", "validation", "test")
CORPUS_FILE = os.path.join(DATA_DIR, "text", "sentences.tsv")
CHUNK = 40                       # sentences per contiguous chunk assigned to one part
MIN_CHARS, MAX_CHARS = 12, 240   # sentence length kept

_REPLACEMENTS = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2014": " - ", "\u2013": "-",
                 "\u2026": "...", "\u00a0": " ", "\t": " ", "`": "'", "[": "(", "]": ")", "{": "(", "}": ")",
                 "_": " ", "=": "-", "<": "(", ">": ")", "\\": "/", "|": "/", "~": "-", "$": "#", "%": " percent",
                 "@": " at ", "^": ""}


def normalise(text: str) -> str:
    """Map typographic characters to the alphabet, drop accents, collapse spaces; '' if anything foreign is left."""
    for src, dst in _REPLACEMENTS.items():
        text = text.replace(src, dst)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"\s+", " ", text).strip()
    return text if in_alphabet(text) else ""


def split_sentences(text: str) -> list[str]:
    """Cut running text into sentences at . ! ? (followed by a space and a capital or quote)."""
    marked = re.sub(r'([.!?]["\')]?)\s+(?=["\'(]?[A-Z0-9])', "\\1\n", text)
    return [s.strip() for s in marked.split("\n") if s.strip()]


def _sword_blocks(module_dir):
    """Yield the decompressed text blocks of a SWORD zText module (ot then nt), in order."""
    for testament in ("ot", "nt"):
        index_path = os.path.join(module_dir, testament + ".bzs")
        if not os.path.exists(index_path):
            continue
        with open(index_path, "rb") as f:
            index = f.read()
        with open(os.path.join(module_dir, testament + ".bzz"), "rb") as f:
            data = f.read()
        for i in range(len(index) // 12):
            offset, size, _ = struct.unpack("<III", index[i * 12:i * 12 + 12])
            if size:
                yield zlib.decompress(data[offset:offset + size]).decode("utf-8", "replace")


def bible_sentences(module_dir: str) -> list[str]:
    """Sentences of the World English Bible from its OSIS markup (footnotes and headings dropped)."""
    sentences = []
    for block in _sword_blocks(module_dir):
        block = re.sub(r"<note\b.*?</note>", " ", block, flags=re.S)
        block = re.sub(r"<title\b.*?</title>", " ", block, flags=re.S)
        block = re.sub(r"<[^>]+>", " ", block)
        block = re.sub(r"\s+([,.;:!?])", r"\1", block)
        sentences.extend(split_sentences(re.sub(r"\s+", " ", block)))
    return sentences


def fortune_sentences(fortune_dir: str) -> list[str]:
    """Sentences of the plain-text fortune files (attributions, ASCII art and offensive sets skipped)."""
    sentences = []
    for path in sorted(glob.glob(os.path.join(fortune_dir, "*"))):
        if path.endswith((".dat", ".u8")) or os.path.isdir(path) or "ascii-art" in path:
            continue
        with open(path, encoding="latin-1") as f:
            cookies = f.read().split("\n%\n")
        for cookie in cookies:
            lines = [ln for ln in cookie.splitlines() if not re.match(r"\s*(--|- )", ln)]
            if any(re.search(r"[|/\\_]{3,}|\t", ln) for ln in lines):
                continue  # tables, drawings
            sentences.extend(split_sentences(" ".join(ln.strip() for ln in lines)))
    return sentences


def _part_of(source, chunk_index):
    """Deterministic part for a chunk: 90% train, 5% validation, 5% test."""
    h = int(hashlib.md5(("%s:%d" % (source, chunk_index)).encode()).hexdigest(), 16) % 100
    return "test" if h < 5 else "validation" if h < 10 else "train"


def build(out_path: str = CORPUS_FILE, force: bool = False) -> str:
    """Download the text packages, extract, normalise and write ``part<TAB>source<TAB>sentence`` rows; returns
    ``out_path`` (at once when it exists and not ``force``)."""
    if os.path.exists(out_path) and not force:
        return out_path
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        raise SystemExit("error: building the text corpus needs apt-get and dpkg-deb (Debian packages %s)"
                         % ", ".join(PACKAGES))
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(["apt-get", "download", *PACKAGES], cwd=tmp, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit("error: apt-get download %s failed: %s" % (" ".join(PACKAGES),
                                                                        result.stderr.strip().splitlines()[-1:]))
        root = os.path.join(tmp, "x")
        for deb in glob.glob(os.path.join(tmp, "*.deb")):
            subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
        module_dir = glob.glob(os.path.join(root, "usr/share/sword/modules/texts/ztext/*"))[0]
        sources = {"web": bible_sentences(module_dir),
                   "fortunes": fortune_sentences(os.path.join(root, "usr/share/games/fortunes"))}
    rows, seen = [], set()
    for source, sentences in sources.items():
        for i, sentence in enumerate(sentences):
            sentence = normalise(sentence)
            if not MIN_CHARS <= len(sentence) <= MAX_CHARS or sentence in seen or not re.search("[a-z]", sentence):
                continue
            seen.add(sentence)
            rows.append("%s\t%s\t%s" % (_part_of(source, i // CHUNK), source, sentence))
    atomic_write_text(out_path, "\n".join(rows) + "\n")
    return out_path


_CACHE = {}


def load_sentences(part: str, path: str = CORPUS_FILE) -> list[str]:
    """Sentences (list of str, document order) of one part: 'train', 'validation' or 'test'."""
    if part not in PARTS:
        raise ValueError("part must be one of %s, not %r" % (PARTS, part))
    if path not in _CACHE:
        if not os.path.exists(path):
            raise FileNotFoundError("no text corpus at %s: run `python -m ocr.data.corpus build` (or `make data`)"
                                    % path)
        table = {p: [] for p in PARTS}
        with open(path, encoding="utf-8") as f:
            for row in f:
                p, _, sentence = row.rstrip("\n").split("\t", 2)
                table[p].append(sentence)
        _CACHE[path] = table
    return _CACHE[path][part]


def main(argv: list[str] | None = None) -> None:
    """``python -m ocr.data.corpus build|stats``: build the corpus (``build``), then print each part's counts."""
    parser = argparse.ArgumentParser(prog="python -m ocr.data.corpus", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["build", "stats"])
    parser.add_argument("--force", action="store_true", help="rebuild even if the corpus exists")
    args = parser.parse_args(argv)
    if args.command == "build":
        print("text corpus:", build(force=args.force))
    for part in PARTS:
        sentences = load_sentences(part)
        print("%-10s %6d sentences %8d characters" % (part, len(sentences), sum(map(len, sentences))))


if __name__ == "__main__":
    sys.exit(main())
