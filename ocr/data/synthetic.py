"""Synthetic IAM-format data engine: handwriting-font writers fill IAM-layout forms; the tree reads like IAM.

    python -m ocr.data.synthetic --out DIR --forms N --seed S [--split-fractions 0.75,0.12,0.13] [--workers 2]
        [--dpi 150] [--validation-groups-in-train] [--overwrite] [--iamondb DIR [--pen-share 0.5]]

Writes (as IAM distributes it):

    DIR/forms/<form>.png  DIR/lines/<a>/<form>/<line>.png  DIR/words/<a>/<form>/<word>.png  DIR/xml/<form>.xml
    DIR/ascii/{forms,lines,words,sentences}.txt
    DIR/{trainset,validationset1,validationset2,testset}.txt   (line ids; IAM writer-independent task lists)

Writers are fonts (ocr/data/fonts.py) with a persistent style; the fonts of train / validation / test forms are
disjoint. With --validation-groups-in-train every other validation design group (by name) writes training forms
instead: more training fonts, while validation keeps the other groups and still measures unseen fonts. Text comes
from ocr.data.corpus, the part matching the form's split. Every form is seeded from (seed, form index), so the
output is identical for any number of workers. Boxes (<cmp>) are computed from each word's ink after the page warp,
so they are exact.

With --iamondb, about --pen-share of the forms are written by real hands instead (ocr.data.pen_forms): the words of
one IAM-OnDB form of the same split (the recogniser's session-disjoint IAM-OnDB splits) are the prompt and the
handwriting, their pen strokes drawn as ink; writer-id 'o' + the IAM-OnDB session, and the xml's form element says
source="iamondb:<form>". Which forms are pen forms is seeded per form index, so the font forms of a mixed tree are
those of the tree without --iamondb.
"""
import argparse
import functools
import hashlib
import multiprocessing
import os
import shutil
import sys
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
from PIL import ImageFont
from lxml import etree

from ocr.core.alphabet import in_alphabet
from ocr.core.paths import atomic_write_bytes, atomic_write_text
from ocr.data import degrade
from ocr.data.handwriting import Writer, get_font
from ocr.data.iamondb import IAMOnDBError
from ocr.data.pen_forms import PenForm, PenWriter, assign_pen_forms, load_pen_forms

SPLITS = ("train", "validation", "test")
DEFAULT_FRACTIONS = (0.75, 0.12, 0.13)
VARIANTS_PER_FONT = 3          # writers per font (same font, different persistent style)
MIN_LINES, MAX_LINES = 4, 12
FIRST_NAMES = ("Anna", "Ben", "Clara", "David", "Emma", "Frank", "Grace", "Henry", "Iris", "Jack", "Karen", "Leo",
               "Maria", "Nick", "Olga", "Peter", "Rosa", "Sam", "Tina", "Victor", "Wendy", "Alex", "Beth", "Chris",
               "Diane", "Eric", "Fiona", "George", "Helen", "Ian", "Julia", "Kurt", "Laura", "Mark", "Nora", "Oscar")
LAST_NAMES = ("Miller", "Smith", "Brown", "Meyer", "Keller", "Wilson", "Baker", "Young", "Taylor", "Clark", "Hall",
              "Wright", "Walker", "King", "Scott", "Green", "Adams", "Nelson", "Hill", "Moore", "Fischer", "Weber")
OUT_ENTRIES = ("forms", "lines", "words", "xml", "ascii", "trainset.txt", "validationset1.txt",
               "validationset2.txt", "testset.txt")


class UsageError(Exception):
    """Bad arguments or an unusable output folder: one-line message, exit status 2."""


# ---------------------------------------------------------------------------------------------- plan

def form_id(index: int) -> str:
    """IAM-like form id for form ``index``: s01-000 .. s01-099, s02-000, ... (the first part names the folder)."""
    folder, number = divmod(index, 100)
    letters = "stuvwxyzabcdefghijklmnopqr"
    letter, num = divmod(folder, 99)
    return "%s%02d-%03d" % (letters[letter % len(letters)], num + 1, number)


def split_counts(n: int, fractions: Sequence[float]) -> list[int]:
    """Forms per split; every split with a positive fraction gets at least one form when n >= 3."""
    counts = [int(round(n * f)) for f in fractions]
    if n >= 3:
        counts = [max(c, 1) if f > 0 else 0 for c, f in zip(counts, fractions)]
    while sum(counts) > n:
        counts[int(np.argmax(counts))] -= 1
    counts[0] += n - sum(counts)
    return counts


