"""IAMDataset against hand-written IAM-format xml fixtures with known boxes and text."""
import os
import re

import cv2
import numpy as np
import pytest

from ocr.core.geometry import FORM_SIZE, LINE_SIZE, REGION_SIZE, WORD_SIZE
from ocr.data.iam import IAMDataset, IAMNotFoundError, parse_form_xml, read_split_list

# Page 200 x 300 px. Text spelled with double-escaped entities, as IAM's xml does (&amp;quot; -> &quot; -> ").
FORM_A = """<?xml version="1.0" encoding="ISO-8859-1"?>
<form created="2000-11-03" height="300" id="a01-000u" writer-id="000" width="200">
<machine-printed-part><machine-print-line text="A MOVE to stop Mr. Gaitskell"/></machine-printed-part>
<handwritten-part>
<line id="a01-000u-00" text="A &amp;quot;MOVE&amp;quot; to" segmentation="ok">
  <word id="a01-000u-00-00" tag="AT0" text="A"><cmp x="20" y="30" width="10" height="20"/></word>
  <word id="a01-000u-00-01" tag="NN" text="&amp;quot;MOVE&amp;quot;">
    <cmp x="40" y="32" width="30" height="18"/><cmp x="72" y="28" width="8" height="25"/></word>
  <word id="a01-000u-00-02" tag="TO" text="to"><cmp x="90" y="35" width="15" height="15"/></word>
</line>
<line id="a01-000u-01" text="stop Mr. Gaitskell ." segmentation="ok">
  <word id="a01-000u-01-00" tag="VB" text="stop"><cmp x="22" y="70" width="40" height="20"/></word>
  <word id="a01-000u-01-01" tag="NPT" text="Mr."><cmp x="70" y="72" width="25" height="18"/></word>
  <word id="a01-000u-01-02" tag="NP" text="Gaitskell"><cmp x="100" y="68" width="80" height="24"/></word>
  <word id="a01-000u-01-03" tag="." text="."/>
</line>
</handwritten-part></form>
"""
# Single-escaped entity (&amp; -> &).
FORM_B = """<?xml version="1.0" encoding="ISO-8859-1"?>
<form height="100" id="b02-001" writer-id="001" width="400">
<handwritten-part>
<line id="b02-001-00" text="Tom &amp; Jerry">
  <word id="b02-001-00-00" text="Tom"><cmp x="100" y="40" width="50" height="20"/></word>
  <word id="b02-001-00-01" text="&amp;"><cmp x="160" y="40" width="10" height="20"/></word>
  <word id="b02-001-00-02" text="Jerry"><cmp x="180" y="40" width="60" height="30"/></word>
</line></handwritten-part></form>
"""
FORM_C = """<?xml version="1.0" encoding="ISO-8859-1"?>
<form height="100" id="c03-002" writer-id="002" width="100">
<handwritten-part><line id="c03-002-00" text="hi">
  <word id="c03-002-00-00" text="hi"><cmp x="10" y="10" width="20" height="10"/></word>
</line></handwritten-part></form>
"""


def _png(path, height, width, value=250):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(path, np.full((height, width), value, np.uint8))


@pytest.fixture
def iam_root(tmp_path):
    root = tmp_path / "iam"
    for name, xml, (h, w) in [("a01-000u", FORM_A, (300, 200)), ("b02-001", FORM_B, (100, 400)),
                              ("c03-002", FORM_C, (100, 100))]:
        (root / "xml").mkdir(parents=True, exist_ok=True)
        (root / "xml" / (name + ".xml")).write_text(xml, encoding="latin-1")
        _png(str(root / "forms" / (name + ".png")), h, w)
        form = parse_form_xml(str(root / "xml" / (name + ".xml")))
        prefix = name.split("-")[0]
        for line in form.lines:
            _png(str(root / "lines" / prefix / name / (line.id + ".png")), 30, 120)
            for word in line.words:
                _png(str(root / "words" / prefix / name / (word.id + ".png")), 20, 40)
    (root / "trainset.txt").write_text("a01-000u-00\na01-000u-01\n")
    (root / "validationset1.txt").write_text("c03-002-00\n")
    (root / "validationset2.txt").write_text("")
    (root / "testset.txt").write_text("b02-001-00\n")
    return str(root)


def test_parse_form_xml_text_and_boxes(iam_root):
    form = parse_form_xml(os.path.join(iam_root, "xml", "a01-000u.xml"))
    assert [line.text for line in form.lines] == ['A "MOVE" to', "stop Mr. Gaitskell ."]
    assert form.lines[0].words[1].text == '"MOVE"'
    assert form.lines[0].words[1].box_px == (40, 28, 40, 25)        # union of two cmps
    assert form.lines[0].box_px == (20, 28, 85, 25)
    assert form.lines[1].box_px == (22, 68, 158, 24)                 # the cmp-less "." is ignored
    assert form.lines[1].words[3].box_px is None
    assert form.box_px == (20, 28, 160, 64)
    assert parse_form_xml(os.path.join(iam_root, "xml", "b02-001.xml")).lines[0].text == "Tom & Jerry"


