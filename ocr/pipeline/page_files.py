"""The files ``python -m ocr.pipeline --out DIR`` writes per page, and how they get there safely.

* Names: a page's outputs are named by ``safe_name`` of its file's stem (bytes that are not UTF-8 and control
  characters become ``%XX``), plus ``_p2``, ``_p3`` ... for the later pages of a multi-page file.
* All or nothing: ``publish`` writes every file of a page into a hidden per-page folder ``.<stem>.partial`` in
  DIR, renames them into DIR one by one with the JSON last, then removes the folder. The JSON lists the page's
  files under ``outputs`` and is the completion marker: a page is done when its JSON lists every file it needs
  and no ``.partial`` folder is left beside it. A run killed half-way leaves the folder, so the next run knows
  the page is unfinished and that the files already moved are its own, and redoes it.
* Resume: ``page_state`` tells a done page (skipped), an unfinished one (redone), and files that are not ours
  (kept: refused unless --overwrite).
* ``is_output`` recognises a boxed PNG written here, so that a run whose --out is its input folder does not read
  its own outputs back as pages.
"""
import json
import os
import shutil
import tempfile

from ocr.pipeline.outputs import BOX_UNITS

SUFFIXES = {"txt": ".txt", "png": "_boxed.png", "xml": ".xml", "json": ".json"}   # the JSON last: the marker
PARTIAL = ".%s.partial"


class OutDirError(Exception):
    """--out cannot be used; ``str(error)`` is one line for the user."""


def safe_name(text: str) -> str:
    """A file name or path (str, maybe holding undecodable bytes as surrogates) -> valid UTF-8 text without control
    characters: each such byte or character becomes ``%XX``. Unchanged for ordinary names."""
    decoded = os.fsencode(text).decode("utf-8", "surrogateescape")
    return "".join("%%%02X" % (ord(c) - 0xDC00) if 0xDC80 <= ord(c) <= 0xDCFF
                   else "%%%02X" % ord(c) if ord(c) < 32 or ord(c) == 127 else c for c in decoded)


def check_out_dir(out: str) -> None:
    """Create the --out folder ``out`` if needed and check that files can be made in it; raises OutDirError."""
    shown = safe_name(out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise OutDirError("--out %s is a file, not a folder" % shown)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as error:
        raise OutDirError("--out %s: cannot create the folder: %s" % (shown, error.strerror or error)) from None
    try:
        os.rmdir(tempfile.mkdtemp(dir=out, prefix=".ocr-probe-"))
    except OSError as error:
        raise OutDirError("--out %s: cannot write there: %s" % (shown, error.strerror or "not writable")) from None


def page_stem(path: str, page: int = 0) -> str:
    """The stem of a page's outputs: safe_name of the file's name without its extension, plus ``_p<N>`` for
    ``page`` N - 1 > 0 (the later pages of a multi-page file)."""
    stem = safe_name(os.path.splitext(os.path.basename(path))[0])
    return stem + ("_p%d" % (page + 1) if page else "")


def output_files(out: str, stem: str, fmt: str) -> dict[str, str]:
    """{kind: path} of what --out receives for one page, the JSON last: txt, png, xml (page-xml/alto only), json."""
    kinds = [k for k in SUFFIXES if k != "xml" or fmt in ("page-xml", "alto")]
    return {kind: os.path.join(out, stem + SUFFIXES[kind]) for kind in kinds}


def _read_json(path):
    """The dict in a JSON file, or None when it is missing, unreadable or not a dict."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def page_state(files: dict[str, str]) -> str:
    """What --out already holds of a page whose outputs are ``files`` (output_files): 'new' (none of them),
    'done' (its JSON lists every file and they all exist), 'unfinished' (a run of ours stopped half-way: redo it)
    or 'foreign' (files of the same names that this module did not finish writing: keep them)."""
    out = os.path.dirname(files["json"])
    stem = os.path.basename(files["json"])[:-len(SUFFIXES["json"])]
    if os.path.isdir(os.path.join(out, PARTIAL % stem)):
        return "unfinished"
    doc = _read_json(files["json"])
    if doc is not None and isinstance(doc.get("outputs"), list):
        names = {os.path.basename(p) for p in files.values()}
        complete = names <= set(doc["outputs"]) and all(os.path.exists(p) for p in files.values())
        return "done" if complete else "unfinished"
    return "foreign" if any(os.path.exists(p) for p in files.values()) else "new"


def publish(files: dict[str, str], contents: dict[str, bytes]) -> None:
    """Write one page's files: ``contents`` {kind: bytes} for each kind of ``files`` {kind: path} (one folder).
    All are written into the page's hidden .partial folder first, then renamed into place, the JSON last; see the
    module doc. Raises OSError (the .partial folder is then left, marking the page unfinished)."""
    out = os.path.dirname(files["json"])
    stem = os.path.basename(files["json"])[:-len(SUFFIXES["json"])]
    partial = os.path.join(out, PARTIAL % stem)
    shutil.rmtree(partial, ignore_errors=True)           # what a killed run left
    os.mkdir(partial)
    for kind, path in files.items():
        with open(os.path.join(partial, os.path.basename(path)), "wb") as f:
            f.write(contents[kind])
            f.flush()
            os.fsync(f.fileno())
    for path in files.values():                           # output_files puts the JSON last
        os.replace(os.path.join(partial, os.path.basename(path)), path)
    os.rmdir(partial)


def is_output(path: str) -> bool:
    """True when ``path`` is a boxed PNG that this module wrote: ``<stem>_boxed.png`` beside a ``<stem>.json`` of
    the pipeline's."""
    name = os.path.basename(path)
    if not name.endswith(SUFFIXES["png"]):
        return False
    doc = _read_json(os.path.join(os.path.dirname(path), name[:-len(SUFFIXES["png"])] + SUFFIXES["json"]))
    return doc is not None and doc.get("units") == BOX_UNITS