def training_groups_from_validation(fonts: list[dict[str, str]]) -> list[str]:
    """Validation design groups that --validation-groups-in-train moves to train: every other one, sorted by name
    (the others stay validation-only, so validation fonts remain unseen)."""
    return sorted({f["group"] for f in fonts if f["split"] == "validation"})[::2]


def make_plan(num_forms: int, seed: int, fractions: Sequence[float] = DEFAULT_FRACTIONS,
              fonts: list[dict[str, str]] | None = None,
              validation_groups_in_train: bool = False) -> list[dict[str, Any]]:
    """Deterministic plan: for each form index its id, split, writer (font + variant) and writer id.
    ``validation_groups_in_train``: the fonts of training_groups_from_validation() write training forms."""
    from ocr.data.fonts import list_fonts
    fonts = fonts if fonts is not None else list_fonts()
    members = {}
    wid = 0
    for split in SPLITS:
        members[split] = []
        for font in sorted((f for f in fonts if f["split"] == split), key=lambda f: f["name"]):
            for v in range(VARIANTS_PER_FONT):
                members[split].append({"font": font, "variant": v, "writer_id": "%03d" % (wid % 1000)})
                wid += 1
    if validation_groups_in_train:
        moved = set(training_groups_from_validation(fonts))
        members["train"] += [m for m in members["validation"] if m["font"]["group"] in moved]
        members["validation"] = [m for m in members["validation"] if m["font"]["group"] not in moved]
    writers = {}
    for split in SPLITS:
        order = np.random.default_rng([seed, 7, SPLITS.index(split)]).permutation(len(members[split]))
        writers[split] = [members[split][i] for i in order]
    counts = split_counts(num_forms, fractions)
    labels = sum(([s] * c for s, c in zip(SPLITS, counts)), [])
    labels = [labels[i] for i in np.random.default_rng([seed, 11]).permutation(num_forms)]
    plan, seen = [], {s: 0 for s in SPLITS}
    for i, split in enumerate(labels):
        if not writers[split]:
            raise UsageError("no usable font for the %s split: run `python -m ocr.data.fonts install`" % split)
        k = seen[split]
        seen[split] += 1
        writer = writers[split][k % len(writers[split])]
        task = "train" if split == "train" else "test" if split == "test" else "validation%d" % (k % 2 + 1)
        plan.append({"index": i, "id": form_id(i), "split": split, "task": task, "seed": seed, **writer})
    return plan


# ---------------------------------------------------------------------------------------------- text

def pick_text(rng: np.random.Generator, part: str, target_chars: float) -> list[str]:
    """Consecutive sentences of the corpus part, starting at a random sentence, about ``target_chars`` long."""
    from ocr.data.corpus import load_sentences
    sentences = load_sentences(part)
    start = int(rng.integers(len(sentences)))
    out, total = [], 0
    i = start
    while total < target_chars and len(out) < 40:
        s = sentences[i % len(sentences)]
        i += 1
        if not in_alphabet(s):
            continue
        out.append(s)
        total += len(s) + 1
    return out


def word_tag(word: str) -> str:
    """The IAM grammatical tag written for a word: 'CD' (a number), 'NP' (capitalised), 'NN' (any other word), or
    the word itself (up to 3 characters) when it has no letter or digit."""
    core = word.strip("\"'()")
    if not any(c.isalnum() for c in word):
        return word[:3]
    if core.replace(",", "").replace(".", "").isdigit():
        return "CD"
    if core[:1].isupper():
        return "NP"
    return "NN"


# ---------------------------------------------------------------------------------------------- rendering

def _place(ink, patch, x, y):
    """max-composite ``patch`` into ``ink`` with its top-left at (x, y) (clipped)."""
    h, w = patch.shape
    H, W = ink.shape
    x1, y1, x2, y2 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x2 <= x1 or y2 <= y1:
        return
    np.maximum(ink[y1:y2, x1:x2], patch[y1 - y:y2 - y, x1 - x:x2 - x], out=ink[y1:y2, x1:x2])


def print_text(ink: np.ndarray, font: ImageFont.FreeTypeFont, text: str, x: float, y: float) -> None:
    """Machine print: draw ``text`` with its baseline start at (x, y) (page pixels) into the float32 coverage layer
    ``ink`` (H, W), values in [0, 1]."""
    mask, (dx, dy) = font.getmask2(text, mode="L", anchor="ls")
    w, h = mask.size
    if w and h:
        arr = np.frombuffer(bytes(mask), np.uint8).reshape(h, w).astype(np.float32) / 255.0
        _place(ink, arr, int(x) + dx, int(y) + dy)


@functools.lru_cache(maxsize=50000)
def _text_width(font, text):
    return font.getlength(text)


