"""Page-level realism for synthetic forms: paper, ink, one geometric warp, scanner artefacts.

The geometric warp (small rotation + smooth elastic field) is a dest->source map (``PageWarp``) applied with
cv2.remap to every ink layer; the generator warps each word's ink mask with the same map to get exact boxes.
Photometric steps (paper texture, illumination, ink pressure, blur, noise, contrast, JPEG, scan shadow)
never move ink.
"""
import cv2
import numpy as np


def _normal(rng, sigma, shape):
    """Gaussian noise image: OpenCV's generator (fast), seeded from ``rng`` so results stay deterministic."""
    out = np.empty(shape, np.float32)
    cv2.setRNGSeed(int(rng.integers(1, 2 ** 31 - 1)))
    cv2.randn(out, 0.0, float(sigma))
    return out


def _smooth_field(rng, h, w, cell, amplitude):
    """Smooth random field ~N(0, amplitude) varying over ``cell`` px (bicubic upsampling of a coarse grid)."""
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    coarse = rng.normal(0, amplitude, (gh, gw)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)


class PageWarp:
    """Rotation about the page centre by ``angle`` degrees plus an elastic field; dest -> source maps."""

    def __init__(self, h: int, w: int, rng: np.random.Generator, scale: float = 1.0, max_angle: float = 2.0,
                 elastic: float = 1.2) -> None:
        self.h, self.w = h, w
        self.angle = float(np.clip(rng.normal(0, max_angle / 2.5), -max_angle, max_angle))
        amp = rng.uniform(0.0, elastic) * scale
        cell = rng.uniform(100, 250) * scale
        # compute the maps at quarter resolution (smooth anyway), then upsample: fast on big pages
        sh, sw = (h + 3) // 4, (w + 3) // 4
        ex = _smooth_field(rng, sh, sw, cell / 4, amp)
        ey = _smooth_field(rng, sh, sw, cell / 4, amp)
        self.margin = float(max(np.abs(ex).max(), np.abs(ey).max())) + 2.0
        t = np.deg2rad(self.angle)
        self.c, self.s = np.cos(t), np.sin(t)
        self.cx, self.cy = (w - 1) / 2.0, (h - 1) / 2.0
        ys, xs = np.mgrid[0:sh, 0:sw].astype(np.float32) * 4
        # src = Rinv (dest - c) + c + e
        mx = self.c * (xs - self.cx) + self.s * (ys - self.cy) + self.cx + ex
        my = -self.s * (xs - self.cx) + self.c * (ys - self.cy) + self.cy + ey
        self.mapx = cv2.resize(mx, (sw * 4, sh * 4), interpolation=cv2.INTER_LINEAR)[:h, :w]
        self.mapy = cv2.resize(my, (sw * 4, sh * 4), interpolation=cv2.INTER_LINEAR)[:h, :w]

    def apply(self, layer: np.ndarray, border: float = 0.0) -> np.ndarray:
        """Warp a float32 page layer (H, W) or (H, W, C) through the dest -> source maps; pixels mapped from
        outside the page get ``border``."""
        return cv2.remap(layer, self.mapx, self.mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=border)

    def dest_region(self, x1: float, y1: float, x2: float, y2: float) -> tuple[int, int, int, int]:
        """Conservative destination box (ints, clipped) of the source box [x1, x2) x [y1, y2): corners
        (x1, y1, x2, y2), page pixels."""
        xs = np.array([x1, x2, x1, x2], float) - self.cx
        ys = np.array([y1, y1, y2, y2], float) - self.cy
        dx = self.c * xs - self.s * ys + self.cx
        dy = self.s * xs + self.c * ys + self.cy
        m = self.margin + 2
        return (max(int(dx.min() - m), 0), max(int(dy.min() - m), 0),
                min(int(np.ceil(dx.max() + m)) + 1, self.w), min(int(np.ceil(dy.max() + m)) + 1, self.h))

    def warp_patch(self, patch: np.ndarray, px: int, py: int) -> tuple[np.ndarray, int, int]:
        """Warp one source patch placed at (px, py): returns (dest mask crop, dest x0, dest y0).

        ``patch``: float32 (h, w) coverage; the crop is float32 (h', w'), (0, 0) when it falls off the page;
        positions in page pixels."""
        ph, pw = patch.shape
        x1, y1, x2, y2 = self.dest_region(px, py, px + pw, py + ph)
        if x2 <= x1 or y2 <= y1:
            return np.zeros((0, 0), np.float32), x1, y1
        mx = self.mapx[y1:y2, x1:x2] - px
        my = self.mapy[y1:y2, x1:x2] - py
        out = cv2.remap(patch, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return out, x1, y1


def paper(h: int, w: int, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """Paper background, float32 grey levels: base tone, illumination gradient, fibre texture: (h, w), on
    the 0..255 scale."""
    base = rng.uniform(230, 253)
    gx, gy = rng.normal(0, 6), rng.normal(0, 6)
    xs = (np.arange(w, dtype=np.float32) / w - 0.5) * np.float32(gx)
    ys = (np.arange(h, dtype=np.float32) / h - 0.5) * np.float32(gy)
    page = np.float32(base) + xs[None, :] + ys[:, None]
    page += cv2.resize(_smooth_field(rng, h // 8 + 1, w // 8 + 1, 30, rng.uniform(0.5, 4.0)), (w, h))
    smooth = cv2.GaussianBlur(_normal(rng, 1.0, (h, w)), (0, 0), rng.uniform(0.6, 1.5))
    page += smooth * np.float32(rng.uniform(1.0, 5.0))
    return page


def ink_alpha(coverage: np.ndarray, rng: np.random.Generator, pressure: float = 0.9, variation: float = 0.15,
              scale: float = 1.0) -> np.ndarray:
    """Ink opacity from coverage: low-frequency pressure changes and fine ballpoint grain. Coverage (H, W) in
    0..1 -> opacity (H, W) in 0..1."""
    h, w = coverage.shape
    field = np.float32(pressure) + cv2.resize(_smooth_field(rng, h // 8 + 1, w // 8 + 1, 25, variation), (w, h))
    field = np.clip(field, 0.6, 1.0)
    grain = 1.0 - np.clip(np.abs(_normal(rng, rng.uniform(0.05, 0.2), (h, w))), 0, 0.5)
    return np.clip(coverage * field * grain, 0.0, 1.0)


def compose(background: np.ndarray, layers: list[tuple[np.ndarray, float]]) -> np.ndarray:
    """Lay ink over the page: ``layers`` is a list of (alpha, ink grey level). ``background``: float32 grey levels
    (H, W); each alpha (H, W) in 0..1; returns the page (H, W), grey levels."""
    page = background
    for alpha, level in layers:
        page = page - alpha * (page - level)
    return page


def scan_effects(page: np.ndarray, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """Blur, noise, contrast/brightness, an occasional scan shadow and JPEG artefacts -> uint8 page.
    ``page``: float32 grey levels (H, W); returns uint8 gray (H, W), ink dark."""
    h, w = page.shape
    if rng.random() < 0.15:  # shadow along one edge (book gutter / lid)
        side = rng.integers(4)
        width = rng.uniform(0.02, 0.08) * (w if side < 2 else h)
        depth = rng.uniform(20, 90)
        ramp = np.exp(-np.arange(w if side < 2 else h, dtype=np.float32) / width) * depth
        if side == 1 or side == 3:
            ramp = ramp[::-1]
        page = page - (ramp[None, :] if side < 2 else ramp[:, None])
    sigma = rng.uniform(0.0, 0.9) * scale
    if sigma > 0.25:
        page = cv2.GaussianBlur(page, (0, 0), sigma)
    page = page + _normal(rng, rng.uniform(0.5, 4.0), page.shape)
    contrast, brightness = rng.uniform(0.9, 1.12), rng.normal(0, 4)
    page = (page - 128.0) * contrast + 128.0 + brightness
    img = np.clip(np.rint(page), 0, 255).astype(np.uint8)
    if rng.random() < 0.6:
        quality = int(rng.integers(55, 95))
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return img
