"""Training lines drawn from two sources: font lines (and words) of an IAM-format tree and IAM-OnDB pen strokes
rendered afresh.

An epoch is a list of ``LineSpec``: a font line (an IAMDataset row, augmented with ``augment_line``), a font word
(an IAMDataset word crop cut to its ink with the margins the reader gives word crops, so that single words and
tight crops are trained on as they are read), a real IAM-OnDB line rendered as ink (``ocr.data.pen.render_line``),
or a new line composed from the words of one IAM-OnDB form (one writer). Every spec carries its own seed, so an
item is the same image in any worker process and an epoch is the same after a resume.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ocr.core.alphabet import encode
from ocr.recognition.augment import AugmentParams, augment_line
from ocr.data.iamondb import OnlineLine, load_iamondb, split_lines
from ocr.data.pen import compose_line, render_line, word_groups
from ocr.core.geometry import resize_image
from ocr.core.ink import WORD_MARGIN, crop_to_ink

if TYPE_CHECKING:
    from ocr.data.iam import IAMDataset

HELD_OUT_SEED = 10 ** 6


@dataclass(frozen=True)
class LineSpec:
    """One training item. kind: 'font' (``ref`` = dataset row), 'font_word' (``ref`` = word dataset row), 'pen'
    (``ref`` = index into the IAM-OnDB lines) or 'composed' (``ref`` = tuple of (line index, word index) pairs, all
    of one form); ``seed`` drives the augmentation or the rendering."""
    kind: str
    ref: int | tuple[tuple[int, int], ...]
    seed: int


def ctc_fits(label: np.ndarray, steps: int) -> bool:
    """True when CTC can align ``label`` (int array) to ``steps`` frames (length + repeated neighbours <= steps)."""
    return len(label) + int(np.sum(label[1:] == label[:-1])) <= steps


def pen_splits(root: str, limit: int | None = None, seed: int = 0, max_len: int | None = None,
               steps: int | None = None) -> dict[str, list[OnlineLine]]:
    """IAM-OnDB lines of ``root`` split by session (``split_lines``) -> {role: [OnlineLine]}. Then, per split, lines
    longer than ``max_len`` characters or that CTC cannot align in ``steps`` frames are dropped (when given), and
    validation and test keep a seeded random subset of at most ``limit`` lines."""
    splits = split_lines(load_iamondb(root))
    for role, lines in splits.items():
        splits[role] = [line for line in lines if (max_len is None or len(line.text) <= max_len)
                        and (steps is None or ctc_fits(encode(line.text), steps))]
    for role in ("validation", "test"):
        if limit is not None and limit < len(splits[role]):
            keep = np.sort(np.random.default_rng(seed).permutation(len(splits[role]))[:limit])
            splits[role] = [splits[role][i] for i in keep]
    return splits


def held_out_specs(count: int) -> list[LineSpec]:
    """Specs of ``count`` held-out IAM-OnDB lines: line i is rendered with seed HELD_OUT_SEED + i, so validation,
    tuning and benchmarks see the same images in every run."""
    return [LineSpec("pen", i, HELD_OUT_SEED + i) for i in range(count)]


def word_bank(lines: list[OnlineLine], groups: dict[int, list[list[int]]] | None = None) -> dict[str, dict]:
    """{form id: [(line index, word index, word text)]} of the IAM-OnDB lines whose stroke gaps agree with their
    words (``word_groups``: count and widths); the groups are kept in ``groups`` for rendering. ``groups`` given
    (line index -> stroke indices per word, as a bank holds them): the bank of those, without finding them again."""
    if groups is None:
        found = ((index, word_groups(line.strokes, line.text.split())) for index, line in enumerate(lines))
        groups = {index: group for index, group in found if group is not None}
    bank = {}
    for index, line in enumerate(lines):
        if index in groups:
            for k, word in enumerate(line.text.split()):
                bank.setdefault(line.form_id, []).append((index, k, word))
    return {"words": bank, "groups": groups}


LINE_WORDS = (3, 10)     # a composed line holds 3-9 words
COMPOSED_MAX_CHARS = 100  # and at most this many characters
SHORT_WORDS = (1, 3)     # a short composed line: 1 or 2 words (single words and tight crops, read as in lines)


def composed_spec(bank: dict[str, dict], rng: np.random.Generator, max_chars: int,
                  words_range: tuple[int, int] = LINE_WORDS,
                  form_p: np.ndarray | None = None) -> tuple[tuple[tuple[int, int], ...], str] | None:
    """(refs, text) of a new line: random words of one random form of ``bank`` (``word_bank``), as many as
    ``rng.integers(*words_range)``, at most ``max_chars`` characters; None when the bank is empty. The form is
    drawn uniformly, or with the probabilities ``form_p`` of the bank's forms in sorted order when given."""
    forms = sorted(bank["words"])
    if not forms:
        return None
    form = forms[rng.integers(len(forms)) if form_p is None else rng.choice(len(forms), p=form_p)]
    words = bank["words"][form]
    picks = [words[k] for k in rng.choice(len(words), size=min(len(words), int(rng.integers(*words_range))),
                                          replace=False)]
    text = ""
    refs = []
    for line_index, word_index, word in picks:
        if len(text) + len(word) + 1 > max_chars:
            break
        text = (text + " " + word).strip()
        refs.append((line_index, word_index))
    return tuple(refs), text