def wrap_words(font: ImageFont.FreeTypeFont, words: list[str], width: float) -> list[str]:
    """Greedy wrap of machine-print ``words`` into lines (strings) at most ``width`` pixels wide (word widths measured
    once)."""
    space = _text_width(font, " ")
    widths = {w: _text_width(font, w) for w in set(words)}
    lines, cur, x = [], [], 0.0
    for word in words:
        if cur and x + space + widths[word] > width:
            lines.append(" ".join(cur))
            cur, x = [], 0.0
        x += (space if cur else 0.0) + widths[word]
        cur.append(word)
    if cur:
        lines.append(" ".join(cur))
    return lines


def make_writer(item: dict[str, Any], scale: float) -> Writer | PenWriter:
    """The hand of a plan item: a PenWriter for an IAM-OnDB form (item["pen"]), else the font Writer with the
    persistent style of its font and variant. ``scale`` = dpi / 150."""
    if item.get("pen") is not None:
        return PenWriter(item["pen"], np.random.default_rng([item["seed"], item["index"], 5]), scale)
    wrng = np.random.default_rng([item["seed"], int(hashlib.md5(item["font"]["name"].encode()).hexdigest()[:8], 16),
                                  item["variant"]])
    return Writer(item["font"], wrng, scale=scale, writer_id=item["writer_id"])


def hand_text(writer: Writer | PenWriter, rng: np.random.Generator, split: str, max_lines: int,
              page_width: int) -> list[str]:
    """Sentences the writer copies: the IAM-OnDB form's lines for a PenWriter, else corpus sentences of ``split``
    enough for about ``max_lines`` lines of ``page_width`` pixels."""
    if isinstance(writer, PenWriter):
        return list(writer.form.lines)
    avg_char = writer.xh * (0.62 if not writer.cursive else 0.55) + writer.tracking * writer.xh
    line_w = page_width * (1 - writer.left_margin - writer.right_margin)
    return pick_text(rng, split, max(60, max_lines * line_w / max(avg_char, 3)))


def signature_words(writer: Writer | PenWriter, rng: np.random.Generator) -> list[str]:
    """The two words written after "Name:": a random first and last name, or two of a PenWriter's own words."""
    if isinstance(writer, PenWriter):
        return writer.signature_words(rng)
    return [FIRST_NAMES[int(rng.integers(len(FIRST_NAMES)))], LAST_NAMES[int(rng.integers(len(LAST_NAMES)))]]


def hand_alpha(writer: Writer | PenWriter, coverage: np.ndarray, rng: np.random.Generator, scale: float) -> np.ndarray:
    """Ink opacity (H, W) of the warped handwriting coverage (H, W): the writer's pen pressure (fonts) or pen kind."""
    if isinstance(writer, PenWriter):
        return writer.ink_alpha(coverage, rng)
    return degrade.ink_alpha(coverage, rng, writer.pressure, writer.pressure_var, scale)


def source_fields(item: dict[str, Any]) -> dict[str, str]:
    """Form-dict fields naming where the handwriting comes from: the font, or the IAM-OnDB form."""
    if item.get("pen") is not None:
        return {"source": "iamondb", "iamondb_form": item["pen"].form_id, "font": "iamondb:" + item["pen"].form_id,
                "font_class": "pen"}
    return {"source": "font", "font": item["font"]["name"], "font_class": item["font"]["class"]}


