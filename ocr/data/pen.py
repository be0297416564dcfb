"""Pen strokes -> a gray line image that looks like ink on scanned paper (IAM-OnDB lines as training images).

``render_line(strokes, rng)`` draws tablet strokes (``ocr.data.iamondb``: arrays (N, 3) of x, y, time, y down)
at the resolution of a 300 dpi scan: the points are smoothed into curves (Chaikin corner cutting), each stroke is
drawn with a width that varies along it (speed read as pressure; a fountain pen's nib angle; a felt tip's
evenness), with the writer's slant, rotation, x/y scale and word spacing (``WriterStyle``) and a little
per-stroke jitter (and, for training, a smooth random warp of the letter shapes: ``warp_strokes``),
supersampled and reduced. The ink coverage then goes through the data engine's paper, ink
and scanner steps (``ocr.data.degrade``). Same strokes and same Generator state -> same image.

Word groups (``word_groups``) are the clusters of strokes between the gaps of a line, accepted only when their
count is the transcript's word count and their widths agree with the words' lengths; ``compose_line`` builds new
lines from such words of one writer.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.ndimage import map_coordinates

from ocr.data import degrade

PEN_KINDS = ("ballpoint", "fountain", "felt", "pencil")
PEN_KIND_WEIGHTS = (0.45, 0.2, 0.2, 0.15)
SUPERSAMPLE = 4              # strokes are drawn at 4x and reduced (anti-aliasing, quarter-pixel widths)
BODY_PX = (26.0, 44.0)       # height of the writing's body band (10th-90th percentile of y) at 300 dpi, pixels
MIN_GAP_BODY = 0.25          # a word gap is at least this many body heights
MAX_GAP_BODY = 1.5           # wider gaps (a whiteboard writer stepping aside) are narrowed to this before spacing
NARROW_CHARS = frozenset("iIl1jtfr'.,:;!|\"-()")
WIDE_CHARS = frozenset("mwMW")
LETTER_WIDTHS = (0.45, 1.0, 1.4)   # expected width of a narrow, other and wide character, in letters (text_width)
WIDTH_AGREEMENT = (0.25, 2.5)      # a word group's share of the ink width / its word's share of text_width: on the
                                   # training lines whose gaps agree with the word count, 3% fall below, 3% above
WARP_CELL_BODY = (0.6, 1.2)  # spacing of the shape warp's random nodes, in body heights


@dataclass
class WriterStyle:
    """One writer's persistent habits and pen; lengths in pixels of the 300 dpi render, angles in degrees.

    body_px: height of the body band; scale_x: horizontal stretch; slant: extra x shear (x += slant * -y);
    rotation: degrees, counter-clockwise; word_spacing: factor on the gaps between words; pen: one of PEN_KINDS;
    pen_px: nominal stroke width; ink: grey level of full ink; nib_angle: fountain-pen nib direction (radians);
    jitter_px: per-stroke random shift."""
    body_px: float
    scale_x: float
    slant: float
    rotation: float
    word_spacing: float
    pen: str
    pen_px: float
    ink: float
    nib_angle: float
    jitter_px: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> "WriterStyle":
        """A random style (the ranges cover neat to sprawling hands and the four pens)."""
        pen = PEN_KINDS[rng.choice(len(PEN_KINDS), p=PEN_KIND_WEIGHTS)]
        width = {"ballpoint": (2.2, 4.5), "fountain": (2.5, 6.0), "felt": (4.0, 7.5), "pencil": (2.0, 4.0)}[pen]
        ink = {"ballpoint": (10, 80), "fountain": (0, 60), "felt": (0, 50), "pencil": (70, 140)}[pen]
        return cls(body_px=float(rng.uniform(*BODY_PX)), scale_x=float(rng.uniform(0.85, 1.15)),
                   slant=float(rng.uniform(-0.3, 0.3)), rotation=float(rng.uniform(-2.0, 2.0)),
                   word_spacing=float(rng.uniform(0.75, 1.25)), pen=pen, pen_px=float(rng.uniform(*width)),
                   ink=float(rng.uniform(*ink)), nib_angle=float(rng.uniform(0.3, 1.2)),
                   jitter_px=float(rng.uniform(0.0, 1.5)))


def body_height(strokes: list[np.ndarray]) -> float:
    """Height of the body band of a line's strokes (10th to 90th percentile of y), tablet units (> 0)."""
    ys = np.concatenate([s[:, 1] for s in strokes])
    return max(float(np.percentile(ys, 90) - np.percentile(ys, 10)), 1.0)


