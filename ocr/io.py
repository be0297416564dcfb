"""Reading page images from files for the pipeline: ``read_image(path) -> uint8 gray (H, W)``.

PNG, JPEG, TIFF, BMP (anything Pillow reads; the first frame of a multi-page file); colour, gray, palette, 16-bit,
with alpha (composited onto white). The size is checked from the header before any pixel is decoded, so a huge
or a bogus header is refused cheaply. A phone photo is turned upright by its EXIF orientation, so boxes refer to
the image as viewers show it. Every problem is an ``ImageError`` whose message is one line meant for the user.
"""
import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ocr.data.transforms import to_gray

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
MAX_PIXELS = 100_000_000     # refuse pages above 100 megapixels (a 600 dpi A3 scan is ~70)
MIN_SIDE = 8                 # refuse images narrower or lower than this (pixels): nothing legible fits
HIGH_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")   # read through numpy so no level is clipped


class ImageError(Exception):
    """A file that cannot be used as a page; ``str(error)`` is a one-line reason."""


def list_images(paths):
    """Files and folders -> (image files, errors): a folder gives its files with an image extension (sorted, not
    recursive); a file is taken whatever its extension. ``errors`` = [(path, reason)] for missing paths and for
    folders without images."""
    files, errors = [], []
    for path in paths:
        if os.path.isdir(path):
            names = sorted(n for n in os.listdir(path) if n.lower().endswith(IMAGE_EXTENSIONS))
            if not names:
                errors.append((path, "no images (%s) in this folder" % " ".join(IMAGE_EXTENSIONS)))
            files += [os.path.join(path, name) for name in names if os.path.isfile(os.path.join(path, name))]
        elif os.path.exists(path):
            files.append(path)
        else:
            errors.append((path, "no such file or folder"))
    return files, errors


def check_size(width, height, max_pixels=MAX_PIXELS):
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


def read_image(path, max_pixels=MAX_PIXELS):
    """An image file -> uint8 gray (H, W) in pixels, ink dark (see the module doc). Raises ImageError."""
    if not os.path.exists(path):
        raise ImageError("no such file")
    if os.path.isdir(path):
        raise ImageError("is a folder, not an image")
    try:
        image = _open(path)
    except UnidentifiedImageError:
        raise ImageError("not an image (or a format Pillow cannot read)") from None
    except (OSError, ValueError, SyntaxError) as error:   # unreadable file, broken header (Pillow raises all three)
        raise ImageError("cannot read the image: %s" % _single_line(error)) from None
    with image:
        check_size(*image.size, max_pixels=max_pixels)
        try:
            image.load()
            image = ImageOps.exif_transpose(image)
            if image.mode in HIGH_DEPTH_MODES:
                array = np.asarray(image)
            elif "A" in image.mode or "transparency" in image.info:
                array = np.asarray(image.convert("LA"))                  # to_gray composites it onto white
            else:
                array = np.asarray(image.convert("L"))
        except (OSError, ValueError, SyntaxError, EOFError) as error:   # truncated or corrupt pixel data
            raise ImageError("truncated or corrupt image: %s" % _single_line(error)) from None
    return to_gray(array)