def render_form(item: dict[str, Any], dpi: int = 150) -> tuple[np.ndarray, dict[str, Any]]:
    """Render one form: returns (page uint8, form dict with printed lines and handwritten lines/words/cmps).

    The page is uint8 gray (H, W), A4 at ``dpi``, ink dark; every cmp is an ink component's box (x, y, w, h) in
    page pixels."""
    from ocr.data.fonts import printed_fonts
    rng = np.random.default_rng([item["seed"], item["index"], 1])
    scale = dpi / 150.0
    W, H = int(round(8.27 * dpi)), int(round(11.69 * dpi))
    writer = make_writer(item, scale)
    pfonts = {f["name"]: f["path"] for f in printed_fonts()}
    serif = pfonts.get("dejavu-serif") or next(iter(pfonts.values()))
    if "liberation-serif" in pfonts and rng.random() < 0.5:
        serif = pfonts["liberation-serif"]
    bold = pfonts.get("dejavu-sans-bold") or pfonts.get("liberation-sans-bold") or serif
    sans = pfonts.get("dejavu-sans") or serif

    print_ink = np.zeros((H, W), np.float32)
    hand_ink = np.zeros((H, W), np.float32)

    # ---- printed header and prompt
    m_left, m_right = int(0.1 * W), int(0.9 * W)
    y = int(0.06 * H)
    head = get_font(bold, int(22 * scale))
    print_text(print_ink, head, "Sentence Database", m_left, y)
    fid = item["id"].upper()
    print_text(print_ink, head, fid, m_right - head.getlength(fid), y)
    y += int(0.035 * H)
    max_lines = int(rng.integers(MIN_LINES, MAX_LINES + 1))
    sentences = hand_text(writer, rng, item["split"], max_lines, W)
    pfont = get_font(serif, int(rng.uniform(19, 23) * scale))
    p_line_h = int(pfont.size * 1.35)

    # ---- handwriting: render all words first, then lay them out
    words = " ".join(sentences).split()
    space = writer.word_space * writer.xh
    hw_top_gap = int(0.03 * H)
    # printed prompt height depends on the text: lay out printed text provisionally to find the area
    bottom_rule_y = int(H * rng.uniform(0.86, 0.9))
    line_pitch = writer.line_pitch()
    patches = [writer.render_word(w, rng) for w in words]

    def layout(n_words):
        lines, cur, x = [], [], None
        left = writer.left_margin * W
        right = W * (1 - writer.right_margin)
        for i in range(n_words):
            patch, ox, oy, adv = patches[i]
            wwidth = max(patch.shape[1] - ox, adv)
            if x is None:
                x = left + rng_layout.normal(0, writer.line_start_jitter * W) + (
                    2.5 * writer.xh if (writer.indent_first and not lines) else 0)
            elif x + space + wwidth > right and cur:
                lines.append(cur)
                cur = []
                x = left + rng_layout.normal(0, writer.line_start_jitter * W)
            else:
                x += space * (1 + rng_layout.normal(0, writer.word_space_jitter))
            cur.append((i, x))
            x += wwidth
        if cur:
            lines.append(cur)
        return lines

    # choose how many words fit: at most max_lines lines and the area between the rules
    n = len(words)
    while True:
        rng_layout = np.random.default_rng([item["seed"], item["index"], 2])
        printed_lines = wrap_words(pfont, words[:n], m_right - m_left)
        hand_top = y + len(printed_lines) * p_line_h + hw_top_gap + int(0.01 * H)
        avail = bottom_rule_y - hand_top - int(0.02 * H)
        fit_lines = max(1, min(max_lines, int((avail - 1.5 * writer.xh) / line_pitch)))
        hand_lines = layout(n)
        if len(hand_lines) <= fit_lines or n <= 3:
            break
        # drop the words of the surplus lines (keep whole sentences when that still leaves >= MIN_LINES)
        n = sum(len(ln) for ln in hand_lines[:fit_lines])
    # end at a sentence boundary when that keeps most of the text (writers copy whole sentences)
    bounds = np.cumsum([len(t.split()) for t in sentences])
    ends = [int(b) for b in bounds if b <= n]
    if n < len(words) and ends and ends[-1] >= 0.6 * n:
        n = ends[-1]
        printed_lines = wrap_words(pfont, words[:n], m_right - m_left)
        hand_top = y + len(printed_lines) * p_line_h + hw_top_gap + int(0.01 * H)
        rng_layout = np.random.default_rng([item["seed"], item["index"], 2])
        hand_lines = layout(n)
    sentences = [t for t, b in zip(sentences, bounds) if b <= n] + (
        [" ".join(words[int(bounds[len(ends) - 1]) if ends else 0:n])] if n not in ends else [])
    words = words[:n]

    # printed prompt
    for k, text in enumerate(printed_lines):
        print_text(print_ink, pfont, text, m_left, y + (k + 1) * p_line_h - int(p_line_h * 0.3))
    rule1 = y + len(printed_lines) * p_line_h + int(0.012 * H)
    cv2.line(print_ink, (m_left - 20, rule1), (m_right + 20, rule1), 1.0, max(1, int(round(1.5 * scale))))
    cv2.line(print_ink, (m_left - 20, bottom_rule_y), (m_right + 20, bottom_rule_y), 1.0,
             max(1, int(round(1.5 * scale))))
    name_y = bottom_rule_y + int(0.045 * H)
    name_font = get_font(sans, int(20 * scale))
    print_text(print_ink, name_font, "Name:", m_left, name_y)

    # handwritten lines
    first_base = hand_top + 2.2 * writer.xh
    slope_base = writer.line_slope
    placed = []   # per line: list of (word index, patch, px, py)
    for li, line in enumerate(hand_lines):
        base = first_base + li * line_pitch + rng.normal(0, 0.12 * writer.xh)
        slope = slope_base + rng.normal(0, writer.line_slope_jitter)
        x_start = line[0][1]
        drift = 0.0
        row = []
        for i, x in line:
            patch, ox, oy, _ = patches[i]
            drift = 0.7 * drift + rng.normal(0, writer.baseline_wobble * writer.xh)
            by = base + slope * (x - x_start) + drift
            px, py = int(round(x - ox)), int(round(by - oy))
            _place(hand_ink, patch, px, py)
            row.append((i, patch, px, py))
        placed.append(row)

    # signature after "Name:"
    sig_words = signature_words(writer, rng)
    sx = m_left + name_font.getlength("Name:") + writer.xh * rng.uniform(1.5, 4)
    for sw in sig_words:
        patch, ox, oy, _ = writer.render_word(sw, rng)
        _place(hand_ink, patch, int(sx - ox), int(name_y - oy + rng.normal(0, 2)))
        sx += patch.shape[1] - ox + space

    # ---- page warp, paper, ink, scanner
    warp = degrade.PageWarp(H, W, rng, scale=scale)
    both = warp.apply(np.dstack([hand_ink, print_ink]))      # one remap for both ink layers
    hand_w, print_w = both[..., 0], both[..., 1]
    background = degrade.paper(H, W, rng, scale)
    alpha_hand = hand_alpha(writer, hand_w, rng, scale)
    print_level = rng.uniform(0, 40)
    page = degrade.compose(background, [(np.clip(print_w, 0, 1) * rng.uniform(0.85, 1.0), print_level),
                                        (alpha_hand, writer.ink_level)])
    page = degrade.scan_effects(page, rng, scale)

    # ---- boxes from each word's warped ink
    paper_level = float(np.median(page[::8, ::8]))
    threshold = int(round((paper_level + writer.ink_level) / 2))
    lines_out = []
    for row in placed:
        line_words = []
        for i, patch, px, py in row:
            mask, x0, y0 = warp.warp_patch(patch, px, py)
            cmps = _components(mask > 0.3, x0, y0, W, H)
            if not cmps:   # ink entirely lost (should not happen): keep the word with its warped patch box
                ys, xs = np.nonzero(mask > 0.02)
                if len(xs) == 0:
                    continue
                cmps = [(x0 + int(xs.min()), y0 + int(ys.min()), int(xs.max() - xs.min()) + 1,
                         int(ys.max() - ys.min()) + 1)]
            line_words.append({"text": words[i], "cmps": cmps})
        if line_words:
            lines_out.append({"words": line_words, "text": " ".join(w["text"] for w in line_words),
                              "threshold": threshold})
    form = {"id": item["id"], "writer_id": item["writer_id"], "width": W, "height": H, "split": item["split"],
            "task": item["task"], **source_fields(item),
            "printed": printed_lines, "lines": lines_out, "sentences": sentences,
            "xh": writer.xh, "created": _created(item)}
    return page, form


