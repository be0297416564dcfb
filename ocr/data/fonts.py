"""Handwriting fonts for the synthetic data engine: the pinned list, installation, glyph-coverage checks.

The list lives in ``ocr/data/fonts_pinned.txt`` (npm ``@fontsource/<family>`` packages and Debian font packages,
each at a pinned version, with its class ``cursive``/``print``, its design group and its split). Every font
is one *writer* family of the generator; a design group (npm and Debian copies, weights, italics of one design)
belongs to exactly one split, so train / validation / test writers are disjoint.

Usage::

    python -m ocr.data.fonts install     # fetch + check + manifest (idempotent; fast when already present)
    python -m ocr.data.fonts list        # usable fonts with class and split

Files: ``<DATA_DIR>/fonts/<name>.<ext>``, the printed (machine-print) fonts under ``<DATA_DIR>/fonts/printed/``,
and ``<DATA_DIR>/fonts/manifest.json`` (one entry per pinned font: name, file, class, split, licence, covered,
reason dropped).
"""
import argparse
import concurrent.futures
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import logging
import tarfile
import tempfile
from typing import Any

from ocr.core.alphabet import ALPHABET
from ocr.core.paths import DATA_DIR, atomic_write_bytes, atomic_write_text

PINNED_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fonts_pinned.txt")
FONT_DIR = os.path.join(DATA_DIR, "fonts")
MANIFEST = os.path.join(FONT_DIR, "manifest.json")
SPLITS = ("train", "validation", "test")
CLASSES = ("cursive", "print")

