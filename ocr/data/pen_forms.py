"""Real hands on synthetic forms: IAM-OnDB forms as the writers of some of the generator's pages.

A pen form of the synthetic tree takes one IAM-OnDB form of the matching split (``split_lines``: the same
session-disjoint splits the recogniser trains and evaluates on), and the next forms of its recording session (one
writer) while the page wants more words: their words, cut at stroke gaps from the lines whose gaps agree with their
words (``pen.word_groups``: count and widths), in reading order, are both the printed prompt and the handwriting. The
copy has no writer ids and a session can join two writers recorded back to back, so a page occasionally shows two hands;
each form's words are drawn at one size (its body band at the page's body height), so the page stays even.

``PenWriter`` offers the layout habits a font ``Writer`` offers (x-height, margins, spacing, line pitch, slope,
wobble, ink) and draws each word from its own strokes in one pen style per page, so the form generator lays the
words out, warps the page and measures the boxes on the warped ink exactly as for fonts.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ocr.data.iamondb import SPLIT_FRACTIONS, OnlineLine, form_sessions, load_iamondb, split_lines
from ocr.data.pen import WriterStyle, body_height, ink_opacity, level_strokes, word_coverage, word_groups

SPLITS = ("train", "validation", "test")
MIN_WORDS = 12                 # IAM-OnDB forms with fewer usable words are not used
PAGE_WORDS = (40, 110)         # a page's text: forms of one session until this many words (drawn per page)
BASELINE_PERCENTILE = 85       # a levelled line's baseline: this percentile of its points' y
XH_PER_BODY = 0.7              # x-height / body band height (10th-90th percentile of y)
WORD_MARGIN_PX = (2, 2)        # paper around a word's coverage patch, pixels (vertical, horizontal)


@dataclass(frozen=True)
class PenWord:
    """One handwritten word: ``strokes`` (float32 (N, 3) arrays, tablet units, its line levelled) and ``origin``
    (x, y), tablet units: the left end of the word's ink on its baseline (the word's median y plus its line's
    baseline-to-median offset, so a line's drift does not carry over to the page); ``body_units``: the body band
    height of its form's lines (tablet units), the unit its size is drawn in."""
    text: str
    strokes: tuple[np.ndarray, ...]
    origin: tuple[float, float]
    body_units: float


@dataclass(frozen=True)
class PenForm:
    """The usable words of one IAM-OnDB form. ``lines``: texts of the lines whose words were cut (reading order);
    ``reach_bodies``: 90th percentile of the words' ink heights, in body heights; ``session``: recording session
    (``iamondb.form_sessions``), the writer's stand-in id."""
    form_id: str
    session: int
    lines: tuple[str, ...]
    words: tuple[PenWord, ...]
    reach_bodies: float


def pen_form(form_id: str, session: int, lines: list[OnlineLine]) -> PenForm | None:
    """The PenForm of one IAM-OnDB form from its OnlineLines (in line order); None when fewer than MIN_WORDS
    words could be cut."""
    texts, cut, bodies = [], [], []
    for line in lines:
        tokens = line.text.split()
        levelled = level_strokes(line.strokes)
        groups = word_groups(levelled, tokens)
        if groups is None:
            continue
        ys = np.concatenate([s[:, 1] for s in levelled])
        offset = float(np.percentile(ys, BASELINE_PERCENTILE) - np.median(ys))
        texts.append(line.text)
        bodies.append(body_height(levelled))
        for token, group in zip(tokens, groups):
            points = np.concatenate([levelled[i] for i in group])
            origin = (float(points[:, 0].min()), float(np.median(points[:, 1])) + offset)
            cut.append((token, tuple(levelled[i] for i in group), origin))
    if len(cut) < MIN_WORDS:
        return None
    body = float(np.median(bodies))
    heights = [np.ptp(np.concatenate(strokes)[:, 1]) for _, strokes, _ in cut]
    return PenForm(form_id, session, tuple(texts), tuple(PenWord(*word, body) for word in cut),
                   float(np.percentile(heights, 90)) / body)


def pen_forms_by_split(lines: list[OnlineLine],
                       fractions: tuple[float, ...] = SPLIT_FRACTIONS) -> dict[str, list[PenForm]]:
    """IAM-OnDB lines -> {'train', 'validation', 'test': [PenForm]} sorted by form id; the splits are
    ``split_lines(lines, fractions)`` (the default is the one the recogniser's trainer uses)."""
    sessions = form_sessions(lines)
    out = {}
    for role, part in split_lines(lines, fractions).items():
        by_form = {}
        for line in sorted(part, key=lambda ln: ln.line_id):
            by_form.setdefault(line.form_id, []).append(line)
        forms = (pen_form(fid, sessions[fid], by_form[fid]) for fid in sorted(by_form))
        out[role] = [form for form in forms if form is not None]
    return out


def load_pen_forms(root: str, fractions: tuple[float, ...] = SPLIT_FRACTIONS,
                   log: Callable[[str], None] = print) -> dict[str, list[PenForm]]:
    """{'train', 'validation', 'test': [PenForm]} of the IAM-OnDB tree at ``root`` (reserved forms left out);
    raises iamondb.IAMOnDBError when ``root`` is not such a tree. One summary line per split goes to ``log``."""
    pools = pen_forms_by_split(load_iamondb(root, log=log), fractions)
    log("IAM-OnDB forms usable on pages: " + ", ".join("%s %d" % (role, len(pools[role])) for role in SPLITS))
    return pools


def merge_forms(forms: list[PenForm]) -> PenForm:
    """One PenForm holding the lines and words of ``forms`` (one session) in order; id 'a+b+...'; the reach is the
    largest of the forms'."""
    return PenForm("+".join(f.form_id for f in forms), forms[0].session, sum((f.lines for f in forms), ()),
                   sum((f.words for f in forms), ()), max(f.reach_bodies for f in forms))


