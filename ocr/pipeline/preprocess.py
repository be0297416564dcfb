"""Normalising what users bring before layout: polarity, blank pages, orientation, skew, margins, level, rules.

Pure functions on uint8 gray images (H, W). ``normalise_page(gray, level)`` chains them and returns a
``Prepared``: the image the stages read (ink dark on light, upright, deskewed, with margins) and the affine
transform from the given image's pixels to its pixels, so that boxes found on it map back with
``Prepared.box_to_source``.

Orientation and skew come from the ink alone: the row projection profile of the ink pixels is sharpest (largest
sum of squares) when text lines run along the rows, so the best of the angles -MAX_SKEW..MAX_SKEW degrees, on the
image and on the image turned 90 degrees, gives both the skew and whether lines run across or down. Upright vs
upside down: a reader's confidence on a few text lines read both ways (the pipeline passes the recogniser's), or
without one the ink: Latin handwriting has more ink above its core (x-height) band than below it (ascenders,
capitals, i-dots, t-bars outnumber descenders).
"""
import math
from dataclasses import dataclass, replace
from functools import cached_property

import cv2
import numpy as np

from ocr.core.ink import (FAINT_INK, LINE_MARGIN, LINE_ROW_DEPTH, WORD_MARGIN, edge_grey, grey_median, grey_percentiles,
                          ink_box, ink_crop_matrix, ink_mask, paper_grey, warp)

LEVELS = ("page", "region", "line", "word")
SAMPLE_MARGIN = 0.5        # paper around the sample crops the reader tells up from down on, fraction of their height
                           # (with LINE_MARGIN's 0.15 the reader took a synthetic page turned 180 degrees for a word)
MIN_CORE = 6               # px: a text band with a lower core (x-height) is not a line of writing by itself
MAX_SKEW = 20.0            # degrees searched either way
PROFILE_SIDE = 800         # px: the ink mask is reduced to at most this side for the profile search
RULE_FRACTION = 0.4        # a printed rule spans at least this fraction of the image width
MIN_RULE = 200             # px: and is at least this long
WORD_PRIOR = 0.5           # reader confidence that a word's orientation as given is worth (normalise_page; 480
                           # synth_v2 validation word crops: 0.3 turned 3 upright words upside down, 0.5 one)
WORD_COMPONENTS = 30       # a word or a few has at most this many pieces of ink (a page has hundreds)
WORD_SIZES = (0.15, 0.3, 0.5, 0.8, 1.2, 1.6)   # paper above and below a word's ink that the reader tries (word_sizes),
                           # fraction of its ink height: 0.15 for a word with ascenders and descenders, 1.6 for one of
                           # small letters only; one fixed margin (WORD_MARGIN) read words 2x as badly as their lines
CORE_FRACTIONS = (0.30, 0.33, 0.36, 0.40, 0.44)   # the word is also placed as a line places its words
                           # (placed_by_core): its core (x-height) band each of these fractions of the image height,
CORE_TOP = 0.33            # the core's top this fraction of the height down (medians of the pipeline's crops of 240
                           # synth_v2 / 294 rendered IAM-OnDB validation lines: cores 0.39 / 0.33 of their height,
                           # tops at 0.33)
SURE_READING = 0.9         # reader confidence of text as given above which it is not read upside down too (upright
                           # lines of 25 synth_v2 validation pages: median 0.91; the same upside down: at most 0.81)
SURE_PROFILE = 0.15        # |upside_down_score| of a page of MANY_BANDS lines or more that decides up from down unread
MANY_BANDS = 4             # (286 upright synthetic and IAM-OnDB test pages of 4-12 lines: signed score <= +0.074)
AXIS_CERTAINTY = 5.0       # profile score ratio of the two axes below which the reader decides the axis too
LONG_INK = 3.0             # ink this many times as wide as high runs along the rows: no doubt about the axis
SMALL_SIDE = 32            # px: a thin strip (STRIP_RATIO times as long as high or more) less high is scaled up first
MAX_UPSCALE = 4            # by a whole factor (at most this): at 28 px a line's core is 3-4 px, below MIN_CORE. Not
STRIP_RATIO = 5            # more: at 64 px, word crops and 40-60 px lines read worse (specks grown to ink size)
TINY_SIDE = 20             # px: any image less high or wide (a word cut small) is scaled up to this first (240
                           # synth_v2 validation word crops, 36 of them under 20 px: 6.1 -> 5.1% greedy CER; to 24 px
                           # 5.6%, to 32 px 5.4%)


