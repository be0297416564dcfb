"""Image conversion, fitting and box helpers."""
import numpy as np
import pytest

from ocr.core.geometry import box_to_px, crop_image, expand_box, resize_image

from ocr.core.images import to_gray


def test_to_gray_handles_every_input_kind():
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 255                                                  # pure red
    assert to_gray(rgb)[0, 0] == round(0.299 * 255)
    rgba = np.zeros((4, 5, 4), np.uint8)                               # fully transparent -> white paper
    assert (to_gray(rgba) == 255).all()
    assert to_gray(np.full((2, 2), 65535, np.uint16)).tolist() == [[255, 255], [255, 255]]
    assert to_gray(np.full((2, 2, 1), 0.5, np.float32))[0, 0] == 128
    gray_alpha = np.stack([np.zeros((2, 2), np.uint8), np.full((2, 2), 255, np.uint8)], axis=2)
    assert (to_gray(gray_alpha) == 0).all()                            # opaque black ink stays black
    for bad in (np.zeros((0, 3), np.uint8), np.zeros((2, 2, 5), np.uint8), np.zeros(3, np.uint8)):
        with pytest.raises(ValueError):
            to_gray(bad)


def test_resize_image_fits_keeps_aspect_and_upscales():
    image = np.zeros((30, 100), np.uint8)                              # all ink: content stays 0 after fit
    fitted, box = resize_image(image, (60, 800))
    assert fitted.shape == (60, 800)
    assert box == (300 / 800, 0.0, 200 / 800, 1.0)                    # 30x100 -> 60x200, centred
    assert (fitted[:, 300:500] == 0).all() and (fitted[:, :300] >= 230).all()
    small, box = resize_image(image, (60, 800), upscale=False)
    assert box == (350 / 800, 15 / 60, 100 / 800, 30 / 60)


def test_boxes_crop_and_expand():
    assert box_to_px((0.1, 0.2, 0.5, 0.5), (100, 200)) == (20, 20, 120, 70)
    assert box_to_px((-0.5, -0.5, 3, 3), (10, 10)) == (0, 0, 10, 10)  # clipped, never wrapped around
    image = np.arange(100, dtype=np.uint8).reshape(10, 10)
    assert crop_image(image, (0.2, 0.3, 0.2, 0.1)).tolist() == [[32, 33]]
    with pytest.raises(ValueError):
        crop_image(image, (0.5, 0.5, 0.0, 0.2))
    np.testing.assert_allclose(expand_box((0.4, 0.4, 0.2, 0.1), 0.5, 1.0), (0.35, 0.35, 0.3, 0.2))
    np.testing.assert_allclose(expand_box((0.0, 0.0, 1.0, 1.0), 0.1, 0.1), (0.0, 0.0, 1.0, 1.0))
