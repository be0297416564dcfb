"""Word boxes -> text lines in reading order -> line crops.

Boxes are (x, y, w, h) fractions of the handwritten-region image they were detected in.

Grouping links each word to at most one right-hand neighbour and one left-hand neighbour (a greedy
one-to-one matching over candidate pairs, cheapest first), so lines form as chains of words. Each link needs
the two words to share at least ``min_v_overlap`` of the smaller word's height; the cost prefers small
horizontal gaps and aligned centres. A chain that fits in a gap of another chain (a taller or offset word
that a cheaper link jumped over) is put into that gap. Chains follow sloped lines word by word, lines that
touch (a descender reaching into the next line) stay apart because every word has only one neighbour per side,
and a line of a single word is still a line. Unlike the reference's heuristics nothing is dropped for its
position or length.

Given the text bands of the region's ink (``ocr.pipeline.preprocess.line_bands`` of the upright, deskewed region), lines
follow them instead: each word joins the band whose core (x-height zone) is nearest its centre, so the pieces
real handwriting gives the detector (the top of a capital or an ascender, an i-dot, a comma, a descender) are
read inside their line, and parts of one line join left to right. A band over TALL_BAND times the median height
(two lines whose ink touches) and words far from every core (over one median band height) are grouped by chains.
"""
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from ocr.core.geometry import crop_image

TALL_BAND = 1.8        # a text band over this many times the median band height holds more than one line


@dataclass
class TextLine:
    """One text line found by group_words_into_lines: its box and the words it holds."""
    box: tuple[float, float, float, float]       # (x, y, w, h) fractions of the region, union of its words + margin
    word_indices: list[int] = field(default_factory=list)   # indices into the input word boxes, left to right


def _links(boxes, min_v_overlap):
    """(ok, cost): ok[i, j] when word j may be word i's right-hand neighbour on one line; cost[i, j] of that link."""
    x1, y1, w, h = boxes.T
    x2, y2, cx, cy = x1 + w, y1 + h, x1 + w / 2, y1 + h / 2
    median_h = float(np.median(h))
    overlap = np.minimum(y2[:, None], y2[None, :]) - np.maximum(y1[:, None], y1[None, :])
    overlap_frac = overlap / np.minimum(h[:, None], h[None, :])
    gap = x1[None, :] - x2[:, None]                                 # > 0: right word starts after left word ends
    h_overlap = np.minimum(x2[:, None], x2[None, :]) - np.maximum(x1[:, None], x1[None, :])
    ok = (overlap_frac >= min_v_overlap) & (cx[None, :] > cx[:, None]) & \
         (h_overlap < 0.5 * np.minimum(w[:, None], w[None, :]))
    cost = np.maximum(gap, 0) / median_h + 2.0 * np.abs(cy[None, :] - cy[:, None]) / median_h
    return ok, cost


def _gap_for(chain, chains, ok):
    """(other chain, k) when ``chain`` fits between words k and k + 1 of another of ``chains`` (its first word may
    follow word k, its last word may precede word k + 1), else None."""
    for other in chains:
        if other is not chain:
            for k in range(len(other) - 1):
                if ok[other[k], chain[0]] and ok[chain[-1], other[k + 1]]:
                    return other, k
    return None


def _splice_orphans(chains, ok):
    """Put every chain that fits in a gap of another chain (see _gap_for) into that gap, shortest chains first;
    returns the remaining chains (lists of word indices, left to right)."""
    remaining = sorted(chains, key=len)
    while True:
        for chain in remaining:
            found = _gap_for(chain, remaining, ok)
            if found:
                other, k = found
                other[k + 1:k + 1] = chain
                remaining.remove(chain)
                break
        else:
            return remaining