@dataclass
class Prepared:
    """An image ready for the stages: ``image`` uint8 (H', W'), ink dark; ``matrix`` float64 (3, 3) affine map
    from pixel (x, y, 1) of the given image to pixel of ``image``; ``source_shape`` (H, W) of the given image;
    ``level`` (one of LEVELS); ``blank``: no writing found (nothing to read); ``quarter_turns``: counter-clockwise
    turns by 90 degrees applied; ``skew``: degrees of counter-clockwise rotation applied after them."""
    image: np.ndarray
    matrix: np.ndarray
    source_shape: tuple
    level: str
    blank: bool = False
    quarter_turns: int = 0
    skew: float = 0.0

    @cached_property
    def _to_source(self) -> np.ndarray:
        """float64 (3, 3): the inverse of ``matrix``, from pixels of ``image`` to pixels of the given image."""
        return np.linalg.inv(self.matrix)

    def box_to_source(self, box: tuple) -> tuple:
        """(x, y, w, h) pixels of ``image`` -> (x, y, w, h) integer pixels of the given image: the axis-aligned
        box around the mapped corners, clipped to the image."""
        x, y, w, h = box
        corners = np.array([[x, y, 1], [x + w, y, 1], [x, y + h, 1], [x + w, y + h, 1]], dtype=np.float64)
        mapped = corners @ self._to_source.T
        height, width = self.source_shape
        x1, y1 = np.clip(np.floor(mapped[:, :2].min(axis=0)), 0, [width, height]).astype(int)
        x2, y2 = np.clip(np.ceil(mapped[:, :2].max(axis=0)), 0, [width, height]).astype(int)
        return int(x1), int(y1), int(x2 - x1), int(y2 - y1)


def is_light_on_dark(gray: np.ndarray) -> bool:
    """Whether uint8 gray (H, W) is light writing on a dark background: its median (the background, which covers
    most of an image) is nearer its darkest grey (1st percentile) than its lightest (99th), and so is the grey of
    its edges (edge_grey): blurred dark writing can fill most of a tight word crop, but its edges are paper."""
    dark, median, light = grey_percentiles(gray, (1, 50, 99))
    if median - dark >= light - median:
        return False
    edge = edge_grey(gray)
    return bool(edge - dark < light - edge)


def fix_polarity(gray: np.ndarray) -> tuple:
    """uint8 gray (H, W) -> (uint8 (H, W) with dark ink on light paper, inverted: bool)."""
    if is_light_on_dark(gray):
        return 255 - gray, True
    return gray, False


def _profile_score(u: np.ndarray, v: np.ndarray, angle: float) -> float:
    """Sum of squares of the row histogram (1 px bins) of points (u = x, v = y) rotated by ``angle`` degrees
    counter-clockwise (cv2's convention, y down)."""
    a = np.radians(angle)
    rows = -np.sin(a) * u + np.cos(a) * v
    hist = np.bincount((rows - rows.min()).astype(np.int64))
    return float(np.dot(hist, hist))


def estimate_orientation(mask: np.ndarray, max_skew: float = MAX_SKEW) -> list:
    """bool ink mask (H, W) -> [(quarter_turns, skew degrees, score)] for quarter_turns 0 and 1, best first: turn
    the image ``quarter_turns`` times by 90 degrees counter-clockwise (np.rot90), then rotate it by ``skew`` degrees
    counter-clockwise, and its rows are as sharp a projection profile as that axis gives (``score``: sum of squares
    of ink pixels per row). Text lines then run along the rows of the first, upright or upside down (see
    upright_turns); a first score under AXIS_CERTAINTY times the second leaves the axis in doubt (short words of
    tall strokes). Angles are searched in 1 degree steps, then 0.1 degree steps about the best one."""
    scale = min(1.0, PROFILE_SIDE / max(mask.shape))
    if scale < 1.0:
        mask = cv2.resize(mask.astype(np.uint8), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) > 0
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return [(0, 0.0, 0.0), (1, 0.0, 0.0)]
    xs, ys = xs.astype(np.float64), ys.astype(np.float64)
    found = []
    for turns, points in enumerate([(xs, ys), (ys, -xs)]):    # np.rot90 once: column x becomes row W - 1 - x
        _, coarse = max((_profile_score(*points, a), a) for a in np.arange(-max_skew, max_skew + 0.5, 1.0))
        score, angle = max((_profile_score(*points, a), a) for a in np.arange(coarse - 1.0, coarse + 1.05, 0.1))
        found.append((turns, float(round(angle, 1)), score))
    return sorted(found, key=lambda item: -item[2])


