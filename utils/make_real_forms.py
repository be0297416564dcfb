"""Compose IAM-style form pages whose handwritten block is made of REAL handwriting images (for measurement only).

    python utils/make_real_forms.py --out DIR [--real DIR] [--pages 4] [--seed 0] [--overwrite]

Each page is laid out like an IAM form at 150 dpi (A4, 1240 x 1754 px, white paper): bold "Sentence Database" and
the form id (R01-000, ...) at the top, the prompt (the page's transcription) printed in a serif font, a rule, the
handwritten block, a rule at 86-90% of the height and "Name:" below it. The handwritten block is 2-5 of the real
images of ``--real`` (default ../shared/testdata/real_visible: never train on them) pasted one under another,
left-aligned at ~10% of the width: each is stretched to white paper, cropped to its ink and scaled so that its
height per transcribed line is 60-80 px (at most 80% of the page width). Every real image is used at least once.

Writes, per page, into DIR (atomically; a non-empty DIR is refused without --overwrite):
    <id>.png        uint8 gray page (H, W) = (1754, 1240)
    <id>.gt.txt     the handwritten lines, one per line, in reading order (as ``python -m ocr.evaluate --folder
                    DIR --level page`` reads them)
    <id>.box.json   {"box": [x, y, w, h], "images": [names]}: the tight box, in page pixels, of the pasted ink
                    (pixels darker than INK_THRESHOLD inside the pasted areas)
Exit status: 0 done; 2 bad arguments or input (one line on stderr).
"""
import argparse
import json
import os
import sys

import cv2
import numpy as np
from PIL import Image

from ocr.data.handwriting import get_font
from ocr.data.synthetic import print_text, wrap_words
from ocr.core.images import to_gray
from ocr.decode.testdata import TESTDATA_DIR
from ocr.core.paths import atomic_write_bytes, atomic_write_text

REAL_DIR = os.path.join(TESTDATA_DIR, "real_visible")      # ../shared/testdata (OCR_TESTDATA_DIR moves it)
PAGE_H, PAGE_W = 1754, 1240                # A4 at 150 dpi, pixels
INK_THRESHOLD = 170                        # grey level below which a pixel is ink (box measurement)
LINE_HEIGHT = (60, 80)                     # px of a pasted image per transcribed line (its ink crop + padding)
MAX_WIDTH = 0.8                            # of the page width
PAD = 6                                    # white px around each ink crop
IMAGES_PER_PAGE = (2, 5)
EXTENSIONS = (".png", ".jpg", ".jpeg")


class UsageError(Exception):
    """Bad arguments or input: one line on stderr, exit status 2."""


def read_gt(path):
    """Non-empty stripped lines of a ``.gt.txt`` (the reading of ocr.evaluate)."""
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f.read().splitlines() if line.strip()]


def load_real(folder):
    """Real images of ``folder`` that have a ``.gt.txt``, sorted by name: list of (name, uint8 gray (H, W), lines,
    paper): ``paper`` is the median grey level of the opaque pixels (the paper of a cut-out line on transparency)."""
    if not os.path.isdir(folder):
        raise UsageError("no such folder: %s" % folder)
    items = []
    for name in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(name)
        gt = os.path.join(folder, stem + ".gt.txt")
        if ext.lower() in EXTENSIONS and os.path.isfile(gt) and read_gt(gt):
            with Image.open(os.path.join(folder, name)) as image:
                pixels = np.asarray(image)
            gray = to_gray(pixels)
            alpha = pixels.ndim == 3 and pixels.shape[2] in (2, 4)
            opaque = to_gray(pixels[:, :, -1]) > 127 if alpha else np.ones(gray.shape, bool)
            paper = float(np.median(gray[opaque])) if opaque.any() else 255.0
            items.append((name, gray, read_gt(gt), paper))
    if not items:
        raise UsageError("no images with a .gt.txt in %s" % folder)
    return items