def _components(mask, x0, y0, W, H):
    """Ink connected components of a word mask (page pixels): list of (x, y, w, h)."""
    m = mask.astype(np.uint8)
    if not m.any():
        return []
    n, _, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    out = []
    for k in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[k])
        x, y = x + x0, y + y0
        x2, y2 = min(x + w, W), min(y + h, H)
        x, y = max(x, 0), max(y, 0)
        if x2 > x and y2 > y:
            out.append((x, y, x2 - x, y2 - y))
    return sorted(out)


def _created(item):
    r = np.random.default_rng([item["seed"], item["index"], 3])
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return "%s %s %2d %02d:%02d:%02d 2001" % (days[r.integers(7)], months[r.integers(12)], r.integers(1, 29),
                                             r.integers(24), r.integers(60), r.integers(60))


# ---------------------------------------------------------------------------------------------- output

def _box(boxes):
    x1 = min(b[0] for b in boxes)
    y1 = min(b[1] for b in boxes)
    x2 = max(b[0] + b[2] for b in boxes)
    y2 = max(b[1] + b[3] for b in boxes)
    return x1, y1, x2 - x1, y2 - y1


def form_xml(form: dict[str, Any]) -> bytes:
    """IAM-format xml bytes of one form."""
    root = etree.Element("form", {"created": form["created"], "height": str(form["height"]), "id": form["id"],
                                  "width": str(form["width"]), "writer-id": form["writer_id"]})
    if form.get("source") == "iamondb":
        root.set("source", "iamondb:" + form["iamondb_form"])
    mp = etree.SubElement(root, "machine-printed-part")
    for text in form["printed"]:
        etree.SubElement(mp, "machine-print-line", {"text": text})
    hp = etree.SubElement(root, "handwritten-part")
    for li, line in enumerate(form["lines"]):
        lid = "%s-%02d" % (form["id"], li)
        allc = [c for w in line["words"] for c in w["cmps"]]
        x, y, w, h = _box(allc)
        base = y + int(round(h * 0.72))
        el = etree.SubElement(hp, "line", {
            "id": lid, "text": line["text"], "segmentation": "ok", "threshold": str(line["threshold"]),
            "asx": str(x), "asy": str(y), "dsx": str(x), "dsy": str(y + h), "lbx": str(x), "lby": str(base),
            "lex": str(x + w), "ley": str(base)})
        for wi, word in enumerate(line["words"]):
            wel = etree.SubElement(el, "word", {"id": "%s-%02d" % (lid, wi), "tag": word_tag(word["text"]),
                                                "text": word["text"]})
            for cx, cy, cw, ch in word["cmps"]:
                etree.SubElement(wel, "cmp", {"x": str(cx), "y": str(cy), "width": str(cw), "height": str(ch)})
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _png(img):
    ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def _crop(page, box, margin):
    x, y, w, h = box
    H, W = page.shape
    return page[max(y - margin, 0):min(y + h + margin, H), max(x - margin, 0):min(x + w + margin, W)]