def text_bands(mask: np.ndarray, threshold: float = 0.25) -> list:
    """bool ink mask (H, W) of text running along the rows -> [(top, core_top, core_bottom, bottom)] row indices
    (inclusive) of each text line, top to bottom. Cores are runs of rows whose ink count is at least ``threshold``
    of the 95th percentile of the non-empty rows, merged across gaps under half their median height (a line whose
    capitals stand above its core); a core under ``low`` = 0.35 of the 90th percentile of their heights joins its
    nearest neighbour when that is at most ``low`` away (dots, a lone descender); a band grows from its core while
    the counts fall."""
    profile = mask.sum(axis=1).astype(np.float64)
    if not profile.any():
        return []
    high = profile >= threshold * np.percentile(profile[profile > 0], 95)
    starts = np.flatnonzero(high & ~np.r_[False, high[:-1]])
    ends = np.flatnonzero(high & ~np.r_[high[1:], False])
    heights = ends - starts + 1
    min_gap = 0.5 * float(np.median(heights[heights >= 0.35 * heights.max()]))
    cores = [[int(starts[0]), int(ends[0])]]
    for start, end in zip(starts[1:], ends[1:]):
        if start - cores[-1][1] - 1 < min_gap:
            cores[-1][1] = int(end)
        else:
            cores.append([int(start), int(end)])
    low = 0.35 * np.percentile([end - start + 1 for start, end in cores], 90)
    merged = True
    while merged and len(cores) > 1:     # a low core near a neighbour is part of that neighbour's line
        merged = False
        for small in sorted(range(len(cores)), key=lambda k: cores[k][1] - cores[k][0]):
            if cores[small][1] - cores[small][0] + 1 >= low:
                break
            gaps = [cores[small][0] - cores[small - 1][1] if small > 0 else np.inf,
                    cores[small + 1][0] - cores[small][1] if small + 1 < len(cores) else np.inf]
            if min(gaps) <= low:
                other = small - 1 if gaps[0] <= gaps[1] else small + 1
                first, last = sorted((small, other))
                cores[first:last + 1] = [[cores[first][0], cores[last][1]]]
                merged = True
                break
    bands = []
    for core_top, core_bottom in cores:
        top, bottom = core_top, core_bottom
        while top > 0 and 0 < profile[top - 1] <= profile[top] and not high[top - 1]:
            top -= 1
        while bottom < len(profile) - 1 and 0 < profile[bottom + 1] <= profile[bottom] and not high[bottom + 1]:
            bottom += 1
        bands.append((top, core_top, core_bottom, bottom))
    return bands


def line_bands(mask: np.ndarray) -> list:
    """text_bands of a bool ink mask (H, W) without those whose core is under half the median core height (printed
    rules, underlines)."""
    bands = text_bands(mask)
    cores = [core_bottom - core_top + 1 for _, core_top, core_bottom, _ in bands]
    return [band for band, core in zip(bands, cores) if core >= 0.5 * np.median(cores)]


def upside_down_score(mask: np.ndarray) -> float:
    """bool ink mask (H, W) of text running along the rows -> in [-1, 1]: (ink below the core bands - ink above
    them) / both, over every text band (text_bands). Upright Latin handwriting scores below 0."""
    profile, bands = mask.sum(axis=1).astype(np.float64), text_bands(mask)
    above = sum(profile[top:core_top].sum() for top, core_top, _, _ in bands)
    below = sum(profile[core_bottom + 1:bottom + 1].sum() for _, _, core_bottom, bottom in bands)
    return float((below - above) / (above + below)) if above + below else 0.0