def stroke_clusters(strokes: list[np.ndarray], body: float) -> list[tuple[float, float, list[int]]]:
    """Strokes grouped by horizontal overlap: list of (x1, x2, [stroke indices]) sorted by x1 (tablet units).
    Strokes that overlap (or nearly touch, within 5% of ``body``) in x are one cluster."""
    spans = sorted((float(s[:, 0].min()), float(s[:, 0].max()), i) for i, s in enumerate(strokes))
    clusters = []
    for x1, x2, i in spans:
        if clusters and x1 <= clusters[-1][1] + 0.05 * body:
            last = clusters[-1]
            clusters[-1] = (last[0], max(last[1], x2), last[2] + [i])
        else:
            clusters.append((x1, x2, [i]))
    return clusters


def text_width(word: str) -> float:
    """The width a word is expected to take, in letters: NARROW_CHARS count LETTER_WIDTHS[0], WIDE_CHARS [2]."""
    narrow, normal, wide = LETTER_WIDTHS
    return sum(narrow if c in NARROW_CHARS else wide if c in WIDE_CHARS else normal for c in word)


def word_groups(strokes: list[np.ndarray], texts: list[str]) -> list[list[int]] | None:
    """Indices of the strokes of each word of ``texts`` (the line's words), left to right, or None when the line's
    gaps do not agree with them: the len(texts)-1 widest gaps must be clearly wider than the rest and than
    MIN_GAP_BODY body heights, and each group's share of the ink's width must agree with its word's share of the
    text (within WIDTH_AGREEMENT, by text_width): a stray stroke or a gap inside a word, with two words run
    together elsewhere, gives the right count of wrong groups."""
    words = len(texts)
    body = body_height(strokes)
    clusters = stroke_clusters(strokes, body)
    if words < 1 or len(clusters) < words:
        return None
    gaps = np.array([clusters[k + 1][0] - clusters[k][1] for k in range(len(clusters) - 1)])
    if words > 1:
        order = np.argsort(-gaps)
        cut = gaps[order[words - 2]]
        rest = gaps[order[words - 1]] if len(gaps) >= words else 0.0
        if cut < MIN_GAP_BODY * body or cut < 1.3 * rest:
            return None
        splits = set(order[:words - 1].tolist())
    else:
        splits = set()
    groups, current = [], []
    for k, (_, _, members) in enumerate(clusters):
        current.extend(members)
        if k in splits or k == len(clusters) - 1:
            groups.append(sorted(current))
            current = []
    widths = np.array([np.ptp(np.concatenate([strokes[i][:, 0] for i in group])) for group in groups])
    expected = np.array([text_width(text) for text in texts])
    agreement = (widths / max(widths.sum(), 1e-6)) / (expected / max(expected.sum(), 1e-6))
    if words > 1 and not (WIDTH_AGREEMENT[0] <= agreement.min() and agreement.max() <= WIDTH_AGREEMENT[1]):
        return None
    return groups


def compose_line(word_strokes: list[list[np.ndarray]], rng: np.random.Generator) -> list[np.ndarray]:
    """Strokes of a new line made of words (each a list of stroke arrays of one writer), left to right with
    gaps of 0.5-1.0 body heights; each word keeps its own shape and is moved so its body band centre sits on
    one baseline."""
    body = float(np.median([body_height(w) for w in word_strokes]))
    out, x = [], 0.0
    for strokes in word_strokes:
        points = np.concatenate(strokes)
        dx = x - float(points[:, 0].min())
        dy = -float(np.median(points[:, 1]))
        out.extend(s + np.array([dx, dy, 0.0], np.float32) for s in strokes)
        x += float(points[:, 0].max() - points[:, 0].min()) + rng.uniform(0.5, 1.0) * body
    return out