def write_form(out_dir: str, item: dict[str, Any], dpi: int = 150) -> dict[str, Any]:
    """Render one form and write its page, line and word images and its xml; returns the form dict."""
    cv2.setNumThreads(1)
    page, form = render_form(item, dpi)
    fid = form["id"]
    folder = fid.split("-")[0]
    atomic_write_bytes(os.path.join(out_dir, "forms", fid + ".png"), _png(page))
    margin_line, margin_word = max(2, int(6 * dpi / 150)), max(1, int(3 * dpi / 150))
    for li, line in enumerate(form["lines"]):
        lid = "%s-%02d" % (fid, li)
        line["box"] = _box([c for w in line["words"] for c in w["cmps"]])
        atomic_write_bytes(os.path.join(out_dir, "lines", folder, fid, lid + ".png"),
                           _png(_crop(page, line["box"], margin_line)))
        for wi, word in enumerate(line["words"]):
            word["box"] = _box(word["cmps"])
            atomic_write_bytes(os.path.join(out_dir, "words", folder, fid, "%s-%02d.png" % (lid, wi)),
                               _png(_crop(page, word["box"], margin_word)))
    atomic_write_bytes(os.path.join(out_dir, "xml", fid + ".xml"), form_xml(form))
    return form


def _write_ascii(out_dir, forms):
    head = ("#--- %s ---------------------------------------------------------------\n"
            "#\n# synthetic IAM-format data (ocr.data.synthetic): %s\n#\n")
    f_rows, l_rows, w_rows, s_rows = [], [], [], []
    for form in forms:
        nwords = sum(len(ln["words"]) for ln in form["lines"])
        f_rows.append("%s %s %d all %d %d %d %d" % (form["id"], form["writer_id"], len(form["sentences"]),
                                                    len(form["lines"]), len(form["lines"]), nwords, nwords))
        sent_idx, sent_part, pos = 0, 0, 0
        sent_lens = [len(s.split()) for s in form["sentences"]]
        for li, line in enumerate(form["lines"]):
            lid = "%s-%02d" % (form["id"], li)
            ncmp = sum(len(w["cmps"]) for w in line["words"])
            x, y, w, h = line["box"]
            l_rows.append("%s ok %d %d %d %d %d %d %s" % (lid, line["threshold"], ncmp, x, y, w, h,
                                                          line["text"].replace(" ", "|")))
            piece = []
            for wi, word in enumerate(line["words"]):
                bx, by, bw, bh = word["box"]
                w_rows.append("%s-%02d ok %d %d %d %d %d %s %s" % (lid, wi, line["threshold"], bx, by, bw, bh,
                                                                   word_tag(word["text"]), word["text"]))
                piece.append(word)
                pos += 1
                if sent_idx < len(sent_lens) and pos == sent_lens[sent_idx] or wi == len(line["words"]) - 1:
                    cm = [c for pw in piece for c in pw["cmps"]]
                    sx, sy, sw, sh = _box(cm)
                    s_rows.append("%s-s%02d-%02d ok %d %d %d %d %d %d %s" % (
                        form["id"], sent_idx, sent_part, line["threshold"], len(cm), sx, sy, sw, sh,
                        "|".join(p["text"] for p in piece)))
                    piece = []
                    if sent_idx < len(sent_lens) and pos == sent_lens[sent_idx]:
                        sent_idx, sent_part, pos = sent_idx + 1, 0, 0
                    else:
                        sent_part += 1
    fmt = {
        "forms.txt": "format: form-id writer-id #sentences word-segmentation #lines #lines-ok #words #words-ok",
        "lines.txt": "format: line-id result graylevel #components x y w h transcription(| = space)",
        "words.txt": "format: word-id result graylevel x y w h grammatical-tag transcription",
        "sentences.txt": "format: form-sNN-PP result graylevel #components x y w h transcription(| = space)",
    }
    for name, rows in (("forms.txt", f_rows), ("lines.txt", l_rows), ("words.txt", w_rows),
                       ("sentences.txt", s_rows)):
        atomic_write_text(os.path.join(out_dir, "ascii", name), head % (name, fmt[name]) + "\n".join(rows) + "\n")