def session_page(pool: list[PenForm], start: int, min_words: int) -> PenForm:
    """The text of one page: ``pool[start]`` followed by the next forms of its session (one writer; pool order,
    wrapping round, each at most once) until there are ``min_words`` words or the session is used up."""
    session = [f for f in pool[start:] + pool[:start] if f.session == pool[start].session]
    taken, words = [], 0
    for form in session:
        if words >= min_words:
            break
        taken.append(form)
        words += len(form.words)
    return merge_forms(taken) if len(taken) > 1 else taken[0]


def assign_pen_forms(plan: list[dict[str, Any]], pools: dict[str, list[PenForm]], share: float,
                     seed: int) -> list[dict[str, Any]]:
    """A copy of the generator's ``plan`` where about ``share`` of the forms (seeded by ``seed``, drawn per form
    index) are pen forms: item["pen"] is a PenForm of the item's split (``session_page`` from the split's pool in a
    seeded order, reused cyclically, with PAGE_WORDS words where the session has them) and item["writer_id"] is
    'o' + its session number. Raises ValueError when a split that needs pen forms has none."""
    chosen = np.random.default_rng([seed, 13]).random(len(plan)) < share
    page_words = np.random.default_rng([seed, 19]).integers(PAGE_WORDS[0], PAGE_WORDS[1] + 1, len(plan))
    orders = {role: np.random.default_rng([seed, 17, k]).permutation(len(pools.get(role, [])))
              for k, role in enumerate(SPLITS)}
    taken = {role: 0 for role in SPLITS}
    out = []
    for item, pen, words in zip(plan, chosen, page_words):
        item = dict(item)
        if pen:
            role = item["split"]
            if not len(orders[role]):
                raise ValueError("the IAM-OnDB tree has no usable %s forms for pen forms" % role)
            start = int(orders[role][taken[role] % len(orders[role])])
            form = session_page(pools[role], start, int(words))
            taken[role] += 1
            item.update(pen=form, writer_id="o%03d" % form.session)
        out.append(item)
    return out


class PenWriter:
    """An IAM-OnDB form's writer on a synthetic page (the interface of ``handwriting.Writer`` that the form
    generator uses). Lengths in page pixels; ``scale`` = dpi / 150; the pen style (``pen.WriterStyle``, whose
    lengths are at 300 dpi) and the layout habits are drawn from ``rng``. Every word is drawn with its form's body
    band at style.body_px pixels, so the forms of one page write at one size."""

    def __init__(self, form: PenForm, rng: np.random.Generator, scale: float = 1.0) -> None:
        self.form = form
        style = WriterStyle.draw(rng)
        self.xh = rng.uniform(10.5, 16.5) * scale                      # as the font writers
        factor = scale / 2.0
        self.style = dataclasses.replace(style, body_px=self.xh / XH_PER_BODY, pen_px=style.pen_px * factor,
                                         jitter_px=style.jitter_px * factor)
        self.word_space = rng.uniform(0.8, 1.6)                        # x-heights
        self.word_space_jitter = rng.uniform(0.1, 0.3)
        self.line_spacing = rng.uniform(3.6, 5.4)                      # x-heights, baseline to baseline
        self.baseline_wobble = rng.uniform(0.01, 0.04)                 # x-heights (the strokes wobble already)
        self.line_slope = rng.normal(0, 0.006)                         # rad
        self.line_slope_jitter = rng.uniform(0.002, 0.008)
        self.left_margin = rng.uniform(0.06, 0.15)                     # page widths
        self.right_margin = rng.uniform(0.04, 0.13)
        self.line_start_jitter = rng.uniform(0.002, 0.012)             # page widths
        self.indent_first = rng.random() < 0.3
        self.word_rotation = rng.uniform(0.2, 1.0)                     # degrees, sigma per word
        self.ink_level = self.style.ink
        self._used = {}

    def line_pitch(self) -> float:
        """Baseline-to-baseline distance (pixels): the writer's habit, but at least the ink's reach."""
        reach = self.form.reach_bodies * self.style.body_px
        return max(self.line_spacing * self.xh, 0.9 * reach + 0.5 * self.xh)

    def render_word(self, word: str, rng: np.random.Generator) -> tuple[np.ndarray, float, float, float]:
        """The ink of the form's next unused occurrence of ``word`` (cycling when all are used):
        (patch float32 (H, W) coverage, ox, oy, advance), (ox, oy) the baseline start inside the patch and
        ``advance`` the ink's width from it (pixels). Raises KeyError for a word the form does not have."""
        occurrences = [w for w in self.form.words if w.text == word]
        if not occurrences:
            raise KeyError("%r is not a word of IAM-OnDB form %s" % (word, self.form.form_id))
        count = self._used.get(word, 0)
        self._used[word] = count + 1
        pen_word = occurrences[count % len(occurrences)]
        px_per_unit = self.style.body_px / pen_word.body_units
        patch, ox, oy = word_coverage(list(pen_word.strokes), self.style, rng, px_per_unit, pen_word.origin,
                                      rng.normal(0.0, self.word_rotation), WORD_MARGIN_PX)
        return patch, ox, oy, patch.shape[1] - ox - WORD_MARGIN_PX[1]

    def signature_words(self, rng: np.random.Generator) -> list[str]:
        """Two of the form's words, at random, written where a font writer signs its name."""
        picks = rng.choice(len(self.form.words), size=2, replace=False)
        return [self.form.words[int(k)].text for k in picks]

    def ink_alpha(self, coverage: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Ink opacity (H, W) in 0..1 of the page's handwriting coverage (H, W), with the pen kind's texture."""
        return ink_opacity(coverage, self.style, rng)