def _chains(boxes, min_v_overlap):
    """Word boxes (n, 4) -> lines as chains of indices into them (see the module doc), in no particular order."""
    ok, cost = _links(boxes, min_v_overlap)
    right_of, left_of = {}, {}
    lefts, rights = np.nonzero(ok)
    for _, left, right in sorted(zip(cost[lefts, rights], lefts.tolist(), rights.tolist())):
        if left not in right_of and right not in left_of:
            right_of[left], left_of[right] = right, left
    chains = []
    for start in range(len(boxes)):
        if start not in left_of:
            chains.append([start])
            while chains[-1][-1] in right_of:
                chains[-1].append(right_of[chains[-1][-1]])
    return _splice_orphans(chains, ok)


def _band_lines(boxes, bands, min_v_overlap):
    """Word boxes (n, 4) and text bands [(top, core_top, core_bottom, bottom)] (fractions of the region height)
    -> lines as lists of indices into the boxes (see the module doc), in no particular order."""
    bands = np.asarray(bands, dtype=np.float64).reshape(-1, 4)
    centres = boxes[:, 1] + boxes[:, 3] / 2
    distance = np.maximum(bands[None, :, 1] - centres[:, None], centres[:, None] - bands[None, :, 2]).clip(0)
    nearest = distance.argmin(axis=1)
    heights = bands[:, 3] - bands[:, 0]
    median = float(np.median(heights))
    loose = distance[np.arange(len(boxes)), nearest] > median
    groups = [np.flatnonzero((nearest == k) & ~loose) for k in range(len(bands))]
    lines = []
    for members, height in zip(groups, heights):
        if height > TALL_BAND * median:
            lines += [members[chain].tolist() for chain in _chains(boxes[members], min_v_overlap)]
        elif len(members):
            lines.append(members.tolist())
    loose = np.flatnonzero(loose)
    return lines + [loose[chain].tolist() for chain in _chains(boxes[loose], min_v_overlap)] if len(loose) else lines


def group_words_into_lines(word_boxes: ArrayLike, min_v_overlap: float = 0.4, min_area: float = 1e-5,
                           margin: tuple[float, float] = (0.01, 0.1), bands: ArrayLike | None = None) -> list[TextLine]:
    """Group word boxes (n, 4) (x, y, w, h fractions) into TextLines sorted top to bottom, words left to right.

    ``bands``: the region's text bands [(top, core_top, core_bottom, bottom)] as fractions of its height, or None
    (see the module doc). ``margin`` = (fraction of the region width, fraction of the median word height) added
    around each line's union box, clipped to [0, 1]. Words with area <= ``min_area`` are ignored.
    """
    word_boxes = np.asarray(word_boxes, dtype=np.float64).reshape(-1, 4)
    keep = np.nonzero(word_boxes[:, 2] * word_boxes[:, 3] > min_area)[0]
    if len(keep) == 0:
        return []
    boxes = word_boxes[keep]
    groups = _band_lines(boxes, bands, min_v_overlap) if bands is not None and len(bands) else \
        _chains(boxes, min_v_overlap)
    median_h = float(np.median(boxes[:, 3]))
    lines = []
    for chain in groups:
        chain = sorted(chain, key=lambda i: boxes[i, 0] + boxes[i, 2] / 2)
        members = boxes[chain]
        x1, y1 = members[:, 0].min() - margin[0], members[:, 1].min() - margin[1] * median_h
        x2 = (members[:, 0] + members[:, 2]).max() + margin[0]
        y2 = (members[:, 1] + members[:, 3]).max() + margin[1] * median_h
        x1, y1, x2, y2 = max(0.0, x1), max(0.0, y1), min(1.0, x2), min(1.0, y2)
        lines.append((float(np.mean(members[:, 1] + members[:, 3] / 2)),
                      TextLine(box=(x1, y1, x2 - x1, y2 - y1), word_indices=[int(keep[i]) for i in chain])))
    return [line for _, line in sorted(lines, key=lambda item: item[0])]


def crop_lines(region_image: np.ndarray, lines: Iterable[TextLine]) -> list[np.ndarray]:
    """Pixel crops (uint8 (h, w) arrays) of each TextLine's box from the region image (uint8 gray (H, W)), in the
    same order."""
    return [crop_image(region_image, line.box) for line in lines]