def epoch_specs(rng: np.random.Generator, font_rows: int, pen_rows: int, items: int, pen_share: float,
                composed_share: float, bank: dict[str, dict] | None, max_chars: int,
                pen_texts: list[str], short_share: float = 0.0, word_rows: int = 0,
                word_share: float = 0.0, pen_forms: list[str] | None = None,
                form_weights: dict[str, float] | None = None) -> tuple[list[LineSpec], list[str | None]]:
    """The shuffled (specs, texts) of one epoch of ``items`` lines: ``pen_share`` of them IAM-OnDB lines (of which
    ``composed_share`` composed from one form's words, and ``short_share`` of those only SHORT_WORDS long), the
    rest font rows, ``word_share`` of those font word rows (of ``word_rows``); rows are drawn without replacement
    within an epoch while there are enough. ``pen_texts``: the texts of the IAM-OnDB lines; texts of font items are
    None. With ``form_weights`` (form id -> sampling weight, 1.0 where missing; ``pen_forms``: the form id of each
    IAM-OnDB line) IAM-OnDB lines and the forms of composed lines are drawn in proportion to their form's weight,
    with replacement. With ``short_share`` and ``word_share`` 0 and no ``form_weights`` the random draws are those
    of a mix without them."""
    pen_items = int(round(items * pen_share)) if pen_rows else 0
    composed = int(round(pen_items * composed_share)) if bank and bank["words"] else 0
    short = int(round(composed * short_share))
    font_items = items - pen_items if font_rows else 0
    word_items = int(round(font_items * word_share)) if word_rows else 0
    specs, texts = [], []
    if form_weights is None:
        pen_draw, form_p = _draw(rng, pen_rows, pen_items - composed), None
    else:
        pen_draw = rng.choice(pen_rows, size=pen_items - composed, p=_probabilities(pen_forms, form_weights))
        form_p = _probabilities(sorted(bank["words"]), form_weights) if composed else None
    for row in pen_draw:
        specs.append(LineSpec("pen", int(row), int(rng.integers(2 ** 62))))
        texts.append(pen_texts[row])
    for k in range(composed):
        refs, text = composed_spec(bank, rng, max_chars, SHORT_WORDS if k < short else LINE_WORDS, form_p)
        specs.append(LineSpec("composed", refs, int(rng.integers(2 ** 62))))
        texts.append(text)
    for row in _draw(rng, font_rows, font_items - word_items):
        specs.append(LineSpec("font", int(row), int(rng.integers(2 ** 62))))
        texts.append(None)
    for row in _draw(rng, word_rows, word_items):
        specs.append(LineSpec("font_word", int(row), int(rng.integers(2 ** 62))))
        texts.append(None)
    order = rng.permutation(len(specs))
    return [specs[i] for i in order], [texts[i] for i in order]


def _probabilities(forms: list[str], form_weights: dict[str, float]) -> np.ndarray:
    """Sampling probabilities of ``forms`` (one entry per item) in proportion to their weights (1.0 where missing)."""
    p = np.array([form_weights.get(form, 1.0) for form in forms])
    return p / p.sum()