def test_split_lists_keep_first_id(iam_root, tmp_path):
    assert read_split_list(os.path.join(iam_root, "trainset.txt")) == ["a01-000u-00", "a01-000u-01"]
    train = IAMDataset(iam_root, "line", train=True)
    assert [train.item_id(i) for i in range(len(train))] == ["a01-000u-00", "a01-000u-01", "c03-002-00"]
    assert len(IAMDataset(iam_root, "line", split="trainset")) == 2
    assert len(IAMDataset(iam_root, "line", split="validation")) == 1
    test = IAMDataset(iam_root, "line", train=False)
    assert [test[i][1] for i in range(len(test))] == ["Tom & Jerry"]
    assert train.split_counts() == {"forms": 2, "lines": 3, "words": 8}


def test_line_and_word_items(iam_root):
    image, text = IAMDataset(iam_root, "line")[0]
    assert image.shape == LINE_SIZE and image.dtype == np.uint8 and text == 'A "MOVE" to'
    words = IAMDataset(iam_root, "word")
    assert len(words) == 7                                            # the cmp-less "." has no image
    image, text = words[1]
    assert image.shape == WORD_SIZE and text == '"MOVE"'


def test_form_text_and_boxes(iam_root):
    image, text = IAMDataset(iam_root, "form")[0]
    assert image.shape == FORM_SIZE and text == 'A "MOVE" to\nstop Mr. Gaitskell .'
    _, boxes = IAMDataset(iam_root, "form", output_data="bb", output_parse_method="line")[0]
    # 300x200 page -> scale 1120/300: 747 px wide, left padding (800 - 747) // 2 = 26 px.
    expected = [[20 / 200 * 747 / 800 + 26 / 800, 28 / 300, 85 / 200 * 747 / 800, 25 / 300],
                [22 / 200 * 747 / 800 + 26 / 800, 68 / 300, 158 / 200 * 747 / 800, 24 / 300]]
    np.testing.assert_allclose(boxes, expected, atol=1e-6)
    _, original = IAMDataset(iam_root, "form_original", output_data="bb", output_parse_method="word")[0]
    assert original.shape == (6, 4)
    np.testing.assert_allclose(original[0], [20 / 200, 30 / 300, 10 / 200, 20 / 300], atol=1e-6)


def test_form_bb_crop_and_boxes(iam_root):
    image, boxes = IAMDataset(iam_root, "form_bb", output_data="bb", output_parse_method="line")[0]
    assert image.shape == REGION_SIZE
    # block (20, 28, 160, 64) px grown 5% about its centre -> corners (16, 26.4, 184, 93.6) -> crop x 16..184,
    # y 26..94 (168 x 68 px); fitted into 700x700: scale 700/168, height round(68 * 700/168) = 283, top 208.
    sy, top = 283 / 700 / 68, 208 / 700
    expected = [[(20 - 16) / 168, (28 - 26) * sy + top, 85 / 168, 25 * sy],
                [(22 - 16) / 168, (68 - 26) * sy + top, 158 / 168, 24 * sy]]
    np.testing.assert_allclose(boxes, expected, atol=1e-6)


def test_form_bb_skips_forms_without_boxes(iam_root):
    xml = os.path.join(iam_root, "xml", "a01-000u.xml")
    with open(xml, encoding="latin-1") as f:
        text = f.read()
    with open(xml, "w", encoding="latin-1") as f:
        f.write(re.sub(r"<cmp[^>]*/>", "", text))
    assert len(IAMDataset(iam_root, "form", split="trainset")) == 1
    assert len(IAMDataset(iam_root, "form_bb", split="trainset")) == 0


def test_cache_gives_same_items(iam_root, tmp_path):
    first = IAMDataset(iam_root, "form_bb", cache_dir=str(tmp_path / "cache"))[0][0]
    second = IAMDataset(iam_root, "form_bb", cache_dir=str(tmp_path / "cache"))[0][0]
    assert os.path.exists(tmp_path / "cache" / "index.json")
    np.testing.assert_array_equal(first, second)


def test_regenerated_tree_is_not_served_stale_images(iam_root, tmp_path):
    cache = str(tmp_path / "cache")
    assert IAMDataset(iam_root, "line", cache_dir=cache)[0][0].min() == 250
    line_png = os.path.join(iam_root, "lines", "a01", "a01-000u", "a01-000u-00.png")
    _png(line_png, 30, 120, value=100)                                 # the tree is regenerated: new images
    xml = os.path.join(iam_root, "xml", "a01-000u.xml")                # ... and new xml
    os.utime(xml, ns=(os.stat(xml).st_atime_ns, os.stat(xml).st_mtime_ns + 10**9))
    assert IAMDataset(iam_root, "line", cache_dir=cache)[0][0].min() == 100


def test_missing_tree_says_what_to_put_where(tmp_path):
    with pytest.raises(IAMNotFoundError, match="put the xml files in .*/xml/"):
        IAMDataset(str(tmp_path), "line")


def test_bad_arguments(iam_root):
    with pytest.raises(ValueError):
        IAMDataset(iam_root, "paragraph")
    with pytest.raises(ValueError):
        IAMDataset(iam_root, "line", output_data="bb", output_parse_method="word")
