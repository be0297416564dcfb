"""The IAM loader reads a tree written by the synthetic data engine unchanged: every parse_method and output."""
import os

import numpy as np
import pytest

from ocr.core.geometry import FORM_SIZE, LINE_SIZE, REGION_SIZE, WORD_SIZE
from ocr.data import fonts
from ocr.data.iam import IAMDataset
from tests.conftest import require


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    require(os.path.exists(fonts.MANIFEST), "fonts not installed: run `make data`")
    from ocr.data.synthetic import generate
    root = str(tmp_path_factory.mktemp("synth") / "iam")
    generate(root, 8, seed=3, workers=1, dpi=75, progress=False)
    return root


def test_every_split_has_lines_and_writers_are_disjoint(tree):
    writers = {}
    for split in ("trainset", "validation", "test"):
        dataset = IAMDataset(tree, "form", split=split)
        assert len(dataset) > 0, split
        forms = {dataset.item_id(i) for i in range(len(dataset))}
        writers[split] = {f.writer for f in dataset.tree.forms if f.id in forms}
    assert not writers["trainset"] & writers["test"] and not writers["trainset"] & writers["validation"]


@pytest.mark.parametrize("parse_method, size", [("form", FORM_SIZE), ("form_bb", REGION_SIZE),
                                                ("line", LINE_SIZE), ("word", WORD_SIZE)])
def test_text_items(tree, parse_method, size):
    dataset = IAMDataset(tree, parse_method, split="all")
    image, text = dataset[0]
    assert image.shape == size and image.dtype == np.uint8 and text.strip()
    assert image.min() < np.median(image) - 40                         # there is ink in it


def test_form_original_keeps_the_page_resolution(tree):
    image, text = IAMDataset(tree, "form_original", split="all")[0]
    form = IAMDataset(tree, "form_original", split="all").tree.forms[0]
    assert image.shape == (form.height, form.width) and "\n" in text


@pytest.mark.parametrize("parse_method", ["form", "form_original", "form_bb"])
@pytest.mark.parametrize("element", ["form", "line", "word"])
def test_box_items_lie_inside_the_image_and_on_ink(tree, parse_method, element):
    dataset = IAMDataset(tree, parse_method, split="all", output_data="bb", output_parse_method=element)
    image, boxes = dataset[0]
    assert boxes.dtype == np.float32 and boxes.shape[1] == 4 and len(boxes) >= 1
    x, y, w, h = boxes.T
    assert (x >= 0).all() and (y >= 0).all() and (x + w <= 1 + 1e-6).all() and (y + h <= 1 + 1e-6).all()
    height, width = image.shape
    paper = np.median(image)
    for bx, by, bw, bh in boxes[:5]:                                   # each box holds ink darker than the paper
        crop = image[int(by * height):int(np.ceil((by + bh) * height)), int(bx * width):int(np.ceil((bx + bw) * width))]
        assert crop.size and crop.min() < paper - 40


@pytest.mark.parametrize("parse_method", ["line", "word", "form"])
def test_original_image_is_the_stored_file_whose_fit_is_the_item(tree, parse_method):
    from ocr.core.geometry import resize_image
    dataset = IAMDataset(tree, parse_method, split="all")
    original = dataset.original_image(0)
    fitted = dataset[0][0]
    assert original.dtype == np.uint8 and original.ndim == 2 and original.shape != fitted.shape
    np.testing.assert_array_equal(resize_image(original, fitted.shape)[0], fitted)