def _write_splits(out_dir, forms):
    tasks = {"train": "trainset.txt", "validation1": "validationset1.txt", "validation2": "validationset2.txt",
             "test": "testset.txt"}
    rows = {name: [] for name in tasks.values()}
    for form in forms:
        for li in range(len(form["lines"])):
            rows[tasks[form["task"]]].append("%s-%02d" % (form["id"], li))
    for name, ids in rows.items():
        atomic_write_text(os.path.join(out_dir, name), "".join(i + "\n" for i in ids))


def _prepare_out(out_dir, overwrite):
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UsageError("--out %s exists and is not a folder" % out_dir)
    if os.path.isdir(out_dir) and os.listdir(out_dir):
        if not overwrite:
            raise UsageError("--out %s is not empty (use --overwrite to replace the tree in it)" % out_dir)
        for entry in OUT_ENTRIES:   # only what this generator writes
            path = os.path.join(out_dir, entry)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.unlink(path)
    os.makedirs(out_dir, exist_ok=True)


def _worker(args):
    out_dir, item, dpi = args
    return write_form(out_dir, item, dpi)


def generate(out_dir: str, num_forms: int, seed: int, workers: int = 1, fractions: Sequence[float] = DEFAULT_FRACTIONS,
             dpi: int = 150, overwrite: bool = False, progress: bool = True, validation_groups_in_train: bool = False,
             pen_forms: dict[str, list[PenForm]] | None = None, pen_share: float = 0.0) -> list[dict[str, Any]]:
    """Write an IAM-format tree of ``num_forms`` synthetic forms into ``out_dir``; returns the list of form dicts
    (id, writer_id, split, task, source, font, lines with words/cmps/boxes, ...). ``validation_groups_in_train``:
    see make_plan. ``pen_forms``: {split: [PenForm]} (``pen_forms.load_pen_forms``); about ``pen_share`` of the
    forms are then written by IAM-OnDB forms of their split (``pen_forms.assign_pen_forms``)."""
    if num_forms < 1:
        raise UsageError("--forms must be at least 1")
    if not 50 <= dpi <= 600:
        raise UsageError("--dpi must be between 50 and 600")
    if not 0.0 <= pen_share <= 1.0:
        raise UsageError("--pen-share must be between 0 and 1")
    plan = make_plan(num_forms, seed, fractions, validation_groups_in_train=validation_groups_in_train)
    if pen_forms is not None and pen_share > 0:
        try:
            plan = assign_pen_forms(plan, pen_forms, pen_share, seed)
        except ValueError as err:
            raise UsageError(str(err)) from None
    _prepare_out(out_dir, overwrite)
    from ocr.data.corpus import load_sentences
    for split in SPLITS:     # load the corpus and the fonts once here, fail early
        if any(p["split"] == split for p in plan):
            load_sentences(split)
    from tqdm import tqdm
    jobs = [(out_dir, item, dpi) for item in plan]
    if workers <= 1:
        forms = [_worker(j) for j in tqdm(jobs, desc="forms", unit="form", disable=not progress)]
    else:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(workers) as pool:
            forms = list(tqdm(pool.imap(_worker, jobs, chunksize=1), total=len(jobs), desc="forms", unit="form",
                              disable=not progress))
    _write_ascii(out_dir, forms)
    _write_splits(out_dir, forms)
    return forms


