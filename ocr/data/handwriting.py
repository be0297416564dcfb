"""Rendering words in a synthetic writer's hand: font + persistent style -> ink patches (float32 coverage 0..1).

A *writer* is one handwriting font plus a style drawn once from a seed (size, slant, spacing, pen width,
wobble, ...). Print fonts are set character by character with per-character size/offset/rotation jitter;
cursive fonts are set a whole word at a time so the joins are kept. Every word then gets its own small
shear/rotation/elastic distortion, so no two occurrences of a letter are pixel-identical.
"""
import functools

import cv2
import numpy as np
from PIL import ImageFont

REF_SIZE = 100


@functools.lru_cache(maxsize=512)
def get_font(path: str, size: float) -> ImageFont.FreeTypeFont:
    """The PIL font of the file ``path`` at ``size`` pixels (truncated to an int), cached."""
    return ImageFont.truetype(path, int(size))


@functools.lru_cache(maxsize=256)
def font_metrics(path: str) -> dict[str, float]:
    """Per-font measures at REF_SIZE px: x-height, cap height, stroke width (px)."""
    font = get_font(path, REF_SIZE)
    xh = -font.getbbox("xvwz", anchor="ls")[1]
    cap = -font.getbbox("HTEI", anchor="ls")[1]
    mask = np.array(font.getmask("nohemia"), dtype=np.uint8).reshape(font.getmask("nohemia").size[::-1])
    ink = (mask > 127).astype(np.uint8)
    area = float(ink.sum())
    contours, _ = cv2.findContours(ink, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perim = sum(cv2.arcLength(c, True) for c in contours) or 1.0
    return {"xh": max(xh, 1), "cap": max(cap, 1), "stroke": 2.0 * area / perim}


class Writer:
    """One synthetic writer: a font and a persistent style drawn from ``rng``; ``scale`` = dpi / 150."""

    def __init__(self, font: dict[str, str], rng: np.random.Generator, scale: float = 1.0,
                 writer_id: str = "000") -> None:
        self.font = font
        self.id = writer_id
        self.cursive = font["class"] == "cursive"
        r = rng
        self.scale = scale
        self.xh = r.uniform(10.5, 16.5) * scale                       # x-height in px
        m = font_metrics(font["path"])
        size = REF_SIZE * self.xh / m["xh"]
        if m["cap"] / m["xh"] > 2.4:                                    # tall scripts: halfway to a sane ascender
            size = max(float(np.sqrt(size * REF_SIZE * 2.4 * self.xh / m["cap"])), 0.75 * size)
        self.size = max(8.0, min(size, 90.0 * scale))
        self.xh = m["xh"] * self.size / REF_SIZE
        self.slant = r.uniform(-0.12, 0.12) if self.cursive else r.uniform(-0.15, 0.35)   # shear x += slant*(-y)
        self.slant_jitter = r.uniform(0.01, 0.05)
        self.word_rot_jitter = r.uniform(0.3, 1.5)                     # degrees
        self.width_jitter = r.uniform(0.01, 0.06)                      # per-word horizontal scale
        self.size_jitter = r.uniform(0.02, 0.07)
        self.char_rot_jitter = r.uniform(1.0, 5.0)                     # degrees, print fonts
        self.char_dy_jitter = r.uniform(0.02, 0.08)                    # x-heights
        self.tracking = r.uniform(-0.06, 0.18) if not self.cursive else 0.0   # extra letter spacing (x-heights)
        self.tracking_jitter = r.uniform(0.02, 0.08)
        self.word_space = r.uniform(0.7, 1.6)                          # x-heights
        self.word_space_jitter = r.uniform(0.1, 0.3)
        self.line_spacing = r.uniform(3.6, 5.4)                        # x-heights, baseline to baseline
        self.baseline_wobble = r.uniform(0.02, 0.08)                   # x-heights
        self.line_slope = r.normal(0, 0.006)                           # rad, persistent tendency
        self.line_slope_jitter = r.uniform(0.002, 0.008)
        self.left_margin = r.uniform(0.06, 0.15)                       # page widths
        self.right_margin = r.uniform(0.04, 0.13)
        self.line_start_jitter = r.uniform(0.002, 0.012)               # page widths
        self.indent_first = r.random() < 0.3
        self.pen = r.uniform(1.5, 3.4) * scale                         # target stroke width, px
        self.ink_level = r.uniform(15, 95)                             # grey of full ink
        self.pressure = r.uniform(0.75, 1.0)
        self.pressure_var = r.uniform(0.05, 0.25)
        self.elastic = r.uniform(0.3, 1.0) * scale                     # px amplitude of per-word distortion
        self.stroke_native = m["stroke"] * self.size / REF_SIZE

    def line_pitch(self) -> float:
        """Baseline-to-baseline distance (px): the writer's habit, but at least the font's ascender+descender."""
        font = get_font(self.font["path"], int(round(self.size)))
        asc = -font.getbbox("dlhkbfAHT", anchor="ls")[1]
        desc = font.getbbox("gjpqy", anchor="ls")[3]
        return max(self.line_spacing * self.xh, 0.9 * (asc + desc) + 0.5 * self.xh)

    # ------------------------------------------------------------------ glyphs

    def _glyph(self, text, size):
        """(coverage float32 array, (dx, dy) of its top-left from the baseline origin); single characters cached."""
        if len(text) == 1:
            return _glyph_cached(self.font["path"], int(round(size)), text)
        return _render(self.font["path"], int(round(size)), text)

    def render_word(self, word: str, rng: np.random.Generator) -> tuple[np.ndarray, int, int, float]:
        """Ink patch of one word. Returns (patch float32 HxW, ox, oy, advance): (ox, oy) is the baseline start
        inside the patch, ``advance`` the pen advance from it (px)."""
        size = self.size * (1.0 + rng.normal(0, self.size_jitter * 0.3))
        pad = int(self.size * 1.2) + 8
        if self.cursive:
            glyph, (dx, dy) = self._glyph(word, size)
            advance = _advance(self.font["path"], int(round(size)), word)
            h = glyph.shape[0] + 2 * pad
            w = glyph.shape[1] + 2 * pad
            canvas = np.zeros((h, w), np.float32)
            ox, oy = pad - min(dx, 0), pad - dy
            x0, y0 = ox + dx, oy + dy
            canvas[y0:y0 + glyph.shape[0], x0:x0 + glyph.shape[1]] = glyph
        else:
            font = get_font(self.font["path"], int(round(size)))
            est = int(font.getlength(word) * 1.4 + len(word) * self.xh * 0.4) + 2 * pad
            canvas = np.zeros((int(size * 2.5) + 2 * pad, est), np.float32)
            ox, oy = pad, int(size * 1.3) + pad
            x = float(ox)
            for ch in word:
                cs = size * (1.0 + rng.normal(0, self.size_jitter))
                glyph, (dx, dy) = self._glyph(ch, cs)
                rpad = 0
                if glyph.size > 1:
                    glyph, rpad = _rotate(glyph, rng.normal(0, self.char_rot_jitter))
                gy = oy + dy - rpad + int(round(rng.normal(0, self.char_dy_jitter) * self.xh))
                gx = int(round(x)) + dx - rpad
                gh, gw = glyph.shape
                if 0 <= gy and gy + gh <= canvas.shape[0] and 0 <= gx and gx + gw <= canvas.shape[1]:
                    np.maximum(canvas[gy:gy + gh, gx:gx + gw], glyph, out=canvas[gy:gy + gh, gx:gx + gw])
                x += _advance(self.font["path"], int(round(cs)), ch) \
                    + (self.tracking + rng.normal(0, self.tracking_jitter)) * self.xh
            advance = x - ox
        # per-word shear (slant) + rotation about the baseline origin, then a small elastic distortion
        slant = self.slant + rng.normal(0, self.slant_jitter)
        angle = np.deg2rad(rng.normal(0, self.word_rot_jitter))
        c, s = np.cos(angle), np.sin(angle)
        # forward: p' = R @ Sh @ (p - o) + o, Sh = [[1, -slant], [0, 1]] (y grows downwards: lean right for slant > 0)
        sx = 1.0 + rng.normal(0, self.width_jitter)
        a = np.array([[c, -s], [s, c]]) @ np.array([[sx, -slant], [0.0, 1.0]])
        o = np.array([ox, oy], float)
        t = o - a @ o
        mat = np.hstack([a, t[:, None]]).astype(np.float32)
        canvas = cv2.warpAffine(canvas, mat, (canvas.shape[1], canvas.shape[0]), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        canvas = _elastic(canvas, rng, self.elastic, sigma=max(3.0, self.xh * 0.35))
        canvas = self._pen(canvas)
        # crop to ink (+2 px)
        ys, xs = np.nonzero(canvas > 0.02)
        if len(xs) == 0:
            return np.zeros((1, 1), np.float32), 0, 0, advance
        x1, x2 = max(xs.min() - 2, 0), min(xs.max() + 3, canvas.shape[1])
        y1, y2 = max(ys.min() - 2, 0), min(ys.max() + 3, canvas.shape[0])
        return canvas[y1:y2, x1:x2], ox - x1, oy - y1, advance * sx

    def _pen(self, patch):
        """Bring the font's stroke width towards the writer's pen width (grey dilation/erosion + edge gamma)."""
        diff = self.pen - self.stroke_native
        if diff >= 0.9:
            k = int(min(3, round(diff)))
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k + 1, k + 1))
            patch = cv2.dilate(patch, kernel)
        elif diff <= -1.6 and self.stroke_native > 3.5:
            patch = cv2.erode(patch, np.ones((2, 2), np.uint8))
        elif diff >= 0.35:
            patch = np.sqrt(patch)
        return patch