# Machine-print fonts for the printed part of a form (prompt text, header): Debian packages, pinned.
PRINTED = [
    # name, package, version, file inside package
    ("dejavu-serif", "fonts-dejavu-core", "2.37-6", "usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"),
    ("dejavu-sans", "fonts-dejavu-core", "2.37-6", "usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    ("dejavu-sans-bold", "fonts-dejavu-core", "2.37-6", "usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("liberation-serif", "fonts-liberation2", "2.1.5-1",
     "usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf"),
    ("liberation-sans", "fonts-liberation2", "2.1.5-1",
     "usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf"),
    ("liberation-sans-bold", "fonts-liberation2", "2.1.5-1",
     "usr/share/fonts/truetype/liberation2/LiberationSans-Bold.ttf"),
]
MANIFEST_VERSION = 1
logging.getLogger("fontTools").setLevel(logging.ERROR)


class FontError(Exception):
    """Installation problem, reported as a one-line error by the CLI."""


def pinned_fonts(path: str = PINNED_FILE) -> list[dict[str, str]]:
    """The pinned list as dicts: name, source, package, version, file, class, group, split."""
    keys = ("name", "source", "package", "version", "file", "class", "group", "split")
    fonts = []
    with open(path, encoding="utf-8") as f:
        for row in f:
            if not row.strip() or row.startswith("#"):
                continue
            fields = row.rstrip("\n").split("\t")
            if len(fields) != len(keys):
                raise FontError("bad row in %s: %r" % (path, row))
            font = dict(zip(keys, fields))
            if font["class"] not in CLASSES or font["split"] not in SPLITS or font["source"] not in ("npm", "deb"):
                raise FontError("bad class/split/source in %s: %r" % (path, row))
            fonts.append(font)
    return fonts


def _pinned_digest():
    with open(PINNED_FILE, "rb") as f:
        data = f.read()
    return hashlib.sha256(data + repr(PRINTED).encode() + ALPHABET.encode()).hexdigest()


def _local_name(font):
    return font["name"] + os.path.splitext(font["file"])[1]


# ---------------------------------------------------------------- downloads

def _npm_fetch(fonts, tmp):
    """npm pack each package (in small batches) and extract its font file; returns {name: (path, licence)}."""
    if not shutil.which("npm"):
        raise FontError("npm is needed to fetch the @fontsource fonts (apt-get install npm)")
    got = {}
    specs = ["%s@%s" % (f["package"], f["version"]) for f in fonts]
    batches = [specs[i:i + 8] for i in range(0, len(specs), 8)]

    def pack(batch):
        folder = tempfile.mkdtemp(dir=tmp)
        res = subprocess.run(["npm", "pack", "--silent", *batch], cwd=folder, capture_output=True, text=True)
        return folder, batch, res

    from tqdm import tqdm
    with concurrent.futures.ThreadPoolExecutor(4) as pool, tqdm(total=len(specs), desc="npm fonts", unit="pkg") as bar:
        results = []
        for folder, batch, res in pool.map(pack, batches):
            if res.returncode != 0:  # retry one by one so one bad package does not sink the batch
                for spec in batch:
                    results.append(pack([spec]))
            else:
                results.append((folder, batch, res))
            bar.update(len(batch))
    for folder, batch, res in results:
        for tgz in glob.glob(os.path.join(folder, "*.tgz")):
            with tarfile.open(tgz) as tar:
                names = tar.getnames()
                meta = json.load(tar.extractfile("package/metadata.json")) if "package/metadata.json" in names else {}
                for font in fonts:
                    member = "package/" + font["file"]
                    spec_prefix = "fontsource-%s-%s.tgz" % (font["package"].split("/")[1], font["version"])
                    if os.path.basename(tgz) == spec_prefix and member in names:
                        out = os.path.join(tmp, _local_name(font))
                        with open(out, "wb") as f:
                            f.write(tar.extractfile(member).read())
                        lic = meta.get("license", "see package")
                        got[font["name"]] = (out, lic.get("type", "see package") if isinstance(lic, dict) else str(lic))
    return got


def _deb_licence(root, package):
    path = os.path.join(root, "usr/share/doc", package, "copyright")
    if not os.path.exists(path):
        return "see package"
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    found = re.findall(r"^License:\s*(\S.*)$", text, flags=re.M)
    return found[-1].strip() if found else "see package"


def _deb_fetch(entries, tmp):
    """apt-get download the packages (pinned version first, else the archive's), dpkg-deb -x;
    returns ({(package, file): (path, licence, version)}, {package: reason})."""
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        return {}, {p: "apt-get/dpkg-deb not available" for p, _ in entries}
    packages = {}
    for package, version in entries:
        packages.setdefault(package, version)
    folder = os.path.join(tmp, "debs")
    os.makedirs(folder, exist_ok=True)
    failed, versions = {}, {}
    res = subprocess.run(["apt-get", "download", *["%s=%s" % pv for pv in packages.items()]], cwd=folder,
                         capture_output=True, text=True)
    if res.returncode != 0:  # one by one, falling back to the archive's current version
        for package, version in packages.items():
            if subprocess.run(["apt-get", "download", "%s=%s" % (package, version)], cwd=folder,
                              capture_output=True).returncode == 0:
                continue
            if subprocess.run(["apt-get", "download", package], cwd=folder, capture_output=True).returncode != 0:
                failed[package] = "apt-get download failed"
    got = {}
    for deb in sorted(glob.glob(os.path.join(folder, "*.deb"))):
        package = os.path.basename(deb).split("_")[0]
        versions[package] = os.path.basename(deb).split("_")[1].replace("%3a", ":")
        root = os.path.join(tmp, "deb-" + package)
        subprocess.run(["dpkg-deb", "-x", deb, root], check=True, capture_output=True)
        licence = _deb_licence(root, package)
        for path in glob.glob(os.path.join(root, "usr/share/fonts/**/*.*"), recursive=True):
            got[(package, os.path.relpath(path, root))] = (path, licence, versions[package])
    return got, failed


# ---------------------------------------------------------------- coverage

def check_coverage(path: str, size: int = 48) -> tuple[bool, str]:
    """(covered, reason): every non-space ALPHABET character must render, differently from the .notdef glyph,
    and lower case must not be a copy of upper case (capitals-only fonts). Rendered at ``size`` pixels."""
    from PIL import ImageFont
    try:
        font = ImageFont.truetype(path, size)
    except OSError as err:
        return False, "cannot load: %s" % err
    try:  # cmap check where fontTools can read the file (woff2 needs brotli)
        from fontTools.ttLib import TTFont
        cmap = TTFont(path, lazy=True).getBestCmap() or {}
        missing = [c for c in ALPHABET if c != " " and ord(c) not in cmap]
        if missing:
            return False, "no glyph for %s" % "".join(missing)
    except Exception:  # noqa: BLE001 - fall back to the rendering check below
        pass

    def bitmap(text):
        mask = font.getmask(text)
        return mask.size, bytes(mask)

    notdef = {bitmap(ch) for ch in ("\ue000", "\U0010fffd", "\u0378")}
    missing, blank = [], []
    for ch in ALPHABET:
        if ch == " ":
            continue
        bm = bitmap(ch)
        if bm in notdef:
            missing.append(ch)
        elif not any(bm[1]):
            blank.append(ch)
    if missing:
        return False, "renders .notdef for %s" % "".join(missing)
    if blank:
        return False, "blank glyph for %s" % "".join(blank)
    same = sum(bitmap(c) == bitmap(c.upper()) for c in "abdefghijnqrty")
    if same >= 10:
        return False, "capitals only (lower case copies upper case)"
    return True, ""


# ---------------------------------------------------------------- install

def _manifest_ok():
    if not os.path.exists(MANIFEST):
        return False
    try:
        with open(MANIFEST, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return False
    if manifest.get("pinned_digest") != _pinned_digest() or manifest.get("version") != MANIFEST_VERSION:
        return False
    files = [e["file"] for e in manifest["fonts"] if e["covered"]] + [e["file"] for e in manifest["printed"]]
    return all(os.path.exists(os.path.join(FONT_DIR, p)) for p in files)


def install(force: bool = False, verbose: bool = True) -> dict[str, Any]:
    """Fetch, check and record every pinned font under FONT_DIR; returns the manifest dict."""
    if not force and _manifest_ok():
        if verbose:
            print("fonts: already installed (%s)" % MANIFEST)
        return load_manifest()
    fonts = pinned_fonts()
    os.makedirs(FONT_DIR, exist_ok=True)
    entries = []
    with tempfile.TemporaryDirectory() as tmp:
        todo_npm = [f for f in fonts
                    if f["source"] == "npm" and not os.path.exists(os.path.join(FONT_DIR, _local_name(f)))]
        npm_got = _npm_fetch(todo_npm, tmp) if todo_npm else {}
        deb_wanted = [(f["package"], f["version"]) for f in fonts if f["source"] == "deb"]
        deb_wanted += [(p, v) for _, p, v, _ in PRINTED]
        deb_got, deb_failed = _deb_fetch(deb_wanted, tmp)
        from tqdm import tqdm
        for font in tqdm(fonts, desc="checking fonts", unit="font", disable=not verbose):
            local = os.path.join(FONT_DIR, _local_name(font))
            entry = {"name": font["name"], "file": _local_name(font), "class": font["class"], "split": font["split"],
                     "group": font["group"], "source": "%s %s@%s" % (font["source"], font["package"], font["version"]),
                     "licence": "", "covered": False, "reason": ""}
            if font["source"] == "npm":
                if font["name"] in npm_got:
                    src, entry["licence"] = npm_got[font["name"]]
                    with open(src, "rb") as f:
                        atomic_write_bytes(local, f.read())
                elif os.path.exists(local):
                    entry["licence"] = _previous_licence(font["name"])
                else:
                    entry["reason"] = "npm pack %s@%s failed" % (font["package"], font["version"])
            else:
                hit = deb_got.get((font["package"], font["file"]))
                if hit:
                    src, entry["licence"], version = hit
                    if version != font["version"]:
                        entry["source"] += " (archive had %s)" % version
                    with open(src, "rb") as f:
                        atomic_write_bytes(local, f.read())
                else:
                    entry["reason"] = deb_failed.get(font["package"], "file not in package")
            if not entry["reason"]:
                entry["covered"], entry["reason"] = check_coverage(local)
            if not entry["covered"] and os.path.exists(local):
                os.unlink(local)
            entries.append(entry)
        printed = []
        for name, package, version, file in PRINTED:
            hit = deb_got.get((package, file))
            local = os.path.join("printed", name + os.path.splitext(file)[1])
            if hit:
                with open(hit[0], "rb") as f:
                    atomic_write_bytes(os.path.join(FONT_DIR, local), f.read())
                printed.append({"name": name, "file": local, "licence": hit[1],
                                "source": "deb %s@%s" % (package, hit[2])})
    if not printed:
        raise FontError("no machine-print font could be installed (Debian fonts-dejavu-core / fonts-liberation2)")
    manifest = {"version": MANIFEST_VERSION, "pinned_digest": _pinned_digest(), "fonts": entries, "printed": printed}
    atomic_write_text(MANIFEST, json.dumps(manifest, indent=1) + "\n")
    _CACHE.clear()
    if verbose:
        usable = [e for e in entries if e["covered"]]
        print("fonts: %d usable of %d pinned (%s); dropped: %s" % (
            len(usable), len(entries), ", ".join("%d %s" % (sum(e["class"] == c for e in usable), c) for c in CLASSES),
            "; ".join("%s (%s)" % (e["name"], e["reason"]) for e in entries if not e["covered"]) or "none"))
    return manifest


def _previous_licence(name):
    try:
        for e in load_manifest()["fonts"]:
            if e["name"] == name:
                return e["licence"]
    except (FileNotFoundError, ValueError, KeyError):
        pass
    return "see package"


_CACHE = {}


def load_manifest() -> dict[str, Any]:
    """The font manifest (MANIFEST), read once per process; FileNotFoundError naming the install command when it
    is missing."""
    if "manifest" not in _CACHE:
        if not os.path.exists(MANIFEST):
            raise FileNotFoundError("no font manifest at %s: run `python -m ocr.data.fonts install` (or `make data`)"
                                    % MANIFEST)
        with open(MANIFEST, encoding="utf-8") as f:
            _CACHE["manifest"] = json.load(f)
    return _CACHE["manifest"]


def list_fonts(split: str | None = None, font_class: str | None = None) -> list[dict[str, str]]:
    """Usable handwriting fonts: dicts with name, path, class ('cursive'|'print'), split, group, licence.
    Sorted by name; filtered by ``split`` ('train'|'validation'|'test') and ``font_class`` when given."""
    out = []
    for e in load_manifest()["fonts"]:
        if not e["covered"] or (split and e["split"] != split) or (font_class and e["class"] != font_class):
            continue
        out.append({"name": e["name"], "path": os.path.join(FONT_DIR, e["file"]), "class": e["class"],
                    "split": e["split"], "group": e["group"], "licence": e["licence"]})
    return sorted(out, key=lambda f: f["name"])


def printed_fonts() -> list[dict[str, str]]:
    """Machine-print fonts (dicts with name, path) for the printed part of a form."""
    return [{"name": e["name"], "path": os.path.join(FONT_DIR, e["file"])} for e in load_manifest()["printed"]]


def main(argv: list[str] | None = None) -> int | str | None:
    """``python -m ocr.data.fonts install|list``: install the pinned fonts, or list the usable ones; 2 on an
    error (one line on stderr)."""
    parser = argparse.ArgumentParser(prog="python -m ocr.data.fonts", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["install", "list"])
    parser.add_argument("--force", action="store_true", help="fetch and check again even if installed")
    try:
        args = parser.parse_args(argv)
    except SystemExit as err:
        return err.code
    try:
        if args.command == "install":
            install(force=args.force)
        else:
            for f in list_fonts():
                print("%-28s %-8s %-10s %s" % (f["name"], f["class"], f["split"], f["licence"]))
    except (FontError, FileNotFoundError) as err:
        print("error: %s" % err, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