def word_coverage(strokes: list[np.ndarray], style: WriterStyle, rng: np.random.Generator, px_per_unit: float,
                  origin: tuple[float, float], rotation: float,
                  margin: tuple[int, int] = (2, 2)) -> tuple[np.ndarray, float, float]:
    """One word's strokes (tablet units) drawn at a fixed scale, so all words of a form share one size:
    -> (coverage float32 (H, W) in 0..1, ox, oy), where (ox, oy) is the pixel of the tablet point ``origin`` in the
    coverage. ``px_per_unit``: pixels per tablet unit; style's x-stretch, slant and jitter apply; ``rotation``:
    degrees counter-clockwise about ``origin``; ``margin``: (vertical, horizontal) pixels of paper around the ink."""
    laid = [_pixel_stroke(stroke, origin, px_per_unit, style, rotation, rng) for stroke in strokes]
    coverage, x0, y0 = draw_coverage(laid, style, margin)
    return coverage, -x0, -y0


def chaikin(points: np.ndarray, iterations: int = 2) -> np.ndarray:
    """Corner-cutting smoothing of a polyline (N, D) -> (M, D); ends are kept. Fewer than 3 points: unchanged."""
    for _ in range(iterations):
        if len(points) < 3:
            return points
        q = 0.75 * points[:-1] + 0.25 * points[1:]
        r = 0.25 * points[:-1] + 0.75 * points[1:]
        middle = np.empty((2 * len(q), points.shape[1]), points.dtype)
        middle[0::2], middle[1::2] = q, r
        points = np.concatenate([points[:1], middle, points[-1:]])
    return points


def _pressure(stroke: np.ndarray) -> np.ndarray:
    """Pen pressure per point (N,) in about 0.65..1.15 from speed: slow is heavy. ``stroke`` (N, 3)."""
    if len(stroke) < 2:
        return np.ones(len(stroke), np.float32)
    step = np.hypot(np.diff(stroke[:, 0]), np.diff(stroke[:, 1]))
    dt = np.maximum(np.diff(stroke[:, 2]), 1e-3)
    speed = np.concatenate([step / dt, [step[-1] / dt[-1]]])
    if len(speed) >= 3:
        speed = np.convolve(speed, np.ones(3) / 3, mode="same")
    relative = speed / max(float(np.median(speed)), 1e-6)
    return np.clip(1.15 - 0.25 * relative, 0.65, 1.15).astype(np.float32)


def _widths(points: np.ndarray, pressure: np.ndarray, style: WriterStyle) -> np.ndarray:
    """Stroke width (pixels) at each point of a smoothed polyline (N, 2) with per-point ``pressure``."""
    if style.pen == "fountain" and len(points) >= 2:
        direction = np.arctan2(np.gradient(points[:, 1]), np.gradient(points[:, 0]))
        nib = 0.35 + 0.85 * np.abs(np.sin(direction - style.nib_angle))
        return style.pen_px * nib * (0.8 + 0.2 * pressure)
    if style.pen == "felt":
        return style.pen_px * (0.9 + 0.1 * pressure)
    return style.pen_px * (0.55 + 0.45 * pressure)


def level_strokes(strokes: list[np.ndarray]) -> list[np.ndarray]:
    """Strokes with the line's drift removed: a straight line through the median y of each stroke cluster (against
    its x centre) is subtracted, so the baseline is horizontal (tablet units)."""
    clusters = stroke_clusters(strokes, body_height(strokes))
    if len(clusters) < 3:
        return strokes
    xs = [(x1 + x2) / 2 for x1, x2, _ in clusters]
    ys = [float(np.median(np.concatenate([strokes[i][:, 1] for i in members]))) for _, _, members in clusters]
    slope = float(np.polyfit(xs, ys, 1)[0])
    return [s - np.stack([np.zeros(len(s)), slope * s[:, 0], np.zeros(len(s))], axis=1).astype(np.float32)
            for s in strokes]


