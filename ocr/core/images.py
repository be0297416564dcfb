"""Reading page images from files for the pipeline: ``read_image(path) -> uint8 gray (H, W)``.

PNG, JPEG, TIFF, BMP, GIF, WebP, PNM, TGA (anything Pillow reads; ``page`` picks a frame of a multi-page TIFF,
``page_count`` says how many there are); colour, gray, palette, 16-bit, with alpha (composited onto the paper's grey,
see to_gray). The size is checked from the header before any pixel is decoded, so a huge or a bogus header is refused
cheaply. A phone photo is turned upright by its EXIF orientation, so boxes refer to
the image as viewers show it. Every problem is an ``ImageError`` whose message is one line meant for the user.
"""
import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from PIL import Image, ImageOps, UnidentifiedImageError


IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".tif", ".tiff", ".bmp", ".dib", ".gif", ".webp",
                    ".pbm", ".pgm", ".ppm", ".pnm", ".tga", ".pcx", ".jp2", ".j2k", ".psd")
# image formats a folder may hold that Pillow does not read here: named in a warning, not silently passed over
UNREAD_FORMATS = (".heic", ".heif", ".avif", ".jxl", ".pdf", ".svg", ".djvu", ".eps", ".ps", ".cr2", ".nef", ".dng",
                  ".arw", ".raw", ".xcf")
MAX_PIXELS = 100_000_000     # refuse pages above 100 megapixels (a 600 dpi A3 scan is ~70)
MIN_SIDE = 8                 # refuse images narrower or lower than this (pixels): nothing legible fits
HIGH_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")   # read through numpy so no level is clipped
LIGHT_PAPER = 0.5            # opaque pixels with a median grey (0..1) at least this light are paper, not ink


class ImageError(Exception):
    """A file that cannot be used as a page; ``str(error)`` is a one-line reason."""


@dataclass
class Inputs:
    """What find_images found: ``files`` to read, ``errors`` = [(path, reason)], ``unread`` = {folder: [names of
    files in an image format this does not read]}."""
    files: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    unread: dict[str, list[str]] = field(default_factory=dict)


def find_images(paths: Iterable[str], is_output: Callable[[str], bool] | None = None) -> Inputs:
    """Files and folders -> Inputs. A folder gives its files with an image extension (IMAGE_EXTENSIONS, sorted, not
    recursive), leaving out those for which ``is_output(path)`` is true (outputs of an earlier run); a file is taken
    whatever its extension. Missing paths and folders without images are errors."""
    found = Inputs()
    for path in paths:
        if os.path.isdir(path):
            names = sorted(n for n in os.listdir(path) if os.path.isfile(os.path.join(path, n)))
            images = [n for n in names if n.lower().endswith(IMAGE_EXTENSIONS)]
            unread = [n for n in names if n.lower().endswith(UNREAD_FORMATS)]
            if unread:
                found.unread[path] = unread
            chosen = [os.path.join(path, n) for n in images]
            chosen = [p for p in chosen if not (is_output and is_output(p))]
            if not images:
                found.errors.append((path, "no images (%s) in this folder" % " ".join(IMAGE_EXTENSIONS)))
            found.files += chosen
        elif os.path.exists(path):
            found.files.append(path)
        else:
            found.errors.append((path, "no such file or folder"))
    return found