def read_form_weights(path: str) -> dict[str, float]:
    """{form id: sampling weight} of a TSV written by ``utils/score_pen_forms.py`` (a header row, then form_id, lines,
    cer_percent, weight); ValueError naming the file and line when it is not that."""
    weights = {}
    with open(path, encoding="utf-8") as f:
        rows = f.read().splitlines()
    if not rows or rows[0].split("\t")[:1] != ["form_id"]:
        raise ValueError("%s: not a form-weights TSV (its first row must start with form_id)" % path)
    for number, row in enumerate(rows[1:], 2):
        fields = row.split("\t")
        try:
            weight = float(fields[3]) if len(fields) == 4 else None
        except ValueError:
            weight = None
        if weight is None or not 0 < weight < float("inf"):
            raise ValueError("%s line %d: want form_id, lines, cer_percent and a positive, finite weight" % (path, number))
        weights[fields[0]] = weight
    return weights


def _draw(rng: np.random.Generator, rows: int, count: int) -> np.ndarray:
    """``count`` row indices in [0, rows): whole permutations, then a partial one."""
    if rows == 0 or count <= 0:
        return np.zeros(0, int)
    chunks = [rng.permutation(rows) for _ in range(count // rows + 1)]
    return np.concatenate(chunks)[:count]


def render_spec(spec: LineSpec, pen_lines: list[OnlineLine], bank: dict[str, dict] | None,
                size: tuple[int, int] | None, warp: float = 0.0) -> np.ndarray:
    """uint8 line image of a 'pen' or 'composed' spec, fitted into ``size`` (H, W) unless that is None. A composed
    spec of one word is cut to its ink with WORD_MARGIN, as the reader cuts a word crop. ``warp``: the largest
    shape-warp strength in body heights (``ocr.data.pen.render_line``; 0: none)."""
    rng = np.random.default_rng(spec.seed)
    if spec.kind == "pen":
        strokes = pen_lines[spec.ref].strokes
    else:
        words = []
        for line_index, word_index in spec.ref:
            line_strokes = pen_lines[line_index].strokes
            words.append([line_strokes[i] for i in bank["groups"][line_index][word_index]])
        strokes = compose_line(words, rng)
    image = render_line(strokes, rng, warp=warp)
    if spec.kind == "composed" and len(spec.ref) == 1:
        image = crop_to_ink(image, WORD_MARGIN)
    return image if size is None else resize_image(image, size)[0]


class MixedLineSet:
    """Items (uint8 image (H, W) fitted into ``size``, int32 label) of ``specs``. Font specs read
    ``font_source[row][0]`` (already fitted), font word specs ``word_source.original_image(row)`` (cut to its ink
    with margins, then fitted), and augment it with ``augment`` (None: unchanged); pen specs render ``pen_lines``
    strokes, their letter shapes warped up to ``pen_warp`` body heights (0: as written)."""

    def __init__(self, specs: list[LineSpec], labels: list[np.ndarray], font_source: Any,
                 pen_lines: list[OnlineLine], bank: dict[str, dict] | None, size: tuple[int, int],
                 augment: AugmentParams | None = None, word_source: Any = None, pen_warp: float = 0.0) -> None:
        self.specs, self.labels, self.font_source, self.word_source = specs, labels, font_source, word_source
        self.pen_lines, self.bank, self.size, self.augment = pen_lines, bank, size, augment
        self.pen_warp = pen_warp

    def __len__(self) -> int:
        return len(self.specs)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        spec = self.specs[i]
        if spec.kind in ("font", "font_word"):
            if spec.kind == "font":
                image = self.font_source[spec.ref][0]
            else:
                image = resize_image(crop_to_ink(self.word_source.original_image(spec.ref), WORD_MARGIN), self.size)[0]
            if self.augment is not None:
                image = augment_line(image, np.random.default_rng(spec.seed), self.augment)
        else:
            image = render_spec(spec, self.pen_lines, self.bank, self.size, self.pen_warp)
        return image, self.labels[i]


class RowView:
    """``dataset[indices[i]]`` as item ``i`` (a split's usable rows of an IAMDataset)."""

    def __init__(self, dataset: IAMDataset, indices: list[int]) -> None:
        self.dataset, self.indices = dataset, indices

    def __getitem__(self, i: int) -> tuple[np.ndarray, str | np.ndarray]:
        return self.dataset[self.indices[i]]

    def original_image(self, i: int) -> np.ndarray:
        """``dataset.original_image(indices[i])``: the crop as stored, uint8 gray (H, W)."""
        return self.dataset.original_image(self.indices[i])

    def __len__(self) -> int:
        return len(self.indices)