def _render(path, size, text):
    mask, offset = get_font(path, size).getmask2(text, mode="L", anchor="ls")
    w, h = mask.size
    arr = np.frombuffer(bytes(mask), dtype=np.uint8).reshape(h, w).astype(np.float32) / 255.0 if w and h \
        else np.zeros((1, 1), np.float32)
    return arr, offset


@functools.lru_cache(maxsize=20000)
def _glyph_cached(path, size, ch):
    arr, offset = _render(path, size, ch)
    arr.setflags(write=False)
    return arr, offset


@functools.lru_cache(maxsize=20000)
def _advance(path, size, ch):
    return get_font(path, size).getlength(ch)


def _rotate(glyph, degrees):
    """Rotate a glyph about its centre; returns (rotated, pad): the result is ``pad`` px larger on each side."""
    h, w = glyph.shape
    pad = int(max(h, w) * 0.2) + 1
    g = cv2.copyMakeBorder(glyph, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    mat = cv2.getRotationMatrix2D(((w + 2 * pad - 1) / 2.0, (h + 2 * pad - 1) / 2.0), degrees, 1.0)
    return cv2.warpAffine(g, mat, (g.shape[1], g.shape[0]), flags=cv2.INTER_LINEAR), pad


def _elastic(img, rng, amplitude, sigma):
    """Smooth random displacement (px amplitude ~ ``amplitude``) of a small patch."""
    if amplitude <= 0:
        return img
    h, w = img.shape
    gh, gw = max(2, int(h / sigma) + 2), max(2, int(w / sigma) + 2)
    dx = cv2.resize(rng.normal(0, amplitude, (gh, gw)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(rng.normal(0, amplitude, (gh, gw)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    xx, yy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, xx + dx, yy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