def list_images(paths: Iterable[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Files and folders -> (image files, errors [(path, reason)]): find_images without output filtering."""
    found = find_images(paths)
    return found.files, found.errors


def check_size(width: int, height: int, max_pixels: int = MAX_PIXELS) -> None:
    """Raise ImageError when a width x height (pixels) image is too small or above ``max_pixels``."""
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ImageError("image is %dx%d pixels, too small to hold text (at least %dx%d)"
                         % (width, height, MIN_SIDE, MIN_SIDE))
    if width * height > max_pixels:
        raise ImageError("image is %dx%d pixels (%.0f megapixels), above the limit of %.0f megapixels"
                         % (width, height, width * height / 1e6, max_pixels / 1e6))


def _open(path):
    """Image.open with Pillow's own decompression-bomb check off: check_size does it, with a clearer message."""
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Image.open(path)
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def _single_line(error):
    return " ".join(str(error).split()) or type(error).__name__


def page_count(path: str) -> int:
    """The number of pages (frames) in an image file: 1 for most, N for a multi-page TIFF. Raises ImageError."""
    with _opened(path) as image:
        return max(1, getattr(image, "n_frames", 1))


def _opened(path):
    """Image.open(path) with every failure as an ImageError (one line)."""
    if not os.path.exists(path):
        raise ImageError("no such file")
    if os.path.isdir(path):
        raise ImageError("is a folder, not an image")
    try:
        return _open(path)
    except UnidentifiedImageError:
        raise ImageError("not an image (or a format Pillow cannot read)") from None
    except (OSError, ValueError, SyntaxError) as error:   # unreadable file, broken header (Pillow raises all three)
        raise ImageError("cannot read the image: %s" % _single_line(error)) from None


def read_image(path: str, max_pixels: int = MAX_PIXELS, page: int = 0) -> np.ndarray:
    """An image file -> uint8 gray (H, W) in pixels, ink dark (see the module doc); ``page``: which frame of a
    multi-page file (0 = the first). Raises ImageError."""
    with _opened(path) as image:
        try:
            image.seek(page)
        except (EOFError, OSError, ValueError) as error:
            raise ImageError("cannot read page %d: %s" % (page + 1, _single_line(error))) from None
        check_size(*image.size, max_pixels=max_pixels)
        try:
            image.load()
            image = ImageOps.exif_transpose(image)
            if image.mode in HIGH_DEPTH_MODES:
                array = np.asarray(image)
            elif "A" in image.mode or "transparency" in image.info:
                array = np.asarray(image.convert("LA"))                  # to_gray composites it onto the paper
            else:
                array = np.asarray(image.convert("L"))
        except (OSError, ValueError, SyntaxError, EOFError) as error:   # truncated or corrupt pixel data
            raise ImageError("truncated or corrupt image: %s" % _single_line(error)) from None
    return to_gray(array)


def _backdrop(gray: np.ndarray, alpha: np.ndarray) -> float:
    """Float gray and alpha (H, W) in [0, 1] -> the grey transparent pixels take: the median of the opaque pixels
    (alpha >= 0.5) when it is at least LIGHT_PAPER, else white (ink on a transparent canvas, or dark paper)."""
    if alpha.min() >= 1.0:
        return 1.0                       # nothing transparent: no backdrop shows
    opaque = gray[alpha >= 0.5]
    paper = float(np.median(opaque)) if opaque.size else 1.0
    return paper if paper >= LIGHT_PAPER else 1.0


def to_gray(image: ArrayLike) -> np.ndarray:
    """Any image array -> uint8 gray (H, W).

    Accepts (H, W), (H, W, 1), (H, W, 3) RGB, (H, W, 4) RGBA or (H, W, 2) gray+alpha; uint8, uint16, bool or
    float in [0, 1]. Transparent pixels are composited onto the paper: the median grey of the opaque pixels when
    that is light (a line cut out of a scan with a polygon mask keeps an even background, not a white frame whose
    edges read as strokes), else white (ink drawn on a transparent canvas). Raises ValueError for anything else.
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2 and image.dtype == np.uint8 and image.size:
        return image.copy()                          # what the float path below gives back, 10 ms sooner a page
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (2, 3, 4)) or image.size == 0:
        raise ValueError("expected an image of shape (H, W) or (H, W, 1|2|3|4), got %s" % (image.shape,))
    if image.dtype == bool:
        image = image.astype(np.float32)
    elif image.dtype == np.uint16:
        image = image.astype(np.float32) / 65535.0
    elif image.dtype == np.uint8:
        image = image.astype(np.float32) / 255.0
    elif np.issubdtype(image.dtype, np.floating) or np.issubdtype(image.dtype, np.integer):
        image = image.astype(np.float32)
        if image.max(initial=0) > 1.0:
            image = image / (65535.0 if image.max() > 255 else 255.0)
    else:
        raise ValueError("unsupported image dtype %s" % image.dtype)
    if image.ndim == 3:
        alpha = image[:, :, -1:] if image.shape[2] in (2, 4) else None
        colour = image[:, :, :3] if image.shape[2] >= 3 else image[:, :, :1]
        gray = colour.mean(axis=2) if colour.shape[2] == 1 else colour @ np.array([0.299, 0.587, 0.114], np.float32)
        if alpha is not None:
            alpha = alpha[:, :, 0]
            gray = gray * alpha + (1.0 - alpha) * _backdrop(gray, alpha)
        image = gray
    return np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
