"""Prose for the decoders' language model and word list, nearer to what people write by hand than the corpus.

Sources (Debian packages from the registry, and the user's IAM-OnDB copy):

* ``r-cran-janeaustenr``: Jane Austen's six novels (fiction, letters within them), read from the R package's
  lazy-load database without R (``r_lazyload_strings``);
* ``r-cran-tm``: Reuters news stories of 1987 and 1996 (the package's example texts);
* IAM-OnDB transcriptions of the *training* forms only (``ocr.data.iamondb.split_lines``): the LOB corpus's
  1960s British news, letters, essays and fiction as people copied them. Validation and test forms and the
  reserved forms are never read into it.

``python -m ocr.data.prose build [--iamondb DIR]`` writes ``<data dir>/text/prose.tsv`` (``source<TAB>sentence``,
normalised to the alphabet like ``ocr.data.corpus``); the synthetic data engine does not read it, so generated
trees stay as they were.
"""
from __future__ import annotations

import argparse
import glob
import html
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

from ocr.data.corpus import MAX_CHARS, MIN_CHARS, normalise, split_sentences
from ocr.core.paths import DATA_DIR, atomic_write_text

PACKAGES = ("r-cran-janeaustenr", "r-cran-tm")
PROSE_FILE = os.path.join(DATA_DIR, "text", "prose.tsv")


def r_lazyload_strings(rdb_path: str) -> list[list[str]]:
    """The character vectors stored in an R lazy-load database (``*.rdb``: zlib blobs, each a 4-byte length and
    an XDR serialisation) -> one list of str per blob. Only the first character vector of a blob is read."""
    with open(rdb_path, "rb") as f:
        data = f.read()
    vectors, pos = [], 0
    while pos + 4 < len(data):
        inflater = zlib.decompressobj()
        blob = inflater.decompress(data[pos + 4:])
        pos = len(data) - len(inflater.unused_data)
        start = blob.find(b"\x00\x00\x00\x10")           # STRSXP
        if start < 0:
            continue
        count = struct.unpack(">i", blob[start + 4:start + 8])[0]
        cursor, strings = start + 8, []
        for _ in range(count):
            flags, length = struct.unpack(">ii", blob[cursor:cursor + 8])
            cursor += 8
            if flags & 0xFF != 9:                        # not a CHARSXP: not a plain character vector
                break
            if length < 0:                               # NA_character_
                strings.append("")
                continue
            strings.append(blob[cursor:cursor + length].decode("utf-8", "replace"))
            cursor += length
        vectors.append(strings)
    return vectors


def paragraphs(lines: list[str]) -> list[str]:
    """Text lines -> paragraphs (blank lines separate them; lines in one paragraph joined by spaces)."""
    out, current = [], []
    for line in lines + [""]:
        if line.strip():
            current.append(line.strip())
        elif current:
            out.append(" ".join(current))
            current = []
    return out


def austen_sentences(package_root: str) -> list[str]:
    """Sentences of the novels in an unpacked r-cran-janeaustenr (chapter headings dropped)."""
    sentences = []
    for path in glob.glob(os.path.join(package_root, "usr/lib/R/site-library/janeaustenr/data/Rdata.rdb")):
        for novel in r_lazyload_strings(path):
            for paragraph in paragraphs(novel):
                if not re.fullmatch(r"(CHAPTER|Chapter|VOLUME) [IVXLC\d]+\.?", paragraph):
                    sentences.extend(split_sentences(paragraph.replace("_", "")))
    return sentences


def reuters_sentences(package_root: str) -> list[str]:
    """Sentences of the Reuters stories (``<BODY>`` / ``<text>`` paragraphs) in an unpacked r-cran-tm."""
    sentences = []
    for path in sorted(glob.glob(os.path.join(package_root, "usr/lib/R/site-library/tm/texts/**/*.xml"),
                              recursive=True)):
        with open(path, encoding="utf-8", errors="replace") as f:
            xml = f.read()
        for body in re.findall(r"<(?:BODY|text)>(.*?)</(?:BODY|text)>", xml, flags=re.S):
            body = html.unescape(html.unescape(re.sub(r"<[^>]+>", " ", body)))     # some stories are escaped twice
            body = re.sub(r"\s*Reuter\s*$", "", body.strip())
            sentences.extend(split_sentences(re.sub(r"\s+", " ", body)))
    return sentences


def iamondb_sentences(root: str) -> list[str]:
    """Sentences of the IAM-OnDB training forms (each form's lines joined), never validation/test/reserved."""
    from ocr.data.iamondb import load_iamondb, split_lines
    forms = {}
    for line in split_lines(load_iamondb(root))["train"]:
        forms.setdefault(line.form_id, []).append(line.text)
    return [s for form_id in sorted(forms) for s in split_sentences(" ".join(forms[form_id]))]


def iamondb_validation_text(root: str) -> str:
    """The IAM-OnDB validation forms' lines joined by spaces: held-out text to measure a language model on."""
    from ocr.data.iamondb import load_iamondb, split_lines
    return " ".join(line.text for line in split_lines(load_iamondb(root, log=lambda message: None))["validation"])


def build(out_path: str = PROSE_FILE, iamondb: str | None = None) -> dict[str, int]:
    """Download the packages, extract and normalise their sentences (and the IAM-OnDB training forms' when
    ``iamondb`` is given), write ``source<TAB>sentence`` rows atomically -> {source: sentence count}."""
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        raise SystemExit("error: the prose text needs apt-get and dpkg-deb (Debian packages %s)" % ", ".join(PACKAGES))
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(["apt-get", "download", *PACKAGES], cwd=tmp, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit("error: apt-get download %s failed: %s"
                             % (" ".join(PACKAGES), result.stderr.strip().splitlines()[-1:]))
        root = os.path.join(tmp, "x")
        for deb in glob.glob(os.path.join(tmp, "*.deb")):
            subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
        sources = {"austen": austen_sentences(root), "reuters": reuters_sentences(root)}
    if iamondb:
        sources["iamondb_train"] = iamondb_sentences(iamondb)
    rows, seen, counts = [], set(), {}
    for source, sentences in sources.items():
        for sentence in sentences:
            sentence = normalise(sentence)
            if not MIN_CHARS <= len(sentence) <= MAX_CHARS or sentence in seen or not re.search("[a-z]", sentence):
                continue
            seen.add(sentence)
            rows.append("%s\t%s" % (source, sentence))
            counts[source] = counts.get(source, 0) + 1
    atomic_write_text(out_path, "\n".join(rows) + "\n")
    return counts


def load_prose(path: str = PROSE_FILE) -> list[str]:
    """Sentences of the prose file (document order). Raises FileNotFoundError naming the build command."""
    if not os.path.exists(path):
        raise FileNotFoundError("no prose text at %s: run `python -m ocr.data.prose build --iamondb DIR`" % path)
    with open(path, encoding="utf-8") as f:
        return [row.rstrip("\n").split("\t", 1)[1] for row in f if "\t" in row]


def main(argv: list[str] | None = None) -> int:
    """``python -m ocr.data.prose build [--iamondb DIR]``: write the prose file and print its sentence counts."""
    parser = argparse.ArgumentParser(prog="python -m ocr.data.prose", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["build"])
    parser.add_argument("--iamondb", help="IAM-OnDB tree: add its training forms' transcriptions")
    args = parser.parse_args(argv)
    counts = build(iamondb=args.iamondb)
    print("prose text: %s (%s)" % (PROSE_FILE, ", ".join("%s %d sentences" % kv for kv in counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