def draw_form_boxes(form_png: str, form_xml: str, out_png: str, line_colour: tuple[int, int, int] = (0, 0, 255),
                    word_colour: tuple[int, int, int] = (0, 160, 0)) -> np.ndarray:
    """Draw the line boxes (red) and word boxes (green) of an IAM xml onto its page; writes ``out_png`` atomically
    and returns the BGR image (uint8 (H, W, 3)). Colours are BGR; the xml's <cmp> boxes are (x, y, w, h) in page
    pixels."""
    page = cv2.imread(form_png, cv2.IMREAD_GRAYSCALE)
    if page is None:
        raise FileNotFoundError("cannot read %s" % form_png)
    img = cv2.cvtColor(page, cv2.COLOR_GRAY2BGR)
    root = etree.parse(form_xml).getroot()
    for line in root.iter("line"):
        lc = []
        for word in line.iter("word"):
            cmps = [(int(c.get("x")), int(c.get("y")), int(c.get("width")), int(c.get("height")))
                    for c in word.iter("cmp")]
            if not cmps:
                continue
            lc += cmps
            x, y, w, h = _box(cmps)
            cv2.rectangle(img, (x, y), (x + w - 1, y + h - 1), word_colour, 1)
        if lc:
            x, y, w, h = _box(lc)
            cv2.rectangle(img, (x - 2, y - 2), (x + w + 1, y + h + 1), line_colour, 2)
    ok, buf = cv2.imencode(".png", img)
    atomic_write_bytes(out_png, buf.tobytes())
    return img


# ---------------------------------------------------------------------------------------------- CLI

class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _fractions(text):
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        raise UsageError("--split-fractions must be three numbers like 0.75,0.12,0.13") from None
    if len(parts) != 3 or any(p < 0 for p in parts) or sum(parts) <= 0:
        raise UsageError("--split-fractions must be three non-negative numbers like 0.75,0.12,0.13")
    total = sum(parts)
    return tuple(p / total for p in parts)


def pen_options(root: str | None, share: float | None) -> tuple[float, dict[str, list[PenForm]] | None]:
    """(pen share, {split: [PenForm]} or None) from --iamondb and --pen-share; checks them before the slow load."""
    if root is None:
        if share is not None:
            raise UsageError("--pen-share needs --iamondb DIR")
        return 0.0, None
    share = 0.5 if share is None else share
    if not 0.0 <= share <= 1.0:
        raise UsageError("--pen-share must be between 0 and 1")
    if not os.path.isdir(root):
        raise UsageError("--iamondb %s is not a folder" % root)
    return share, load_pen_forms(root)


def main(argv: list[str] | None = None) -> int:
    """``python -m ocr.data.synthetic --out DIR --forms N ...`` (see the module doc): generate a tree; 2 on an error
    (one line on stderr)."""
    parser = _Parser(prog="python -m ocr.data.synthetic", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output folder (must be empty unless --overwrite)")
    parser.add_argument("--forms", type=int, required=True, help="number of forms")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same tree)")
    parser.add_argument("--split-fractions", default="0.75,0.12,0.13",
                        help="fractions of forms for train,validation,test (default 0.75,0.12,0.13)")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--dpi", type=int, default=150, help="page resolution (A4; default 150)")
    parser.add_argument("--validation-groups-in-train", action="store_true",
                        help="every other validation font design group (by name) writes training forms instead "
                             "(more training fonts; validation keeps the other groups, still unseen fonts)")
    parser.add_argument("--overwrite", action="store_true", help="replace the generated tree in a non-empty --out")
    parser.add_argument("--iamondb", help="IAM-OnDB tree (lineStrokes/, ascii/): some forms are then written by its "
                                          "real hands, each from an IAM-OnDB form of the same split")
    parser.add_argument("--pen-share", type=float, default=None,
                        help="fraction of forms written by IAM-OnDB hands (with --iamondb; default 0.5)")
    try:
        args = parser.parse_args(argv)
        if args.workers < 1:
            raise UsageError("--workers must be at least 1")
        if args.seed < 0:
            raise UsageError("--seed must be non-negative")
        fractions = _fractions(args.split_fractions)
        pen_share, pen_forms = pen_options(args.iamondb, args.pen_share)
        forms = generate(args.out, args.forms, args.seed, workers=args.workers, fractions=fractions, dpi=args.dpi,
                         overwrite=args.overwrite, validation_groups_in_train=args.validation_groups_in_train,
                         pen_forms=pen_forms, pen_share=pen_share)
    except (UsageError, IAMOnDBError) as err:
        print("error: %s" % err, file=sys.stderr)
        return 2
    except FileNotFoundError as err:
        print("error: %s" % err, file=sys.stderr)
        return 2
    nl = sum(len(f["lines"]) for f in forms)
    print("wrote %d forms, %d lines, %d words to %s" % (len(forms), nl,
                                                        sum(len(ln["words"]) for f in forms for ln in f["lines"]),
                                                        args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
