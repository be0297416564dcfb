"""Ink on paper in uint8 gray images (H, W), dark ink on light paper: grey-level statistics, the ink mask and its
box, the paper's shading flattened, affine warps that fill with paper, and line or word crops cut to their ink with
margins: what the pipeline (ocr.pipeline) and the recogniser's training data (ocr.data.line_mix) share.
"""
import cv2
import numpy as np

MIN_CONTRAST = 40          # grey levels between paper and ink below which an image holds no ink
MIN_INK_SIZE = 5           # px: a connected ink component smaller both ways is not writing (dust, noise)
FEW_SPECKS = 200           # ink_mask clears up to this many such specks one by one, more by a lookup over all pixels
FAINT_INK = 0.2            # ink_mask depth of the ink a line or word crop keeps whole
LINE_MARGIN = 0.15         # margin added around a line crop, fraction of its ink height (the rendered training lines
                           # have 0.05-0.2; with 0.5, 150 rendered IAM-OnDB test lines read 14.9% CER, with 0.15 8.8%)
EDGE_RING = 0.02           # the rows and columns along a crop's edges whose grey is its paper (edge_grey)
LINE_ROW_DEPTH = 0.5       # a line crop's rows are those of ink this dark (ink_mask depth; its columns take faint ink
                           # too): faint smudges above and below no longer shrink the writing (150 rendered IAM-OnDB
                           # validation lines 8.91 -> 8.34% greedy CER with v11, against FAINT_INK's rows)
WORD_MARGIN = 0.5          # margin added around a word crop, fraction of its ink height (as the font words trained)
MIN_DISC = 9               # px: the smallest disc normalise_illumination closes with (wider than strokes)


def grey_histogram(gray: np.ndarray) -> np.ndarray:
    """uint8 gray (any shape) -> int64 (256,) pixel count per grey level: OpenCV's histogram, 3x as fast as
    np.bincount, where its float32 counts are exact (under 2**24 pixels)."""
    if gray.size >= 2 ** 24:
        return np.bincount(gray.ravel(), minlength=256)
    flat = np.ascontiguousarray(gray).reshape(1, -1)
    return cv2.calcHist([flat], [0], None, [256], [0, 256]).ravel().astype(np.int64)


def grey_percentiles(gray: np.ndarray, percents: tuple) -> list:
    """uint8 gray (any shape) -> [float] its ``percents`` (0-100) percentiles, equal to np.percentile's (linear
    interpolation between order statistics), from a 256-bin histogram instead of a sort of every pixel."""
    counts = np.cumsum(grey_histogram(gray))
    values = []
    for percent in percents:
        position = percent / 100.0 * (counts[-1] - 1)
        low, high = (int(np.searchsorted(counts, k, side="right")) for k in (np.floor(position), np.ceil(position)))
        values.append(low + (position - np.floor(position)) * (high - low))
    return values


def grey_median(gray: np.ndarray) -> float:
    """uint8 gray (any shape) -> its median (np.median's), by grey_percentiles."""
    return grey_percentiles(gray, (50,))[0]


def ink_mask(gray: np.ndarray, min_contrast: int = MIN_CONTRAST, depth: float = 0.5,
             paper: float | None = None) -> np.ndarray:
    """uint8 gray (H, W), ink dark -> bool (H, W): pixels darker than ``depth`` of the way from the paper (``paper``,
    a grey level; default: the median) to the darkest ink (0.1st percentile); all False when they differ by less
    than ``min_contrast`` grey levels. Ink components under MIN_INK_SIZE px both wide and high are dropped."""
    median, dark = grey_percentiles(gray, (50, 0.1))
    paper = median if paper is None else paper
    if paper - dark < min_contrast:
        return np.zeros(gray.shape, dtype=bool)
    mask = (gray < paper - depth * (paper - dark)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    small = np.flatnonzero(np.maximum(stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_WIDTH]) < MIN_INK_SIZE) + 1
    if len(small) > FEW_SPECKS:                       # a noisy image: one lookup over every pixel
        keep = np.ones(count, dtype=bool)
        keep[0] = False
        keep[small] = False
        return keep[labels]
    mask = mask.astype(bool)
    for i in small:                                   # a few specks: cleared where they lie
        x, y, w, h = stats[i, :4]
        mask[y:y + h, x:x + w] &= labels[y:y + h, x:x + w] != i
    return mask


def edge_grey(gray: np.ndarray) -> float:
    """uint8 gray (H, W) -> the median grey of its edges (EDGE_RING of the shorter side, at least 1 px): the paper
    of a line or word crop, even one that blurred ink mostly fills (its median is then ink)."""
    ring = max(1, round(EDGE_RING * min(gray.shape)))
    return grey_median(np.concatenate([gray[:ring].ravel(), gray[-ring:].ravel(),
                                       gray[:, :ring].ravel(), gray[:, -ring:].ravel()]))


def paper_grey(gray: np.ndarray) -> float:
    """uint8 gray (H, W) -> the grey of its paper, for deciding whether and how it holds writing: the lighter of its
    median and its edges' grey (edge_grey), as a tight word crop that faint, blurred ink mostly fills has a median of
    ink (its ink would then be too close to the 'paper' to be found, and the crop taken for a blank page)."""
    return max(grey_median(gray), edge_grey(gray))