def whiten(gray, line_h, paper=255.0):
    """Paper of a uint8 gray image -> 255, ink -> dark: divide by a background estimate (a median blur over about one
    text line, ``line_h`` px, capped at the image's ``paper`` level) and stretch, so that grey paper, the edges of a
    cut-out and uneven light vanish."""
    k = 2 * (int(line_h) // 2) + 1
    background = np.maximum(np.minimum(cv2.medianBlur(gray, k), paper), 1).astype(np.float32)
    ratio = np.minimum(gray / background, 1.0)
    lo = min(float(np.percentile(ratio, 0.5)), 0.8)   # darkest ink -> black
    return (np.clip((ratio - lo) / (0.9 - lo), 0, 1) * 255).astype(np.uint8)


def prepare(gray, n_lines, line_h, paper=255.0):
    """A real image -> white-paper uint8 patch, cropped to its ink + PAD px, ``line_h`` px high per gt line (at most
    MAX_WIDTH of the page wide)."""
    s = line_h * n_lines / gray.shape[0]                       # first guess from the full image height
    gray = cv2.resize(gray, None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    white = whiten(gray, line_h, paper)
    ys, xs = np.nonzero(white < INK_THRESHOLD)
    if not len(ys):
        raise UsageError("a real image has no ink darker than %d" % INK_THRESHOLD)
    crop = white[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    s = min((line_h * n_lines - 2 * PAD) / crop.shape[0], (MAX_WIDTH * PAGE_W - 2 * PAD) / crop.shape[1])
    crop = cv2.resize(crop, None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    return cv2.copyMakeBorder(crop, PAD, PAD, PAD, PAD, cv2.BORDER_CONSTANT, value=255)


def assign(n_images, n_pages, rng):
    """Image indices per page: a permutation split into ``n_pages`` near-equal groups (every image at least once),
    groups smaller than IMAGES_PER_PAGE[0] topped up with other images."""
    lo, hi = IMAGES_PER_PAGE
    if n_pages < 1 or n_images > n_pages * hi:
        raise UsageError("--pages %d cannot hold %d images at %d-%d per page" % (n_pages, n_images, lo, hi))
    groups = [list(g) for g in np.array_split(rng.permutation(n_images), n_pages)]
    for g in groups:
        while len(g) < min(lo, n_images):
            g.append(int(rng.choice([i for i in range(n_images) if i not in g])))
    return [[int(i) for i in g] for g in groups]


def fonts():
    """Paths of the printed fonts: (bold sans, serif, sans)."""
    from ocr.data.fonts import printed_fonts
    try:
        paths = {f["name"]: f["path"] for f in printed_fonts()}
    except FileNotFoundError as error:
        raise UsageError(str(error)) from None
    serif = paths.get("dejavu-serif") or next(iter(paths.values()))
    return paths.get("dejavu-sans-bold", serif), serif, paths.get("dejavu-sans", serif)


def compose(form_id, patches, lines, rng):
    """One page: (uint8 gray page (PAGE_H, PAGE_W), tight ink box (x, y, w, h) in page pixels). ``patches`` are
    prepare()d images stacked top to bottom; ``lines`` the page's transcription (the printed prompt)."""
    bold, serif, sans = fonts()
    ink = np.zeros((PAGE_H, PAGE_W), np.float32)             # printed ink coverage in [0, 1]
    left, right = int(0.1 * PAGE_W), int(0.9 * PAGE_W)
    y = int(0.06 * PAGE_H)
    head = get_font(bold, 22)
    print_text(ink, head, "Sentence Database", left, y)
    print_text(ink, head, form_id, right - head.getlength(form_id), y)
    y += int(0.035 * PAGE_H)
    prompt = get_font(serif, int(rng.integers(19, 24)))
    pitch = int(prompt.size * 1.35)
    printed = wrap_words(prompt, " ".join(lines).split(), right - left)
    for k, text in enumerate(printed):
        print_text(ink, prompt, text, left, y + (k + 1) * pitch - int(pitch * 0.3))
    rule1 = y + len(printed) * pitch + int(0.012 * PAGE_H)
    rule2 = int(PAGE_H * rng.uniform(0.86, 0.9))
    for ry in (rule1, rule2):
        cv2.line(ink, (left - 20, ry), (right + 20, ry), 1.0, 2)
    print_text(ink, get_font(sans, 20), "Name:", left, rule2 + int(0.045 * PAGE_H))
    page = (rng.uniform(246, 253) - ink * rng.uniform(200, 230)).astype(np.float32)

    top, bottom = rule1 + int(0.03 * PAGE_H), rule2 - int(0.02 * PAGE_H)
    gaps = rng.uniform(5, 30, len(patches))
    need = sum(p.shape[0] for p in patches) + gaps[1:].sum()
    if need > bottom - top:                                  # shrink the block to fit between the rules
        f = (bottom - top - gaps[1:].sum()) / sum(p.shape[0] for p in patches)
        patches = [cv2.resize(p, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) for p in patches]
    areas = np.zeros(page.shape, bool)
    y = top
    for patch, gap in zip(patches, np.concatenate([[0], gaps[1:]])):
        y += int(gap)
        x = int(0.1 * PAGE_W + rng.normal(0, 0.01 * PAGE_W)) - PAD
        h, w = patch.shape
        np.minimum(page[y:y + h, x:x + w], patch, out=page[y:y + h, x:x + w])
        areas[y:y + h, x:x + w] = True
        y += h
    page = np.clip(page + rng.normal(0, 2.5, page.shape), 0, 255).astype(np.uint8)
    ys, xs = np.nonzero(areas & (page < INK_THRESHOLD))
    box = (int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))
    return page, box


def make_forms(out_dir, real_dir=REAL_DIR, pages=4, seed=0, overwrite=False):
    """Write ``pages`` forms into ``out_dir`` (see the module docstring); returns the page ids."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UsageError("--out %s exists and is not a folder" % out_dir)
    if os.path.isdir(out_dir) and os.listdir(out_dir) and not overwrite:
        raise UsageError("--out %s is not empty (use --overwrite)" % out_dir)
    real = load_real(real_dir)
    rng = np.random.default_rng(seed)
    ids = []
    for p, group in enumerate(assign(len(real), pages, rng)):
        form_id = "r01-%03d" % p
        lines = [line for i in group for line in real[i][2]]
        patches = [prepare(real[i][1], len(real[i][2]), rng.uniform(*LINE_HEIGHT), real[i][3]) for i in group]
        page, box = compose(form_id.upper(), patches, lines, rng)
        ok, png = cv2.imencode(".png", page)
        atomic_write_bytes(os.path.join(out_dir, form_id + ".png"), png.tobytes())
        atomic_write_text(os.path.join(out_dir, form_id + ".gt.txt"), "\n".join(lines) + "\n")
        atomic_write_text(os.path.join(out_dir, form_id + ".box.json"),
                          json.dumps({"box": list(box), "images": [real[i][0] for i in group]}) + "\n")
        ids.append(form_id)
    return ids


def main(argv=None):
    """CLI entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--real", default=REAL_DIR, help="real images with <name>.gt.txt (default %(default)s)")
    parser.add_argument("--pages", type=int, default=4, help="pages to write (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true", help="write into a non-empty --out")
    args = parser.parse_args(argv)
    try:
        ids = make_forms(args.out, args.real, args.pages, args.seed, args.overwrite)
    except (UsageError, OSError) as error:
        print("error: %s" % error, file=sys.stderr)
        return 2
    print("wrote %d pages to %s: %s" % (len(ids), args.out, " ".join(ids)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