def rotation_matrix(shape: tuple, quarter_turns: int, skew: float) -> tuple:
    """Image shape (H, W) -> (matrix float64 (3, 3) from its pixels to those of the image turned by
    ``quarter_turns`` x 90 degrees and then ``skew`` degrees counter-clockwise, output (H', W') holding all of it)."""
    height, width = shape
    corners = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1]], dtype=np.float64)
    rotate = np.eye(3)
    rotate[:2] = cv2.getRotationMatrix2D((0.0, 0.0), 90.0 * quarter_turns + skew, 1.0)
    moved = corners @ rotate.T
    low, high = moved[:, :2].min(axis=0), moved[:, :2].max(axis=0)
    shift = np.array([[1, 0, -low[0]], [0, 1, -low[1]], [0, 0, 1]], dtype=np.float64)
    out_w, out_h = np.ceil(high - low - 1e-6).astype(int)
    return shift @ rotate, (int(max(out_h, 1)), int(max(out_w, 1)))


def rule_mask(mask: np.ndarray, fraction: float = RULE_FRACTION) -> np.ndarray:
    """bool ink mask (H, W) -> bool (H, W) of its horizontal rules (the printed lines of a form): connected
    components at least ``fraction`` of the width and MIN_RULE px long and under 1/30 of their length high (a rule
    a degree or two off level still counts)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    widths, heights = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    rules = (widths >= max(fraction * mask.shape[1], MIN_RULE)) & (heights * 30 < widths)
    rules[0] = False
    return rules[labels]


def has_printed_rules(mask: np.ndarray) -> bool:
    """Whether a bool ink mask (H, W) holds a horizontal rule (rule_mask)."""
    return bool(rule_mask(mask).any())


def erase_rules(gray: np.ndarray) -> np.ndarray:
    """uint8 gray (H, W) with the pixels of its rules (rule_mask of its ink, grown by 1 px) painted paper grey."""
    return erase_rules_and_mask(gray)[0]


def erase_rules_and_mask(gray: np.ndarray) -> tuple:
    """uint8 gray (H, W) -> (erase_rules of it, the ink_mask of that): ``gray`` itself and its mask when it holds
    no rule."""
    mask = ink_mask(gray)
    rules = rule_mask(mask)
    if not rules.any():
        return gray, mask
    rules = cv2.dilate(rules.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    erased = np.where(rules, np.uint8(grey_median(gray)), gray)
    return erased, ink_mask(erased)


def word_gaps(mask: np.ndarray, min_gap: float) -> int:
    """Number of empty column runs at least ``min_gap`` px wide between ink columns of a bool mask (H, W)."""
    filled = mask.any(axis=0)
    inside = np.flatnonzero(filled)
    if len(inside) == 0:
        return 0
    empty = ~filled[inside[0]:inside[-1] + 1]
    starts = np.flatnonzero(empty & ~np.r_[False, empty[:-1]])
    ends = np.flatnonzero(empty & ~np.r_[empty[1:], False])
    return int(np.sum(ends - starts + 1 >= min_gap))


def joined_bands(mask: np.ndarray, bands: list) -> list:
    """bool ink mask (H, W) and its text bands [(top, core_top, core_bottom, bottom)] -> the bands with each two
    neighbours that one piece of writing joins merged into one: at least half the core ink of the one with less is in
    connected components that also have ink in the other's core (the loop of an 'f' above the 'o' of 'of', a tall
    capital beside small letters). The lines of a block touch only where a descender meets an ascender."""
    if len(bands) < 2:
        return list(bands)
    _, labels = cv2.connectedComponents(mask.astype(np.uint8))
    merged = [bands[0]]
    for band in bands[1:]:
        upper, lower = labels[merged[-1][1]:merged[-1][2] + 1], labels[band[1]:band[2] + 1]
        upper, lower = upper[upper > 0], lower[lower > 0]
        smaller, other = (upper, lower) if len(upper) <= len(lower) else (lower, upper)
        if len(smaller) and np.isin(smaller, np.unique(other)).mean() >= 0.5:
            merged[-1] = (merged[-1][0], merged[-1][1], band[2], band[3])
        else:
            merged.append(band)
    return merged


def detect_level(mask: np.ndarray) -> str:
    """bool ink mask (H, W) of an upright image -> 'page' (a printed form: it has rules and more than a few words),
    'region' (several text lines: line_bands with a core of MIN_CORE px or more, so a descender's tail, a row of dots
    under a word or the bits of the lines around a word crop are not lines, and for a word or a few not joined into
    one by their strokes, joined_bands), 'line' (one line with a gap as wide as its core is high, or eight times as
    wide as that) or 'word'. The rules of a word or a few (an underline, the edge of a cut-out's paper) are not
    lines."""
    rules = rule_mask(mask)
    if rules.any():
        if not few_words(mask):
            return "page"
        mask = mask & ~rules
    bands = [band for band in line_bands(mask) if band[2] - band[1] + 1 >= MIN_CORE]
    if len(bands) > 1 and few_words(mask):
        bands = joined_bands(mask, bands)
    if len(bands) != 1:
        return "region" if bands else "word"
    top, core_top, core_bottom, bottom = bands[0]
    core, band = core_bottom - core_top + 1, mask[top:bottom + 1]
    return "line" if word_gaps(band, core) or ink_box(band)[2] >= 8 * core else "word"


def word_sizes(gray: np.ndarray, margins: tuple = WORD_SIZES, core_fractions: tuple = CORE_FRACTIONS) -> list:
    """uint8 gray (H, W) of a word with paper around it (normalise_page's) -> the images the reader tries (uint8
    (H_k, W), all W columns as given), each the rows of its ink (faint strokes too, as a word crop is cut) with paper
    (edge_grey) above and below: first one per margin in ``margins`` (margin x ink height each side), then one per
    fraction in ``core_fractions`` (placed_by_core). A word alone does not show how tall its letters are ('one' in
    small letters fills a tight crop as 'ONE' does): the reader reads each and keeps the reading they agree on
    (Pipeline._read_word). No ink: [gray]."""
    mask = ink_mask(gray, depth=FAINT_INK)
    box = ink_box(mask)
    if box is None:
        return [gray]
    _, top, _, height = box
    rows, paper = gray[top:top + height], int(round(edge_grey(gray)))
    sizes = [cv2.copyMakeBorder(rows, round(m * height), round(m * height), 0, 0, cv2.BORDER_CONSTANT, value=paper)
             for m in margins]
    bands = text_bands(mask[top:top + height])
    if bands:
        core = max(bands, key=lambda band: band[2] - band[1])[1:3]
        sizes += [placed_by_core(rows, core, fraction, paper) for fraction in core_fractions]
    return sizes


def placed_by_core(rows: np.ndarray, core: tuple, fraction: float, paper: int, top_at: float = CORE_TOP) -> np.ndarray:
    """uint8 gray (h, W) rows of a word's ink and its core band (core_top, core_bottom), rows of ``rows`` inclusive ->
    (H', W) with paper above and below so that the core is ``fraction`` of H' and starts ``top_at`` x H' down, as a
    line's core lies in the crops the reader reads lines from (CORE_TOP); at least a tenth of the core's height of
    paper each side where the ink reaches further."""
    core_height = core[1] - core[0] + 1
    height = core_height / fraction
    above = round(top_at * height - core[0])
    below = round(height - above - len(rows))
    least = round(0.1 * core_height)
    return cv2.copyMakeBorder(rows, max(above, least), max(below, least), 0, 0, cv2.BORDER_CONSTANT, value=paper)


def pad(gray: np.ndarray, margin: int) -> np.ndarray:
    """uint8 gray (H, W) -> (H + 2 margin, W + 2 margin) with ``margin`` px of paper (its median grey) around."""
    return cv2.copyMakeBorder(gray, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=int(grey_median(gray)))


def sample_lines(gray: np.ndarray, mask: np.ndarray, count: int = 5) -> list:
    """uint8 gray (H, W) and its bool ink mask, text along the rows -> up to ``count`` crops (uint8 (h, w)) of text
    bands (line_bands) spread evenly from top to bottom: the band, at most its core's height above and below the
    core, cut to its ink columns, with SAMPLE_MARGIN of its height in paper around (one band: all the ink)."""
    bands = line_bands(mask)
    if len(bands) <= 1:                  # one line or a word: all of its ink
        x, y, w, h = ink_box(mask)
        return [pad(gray[y:y + h, x:x + w], round(SAMPLE_MARGIN * h))]
    picks = np.unique(np.linspace(0, len(bands) - 1, min(count, len(bands))).round().astype(int))
    crops = []
    for band_top, core_top, core_bottom, band_bottom in (bands[i] for i in picks):
        core = core_bottom - core_top + 1
        top, bottom = max(band_top, core_top - core), min(band_bottom, core_bottom + core) + 1
        columns = np.flatnonzero(mask[top:bottom].any(axis=0))
        crop = gray[top:bottom, columns[0]:columns[-1] + 1]
        crops.append(pad(crop, round(SAMPLE_MARGIN * len(crop))))
    return crops


def upright_turns(gray: np.ndarray, mask: np.ndarray, confidence=None, prior: float = 0.0,
                  profile_decides: bool = True) -> tuple:
    """uint8 gray (H, W) and its bool ink mask, text along the rows upright or upside down -> (0 or 2
    counter-clockwise quarter turns that make it upright, how well it reads then). With ``confidence`` (line crops
    -> a reader's mean confidence, higher is better): the better-read of the two on a few text lines
    (sample_lines), 0 turns counting ``prior`` more; text as given that reads with SURE_READING confidence is not read
    upside down at all, and with ``profile_decides`` (not when readings of two axes are to be compared) MANY_BANDS
    lines or more whose upside_down_score is SURE_PROFILE or more either way are not read (score 1). Without: from
    upside_down_score (and the reading score is 0)."""
    if confidence is None:
        return (2 if upside_down_score(mask) > 0 else 0), 0.0
    if profile_decides and len(line_bands(mask)) >= MANY_BANDS:
        profile = upside_down_score(mask)
        if abs(profile) >= SURE_PROFILE:
            return (2 if profile > 0 else 0), 1.0
    crops = sample_lines(gray, mask)
    as_given = confidence(crops)
    if as_given >= SURE_READING:
        return 0, as_given + prior
    turned = confidence([np.ascontiguousarray(np.rot90(c, 2)) for c in crops])
    return (0, as_given + prior) if as_given + prior >= turned else (2, turned)


def _turned(mask: np.ndarray, turns: int, skew: float) -> np.ndarray:
    """bool mask (H, W) turned ``turns`` quarter turns and ``skew`` degrees counter-clockwise (rotation_matrix)."""
    matrix, shape = rotation_matrix(mask.shape, turns, skew)
    return warp(mask.astype(np.uint8) * 255, matrix, shape, paper=0) > 127


def few_words(mask: np.ndarray) -> bool:
    """Whether a bool ink mask (H, W) of text along the rows is a word or a few: at most WORD_COMPONENTS connected
    pieces of ink, under 5 times as wide as high, and as wide as high or in a single band (a word crop often holds
    bits of the lines above and below). No ink: False."""
    box = ink_box(mask)
    if box is None:
        return False
    if box[2] >= 5 * box[3] or cv2.connectedComponents(mask.astype(np.uint8))[0] - 1 > WORD_COMPONENTS:
        return False
    return box[2] >= box[3] or len(line_bands(mask)) <= 1


def upscale_factor(shape: tuple) -> int:
    """(H, W) px of an image -> the whole factor (1 to MAX_UPSCALE) that brings its shorter side to SMALL_SIDE px or
    more for a thin strip (its longer side at least STRIP_RATIO times the shorter), to TINY_SIDE px or more for any
    other image; 1 for an image that large already."""
    short, long = sorted(shape[:2])
    target = SMALL_SIDE if long >= STRIP_RATIO * short else TINY_SIDE
    return min(MAX_UPSCALE, math.ceil(target / max(1, short)))


def normalise_page(gray: np.ndarray, level: str = "auto", max_skew: float = MAX_SKEW, confidence=None) -> Prepared:
    """uint8 gray (H, W) with dark ink (see fix_polarity) -> Prepared: scaled up first when small (upscale_factor),
    turned upright and deskewed, ``level`` decided from the image when 'auto' (detect_level), and lines and words
    cut to their ink with LINE_MARGIN (words: WORD_MARGIN) of its height in paper around. An image without ink
    against its paper_grey (a tight crop that faint ink mostly fills has a median of ink) gives ``blank``. Its
    matrix maps pixels of ``gray`` as given, whatever the scaling.

    The axis and skew (up to ``max_skew`` degrees) come from estimate_orientation; upright vs upside down from
    upright_turns, with the reader's ``confidence`` (line crops -> mean confidence) when given. The reader also
    picks the axis when the profile leaves it in doubt, one axis shows a single text band and the ink is under
    LONG_INK times as wide as high. A word or a few (few_words) is not deskewed (its profile is too short to measure a
    skew); given as a word, its axis is kept and the reader must beat its orientation as given by WORD_PRIOR to turn
    it (an upside-down word is often a word too: 'your' / 'hnoʎ', 'of' / 'fo')."""
    if level != "auto" and level not in LEVELS:
        raise ValueError("unknown level %r (choose from auto, %s)" % (level, ", ".join(LEVELS)))
    factor = upscale_factor(gray.shape)
    if factor == 1:
        return _normalise(gray, level, max_skew, confidence)
    height, width = gray.shape
    big = _normalise(cv2.resize(gray, (width * factor, height * factor), interpolation=cv2.INTER_CUBIC),
                     level, max_skew, confidence)
    return replace(big, matrix=big.matrix @ np.diag([factor, factor, 1.0]), source_shape=gray.shape)


def _normalise(gray, level, max_skew, confidence):
    """normalise_page of an image large enough (upscale_factor 1)."""
    mask = ink_mask(gray, paper=paper_grey(gray))
    if not mask.any():
        return Prepared(gray, np.eye(3), gray.shape, "page" if level == "auto" else level, blank=True)
    given_word = few_words(mask)
    if given_word:                       # a word as given: upright or upside down, no skew to measure
        axes, doubt = [(0, 0.0, mask)], False
    else:
        found = estimate_orientation(mask, max_skew)
        turns_skews = [(turns, skew) for turns, skew, _ in found]
        first = _turned(mask, *turns_skews[0])
        if few_words(first):             # a word turned by 90 degrees
            turns_skews = [(turns, 0.0) for turns, _ in turns_skews]
            first = _turned(mask, *turns_skews[0])
        axes, doubt, box = [(*turns_skews[0], first)], False, ink_box(first)
        if found[0][2] < AXIS_CERTAINTY * found[1][2] and box[2] < LONG_INK * box[3]:   # the other axis, when needed
            axes.append((*turns_skews[1], _turned(mask, *turns_skews[1])))
            doubt = min(len(text_bands(m)) for _, _, m in axes) <= 1
    candidates, read_axes = [], axes[:2 if doubt and confidence else 1]
    for turns, skew, turned_mask in read_axes:
        matrix, shape = rotation_matrix(gray.shape, turns, skew)
        flip, score = upright_turns(warp(gray, matrix, shape), turned_mask, confidence, WORD_PRIOR * given_word,
                                    profile_decides=len(read_axes) == 1)
        candidates.append((score, (turns + flip) % 4, skew, turned_mask[::-1, ::-1] if flip else turned_mask))
    _, turns, skew, turned_mask = max(candidates, key=lambda candidate: candidate[0])
    matrix, shape = rotation_matrix(gray.shape, turns, skew)
    level = detect_level(turned_mask) if level == "auto" else level
    paper = None
    if level in ("line", "word"):          # all the ink, faint strokes too, in margins of the paper's grey
        margin = WORD_MARGIN if level == "word" else LINE_MARGIN
        scaled, shape = ink_crop_matrix(warp(gray, matrix, shape), margin, turned_mask,
                                        row_depth=FAINT_INK if level == "word" else LINE_ROW_DEPTH)
        matrix, paper = scaled @ matrix, edge_grey(gray)
    return Prepared(warp(gray, matrix, shape, paper), matrix, gray.shape, level, quarter_turns=turns, skew=skew)