def warp(gray: np.ndarray, matrix: np.ndarray, shape: tuple, paper: float | None = None) -> np.ndarray:
    """uint8 gray (H, W) through the affine ``matrix`` (3, 3) into (H', W') = ``shape``, new area filled with
    ``paper`` (default: the median grey)."""
    if np.allclose(matrix, np.eye(3)) and shape == gray.shape:
        return gray
    paper = int(grey_median(gray)) if paper is None else int(round(paper))
    exact = np.allclose(matrix[:2, :2], np.round(matrix[:2, :2]))       # quarter turns only: no resampling
    return cv2.warpAffine(gray, matrix[:2], (shape[1], shape[0]), flags=cv2.INTER_NEAREST if exact else
                          cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=paper)


def ink_box(mask: np.ndarray) -> tuple:
    """bool mask (H, W) -> (x, y, w, h) pixels of its True pixels; None when there are none."""
    rows = np.flatnonzero(mask.any(axis=1))
    if len(rows) == 0:
        return None
    columns = np.flatnonzero(mask.any(axis=0))
    return int(columns[0]), int(rows[0]), int(columns[-1] - columns[0] + 1), int(rows[-1] - rows[0] + 1)


def margin_matrix(box: tuple, margin: int) -> tuple:
    """Ink at ``box`` (x, y, w, h) px of an image -> (matrix (3, 3), output (H', W')): the crop of that box with
    ``margin`` px more on every side, paper where the image ends (a tight crop gets margins, a line on a large
    canvas loses it; the recogniser then fits the strip, scaling a thin one up, as a whole line)."""
    x, y, w, h = box
    matrix = np.array([[1, 0, margin - x], [0, 1, margin - y], [0, 0, 1]], dtype=np.float64)
    return matrix, (h + 2 * margin, w + 2 * margin)


def ink_crop_matrix(gray: np.ndarray, margin: float, mask: np.ndarray | None = None,
                    row_depth: float = FAINT_INK) -> tuple:
    """uint8 gray (H, W) of a line or word -> margin_matrix of its ink box with ``margin`` (LINE_MARGIN or
    WORD_MARGIN) of the box height as margin: how line and word crops are cut for the recogniser (word crops alike in
    reading and in training). The box spans the columns of all the ink, faint strokes too, and the rows of the ink
    at least ``row_depth`` dark (ink_mask; LINE_ROW_DEPTH for lines); ``mask``'s box, or the whole image, when
    nothing is that dark."""
    faint = ink_mask(gray, depth=FAINT_INK)
    box = ink_box(faint)
    if box is not None and row_depth != FAINT_INK:
        rows = ink_box(ink_mask(gray, depth=row_depth) & faint)
        if rows is not None:
            box = (box[0], rows[1], box[2], rows[3])
    if box is None and mask is not None:
        box = ink_box(mask)
    if box is None:
        box = (0, 0, gray.shape[1], gray.shape[0])
    return margin_matrix(box, round(margin * box[3]))


def crop_to_ink(gray: np.ndarray, margin: float) -> np.ndarray:
    """uint8 gray (H, W) of an upright line or word -> uint8 gray cut by ink_crop_matrix with ``margin`` (fraction
    of the ink height; LINE_MARGIN or WORD_MARGIN) of paper (edge_grey) around it, as the pipeline cuts it: from the
    image with its shading flattened (normalise_illumination), so a scan shadow along an edge is neither taken for
    ink nor cut off into a sharp edge that reads as a letter ('Iwaded': 9.0 -> 8.2% CER on 300 rendered IAM-OnDB
    validation words read alone, v13 greedy)."""
    flat = normalise_illumination(gray)
    matrix, shape = ink_crop_matrix(flat, margin)
    return warp(flat, matrix, shape, edge_grey(flat))


def normalise_illumination(gray: np.ndarray, background_side: int = 512, min_paper: float = 220) -> np.ndarray:
    """uint8 gray (H, W) -> uint8 gray (H, W) with even paper (scans and phone photos alike).

    The background (paper and lighting) is estimated on a copy reduced to at most ``background_side`` pixels: a
    grey closing with a disc of 1/30 of that side (at least MIN_DISC px, so that the strokes of a small crop are
    erased too) erases the ink strokes, a blur smooths it. The page is divided
    by it, which removes shading and colour casts, and scaled so that the paper takes its median grey level, at
    least ``min_paper`` (a dim photo is brightened). Ink keeps its contrast to the paper, as in the training
    pages: also stretching the ink to black hurt the first checkpoints on synthetic test pages (paragraph IoU
    0.84 -> 0.81, line CER 40.1% -> 41.6%), while this leaves both unchanged."""
    height, width = gray.shape
    scale = min(1.0, background_side / max(height, width))
    small = cv2.resize(gray, (max(1, round(width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_AREA)
    side = max(MIN_DISC, round(max(small.shape) / 30)) | 1
    background = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side)))
    background = cv2.GaussianBlur(background, (0, 0), side / 2)
    paper = max(float(np.median(background)), min_paper)
    background = cv2.resize(background, (width, height), interpolation=cv2.INTER_LINEAR)
    scale = np.maximum(background, 1).astype(np.float32)
    np.divide(np.float32(paper), scale, out=scale)                      # in place: the same float32 steps as
    flat = gray.astype(np.float32)                                      # gray * (paper / background) + 0.5,
    flat *= scale                                                       # 1.5 ms less on a page
    flat += 0.5
    return np.clip(flat, 0, 255, out=flat).astype(np.uint8)