def _layout(strokes: list, style: WriterStyle, rng: np.random.Generator) -> list:
    """Tablet strokes -> pixel strokes (x, y, pressure) after levelling, scale, word spacing (gaps wider than
    MAX_GAP_BODY body heights are first narrowed to it), slant, rotation and per-stroke jitter."""
    strokes = level_strokes(strokes)
    body = body_height(strokes)
    scale = style.body_px / body
    shift = np.zeros(len(strokes))
    clusters = stroke_clusters(strokes, body)
    extra = 0.0
    for k in range(1, len(clusters)):
        gap = clusters[k][0] - clusters[k - 1][1]
        if gap > MIN_GAP_BODY * body:
            extra += min(gap, MAX_GAP_BODY * body) * style.word_spacing - gap
        shift[clusters[k][2]] = extra
    centre_y = float(np.median(np.concatenate([s[:, 1] for s in strokes])))
    return [_pixel_stroke(stroke, (-shift[i], centre_y), scale, style, style.rotation, rng)
            for i, stroke in enumerate(strokes)]


def _pixel_stroke(stroke: np.ndarray, origin: tuple, scale: float, style: WriterStyle, rotation: float,
                  rng: np.random.Generator) -> np.ndarray:
    """One tablet stroke (N, 3) -> pixel stroke (N, 3) of x, y, pressure: ``origin`` (tablet units) goes to (0, 0),
    then ``scale`` pixels per tablet unit, style's x-stretch and slant, ``rotation`` degrees counter-clockwise and a
    random shift of style.jitter_px."""
    angle = np.deg2rad(rotation)
    cos, sin = np.cos(angle), np.sin(angle)
    x = (stroke[:, 0] - origin[0]) * scale * style.scale_x
    y = (stroke[:, 1] - origin[1]) * scale
    x = x - style.slant * y
    x, y = cos * x + sin * y, -sin * x + cos * y
    jitter = rng.normal(0.0, style.jitter_px, 2)
    return np.stack([x + jitter[0], y + jitter[1], _pressure(stroke)], axis=1).astype(np.float32)


def warp_strokes(laid: list[np.ndarray], strength: float, body_px: float,
                 rng: np.random.Generator) -> list[np.ndarray]:
    """Pixel strokes (N, 3) of x, y, pressure moved by a smooth random field, so letters take shapes this writer
    never wrote: nodes every WARP_CELL_BODY body heights get Gaussian (dx, dy) of std ``strength`` body heights,
    interpolated cubically between them; strokes stay connected and pressure is kept."""
    allpts = np.concatenate(laid)
    cell = body_px * rng.uniform(*WARP_CELL_BODY)
    x0, y0 = allpts[:, 0].min(), allpts[:, 1].min()
    rows = int((allpts[:, 1].max() - y0) / cell) + 2
    cols = int((allpts[:, 0].max() - x0) / cell) + 2
    nodes = rng.normal(0.0, strength * body_px, (2, rows, cols))
    out = []
    for stroke in laid:
        at = np.stack([(stroke[:, 1] - y0) / cell, (stroke[:, 0] - x0) / cell])
        dx, dy = (map_coordinates(nodes[k], at, order=3, mode="nearest") for k in range(2))
        out.append(np.stack([stroke[:, 0] + dx, stroke[:, 1] + dy, stroke[:, 2]], axis=1).astype(np.float32))
    return out


def ink_coverage(strokes: list[np.ndarray], style: WriterStyle, rng: np.random.Generator,
                 margin: tuple[int, int] = (12, 20), warp: float = 0.0) -> np.ndarray:
    """Float32 coverage (H, W) in 0..1 of the strokes drawn with ``style``'s pen; ``margin`` = (vertical,
    horizontal) paper in pixels around the ink; ``warp`` > 0: the shapes are warped (``warp_strokes``) with a
    strength drawn from [0, warp) body heights (no draw when 0, so images without warp are unchanged)."""
    laid = _layout(strokes, style, rng)
    if warp > 0:
        laid = warp_strokes(laid, float(rng.uniform(0.0, warp)), style.body_px, rng)
    return draw_coverage(laid, style, margin)[0]


def draw_coverage(laid: list[np.ndarray], style: WriterStyle,
                  margin: tuple[int, int]) -> tuple[np.ndarray, float, float]:
    """Pixel strokes (``_pixel_stroke``: (N, 3) of x, y, pressure) -> (coverage float32 (H, W) in 0..1, x0, y0):
    drawn with ``style``'s pen, ``margin`` = (vertical, horizontal) pixels of paper around the ink; (x0, y0) is the
    position of the coverage's top-left pixel in the strokes' pixel frame."""
    allpts = np.concatenate(laid)
    reach = style.pen_px
    x0, y0 = allpts[:, 0].min() - reach - margin[1], allpts[:, 1].min() - reach - margin[0]
    width = int(np.ceil(allpts[:, 0].max() + reach + margin[1] - x0)) + 1
    height = int(np.ceil(allpts[:, 1].max() + reach + margin[0] - y0)) + 1
    s = SUPERSAMPLE
    canvas = np.zeros((height * s, width * s), np.uint8)
    for stroke in laid:
        smooth = chaikin(stroke, 2)
        xy = np.rint((smooth[:, :2] - [x0, y0]) * s).astype(np.int32)
        thickness = np.maximum(1, np.rint(_widths(smooth[:, :2], smooth[:, 2], style) * s)).astype(int)
        if len(xy) == 1:
            cv2.circle(canvas, tuple(xy[0]), max(1, thickness[0] // 2), 255, -1)
        for k in range(len(xy) - 1):
            cv2.line(canvas, tuple(xy[k]), tuple(xy[k + 1]), 255, int(thickness[k]))
    coverage = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    if style.pen == "felt":
        coverage = cv2.GaussianBlur(coverage, (0, 0), 0.6)
    return coverage, float(x0), float(y0)


def ink_opacity(coverage: np.ndarray, style: WriterStyle, rng: np.random.Generator) -> np.ndarray:
    """Ink opacity (H, W) in 0..1 of a coverage (H, W) for the pen kind: ballpoint grain and skips, pencil graphite
    texture."""
    if style.pen == "pencil":
        grain = np.clip(rng.normal(0.75, 0.3, coverage.shape).astype(np.float32), 0.0, 1.0)
        return np.clip(coverage * cv2.GaussianBlur(grain, (0, 0), 0.7) * rng.uniform(0.7, 1.0), 0.0, 1.0)
    pressure = 0.95 if style.pen != "ballpoint" else rng.uniform(0.75, 1.0)
    variation = 0.05 if style.pen == "felt" else rng.uniform(0.05, 0.25)
    return degrade.ink_alpha(coverage, rng, pressure, variation)


def render_line(strokes: list[np.ndarray], rng: np.random.Generator, style: WriterStyle | None = None,
                warp: float = 0.0) -> np.ndarray:
    """IAM-OnDB strokes (list of (N, 3) arrays: x, y tablet units, y down; time s) -> uint8 gray line image (H, W),
    ink dark on paper, at about 300 dpi. ``style`` (default: drawn from ``rng``) is the writer's pen and habits;
    ``warp``: the largest shape-warp strength in body heights (``ink_coverage``; 0: none)."""
    style = style or WriterStyle.draw(rng)
    margin = (int(rng.integers(6, 30)), int(rng.integers(8, 40)))
    coverage = ink_coverage(strokes, style, rng, margin, warp)
    height, width = coverage.shape
    page = degrade.paper(height, width, rng, scale=2.0)
    page = page - np.float32(rng.uniform(0, 30))                     # paper from about 200 to 253
    alpha = ink_opacity(coverage, style, rng)
    page = degrade.compose(page, [(alpha, style.ink)])
    return degrade.scan_effects(page, rng, scale=1.4)
