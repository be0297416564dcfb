"""Synthetic IAM-format tree: layout, xml, boxes, determinism, writer-disjoint splits, CLI errors."""
import os

import cv2
import numpy as np
import pytest
from lxml import etree

from ocr.data import fonts, synthetic
from tests.conftest import require


@pytest.fixture(autouse=True)
def _fonts_installed():
    require(os.path.exists(fonts.MANIFEST), "fonts not installed: run `make data`")


N_FORMS = 4


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("syn") / "a")
    forms = synthetic.generate(out, N_FORMS, seed=3, workers=1, progress=False)
    return out, forms


def _cmps(el):
    return [tuple(int(c.get(k)) for k in ("x", "y", "width", "height")) for c in el.iter("cmp")]


def test_layout_and_ids(tree):
    out, forms = tree
    assert sorted(os.listdir(os.path.join(out, "ascii"))) == ["forms.txt", "lines.txt", "sentences.txt", "words.txt"]
    split_ids = {}
    for name in ("trainset.txt", "validationset1.txt", "validationset2.txt", "testset.txt"):
        with open(os.path.join(out, name)) as f:
            split_ids[name] = f.read().split()
    all_split_lines = sum(split_ids.values(), [])
    assert len(all_split_lines) == len(set(all_split_lines))
    n_lines = 0
    for form in forms:
        fid = form["id"]
        assert len(fid) == 7 and fid[0].isalpha() and fid[3] == "-"
        folder = fid.split("-")[0]
        assert os.path.exists(os.path.join(out, "forms", fid + ".png"))
        root = etree.parse(os.path.join(out, "xml", fid + ".xml")).getroot()
        assert root.tag == "form" and root.get("id") == fid and root.get("writer-id")
        assert root.find("machine-printed-part") is not None
        lines = root.findall("handwritten-part/line")
        assert synthetic.MIN_LINES - 2 <= len(lines) <= synthetic.MAX_LINES
        for li, line in enumerate(lines):
            lid = line.get("id")
            assert lid == "%s-%02d" % (fid, li)
            assert os.path.exists(os.path.join(out, "lines", folder, fid, lid + ".png"))
            assert lid in all_split_lines
            words = line.findall("word")
            assert " ".join(w.get("text") for w in words) == line.get("text")
            for wi, word in enumerate(words):
                assert word.get("id") == "%s-%02d" % (lid, wi)
                path = os.path.join(out, "words", folder, fid, word.get("id") + ".png")
                img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
                assert img is not None and img.size > 0
            n_lines += 1
    assert n_lines == len(all_split_lines)
    with open(os.path.join(out, "ascii", "lines.txt")) as f:
        rows = [r for r in f if not r.startswith("#")]
    assert len(rows) == n_lines


def test_boxes_inside_page_and_on_ink(tree):
    out, forms = tree
    for form in forms:
        fid = form["id"]
        page = cv2.imread(os.path.join(out, "forms", fid + ".png"), cv2.IMREAD_GRAYSCALE)
        root = etree.parse(os.path.join(out, "xml", fid + ".xml")).getroot()
        H, W = page.shape
        assert (int(root.get("height")), int(root.get("width"))) == (H, W)
        paper = np.median(page)
        for word in root.iter("word"):
            cmps = _cmps(word)
            assert cmps, word.get("id")
            for x, y, w, h in cmps:
                assert 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= W and y + h <= H
            x1 = min(c[0] for c in cmps)
            y1 = min(c[1] for c in cmps)
            x2 = max(c[0] + c[2] for c in cmps)
            y2 = max(c[1] + c[3] for c in cmps)
            crop = page[y1:y2, x1:x2].astype(float)
            assert crop.min() < paper - 40, "no ink in the box of %s" % word.get("id")


def test_same_seed_same_bytes(tree, tmp_path):
    out, forms = tree
    out2 = str(tmp_path / "b")
    synthetic.generate(out2, N_FORMS, seed=3, workers=2, progress=False)   # 2 workers: same result
    for form in forms:
        for sub, ext in (("xml", ".xml"), ("forms", ".png")):
            with open(os.path.join(out, sub, form["id"] + ext), "rb") as a, \
                    open(os.path.join(out2, sub, form["id"] + ext), "rb") as b:
                assert a.read() == b.read(), (sub, form["id"])
    for name in ("ascii/lines.txt", "trainset.txt", "testset.txt"):
        with open(os.path.join(out, name), "rb") as a, open(os.path.join(out2, name), "rb") as b:
            assert a.read() == b.read()


def test_writer_disjoint_splits():
    plan = synthetic.make_plan(60, seed=5)
    by_split = {s: {p["font"]["name"] for p in plan if p["split"] == s} for s in synthetic.SPLITS}
    assert by_split["train"] and by_split["validation"] and by_split["test"]
    assert not by_split["train"] & by_split["validation"]
    assert not by_split["train"] & by_split["test"]
    assert not by_split["validation"] & by_split["test"]
    writers = {s: {p["writer_id"] for p in plan if p["split"] == s} for s in synthetic.SPLITS}
    assert not writers["train"] & (writers["validation"] | writers["test"])
    tasks = {p["task"] for p in plan if p["split"] == "validation"}
    assert tasks == {"validation1", "validation2"}
    counts = {s: sum(p["split"] == s for p in plan) for s in synthetic.SPLITS}
    assert counts == {"train": 45, "validation": 7, "test": 8}


def test_validation_groups_in_train():
    plan = synthetic.make_plan(300, seed=5)
    moved = synthetic.make_plan(300, seed=5, validation_groups_in_train=True)
    groups = {s: {p["font"]["group"] for p in moved if p["split"] == s} for s in synthetic.SPLITS}
    default_val = {p["font"]["group"] for p in plan if p["split"] == "validation"}
    assert groups["validation"] and groups["train"] & default_val
    assert not groups["train"] & groups["validation"]
    assert not (groups["train"] | groups["validation"]) & groups["test"]
    assert groups["validation"] | (groups["train"] & default_val) == default_val
    writers = {s: {p["writer_id"] for p in moved if p["split"] == s} for s in synthetic.SPLITS}
    assert not writers["train"] & (writers["validation"] | writers["test"])
    assert [p["split"] for p in moved] == [p["split"] for p in plan]
    assert [p["writer_id"] for p in moved if p["split"] == "test"] == \
        [p["writer_id"] for p in plan if p["split"] == "test"]


def test_form_ids():
    assert synthetic.form_id(0) == "s01-000"
    assert synthetic.form_id(101) == "s02-001"


def test_cli_errors(tmp_path, capsys):
    (tmp_path / "x").write_text("keep me")
    assert synthetic.main(["--out", str(tmp_path), "--forms", "1", "--seed", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
    assert (tmp_path / "x").read_text() == "keep me"
    assert synthetic.main(["--out", str(tmp_path / "n"), "--forms", "zero"]) == 2
    assert synthetic.main(["--out", str(tmp_path / "n"), "--forms", "1", "--split-fractions", "1,2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(e.startswith("error:") for e in err)


def test_draw_form_boxes(tree, tmp_path):
    out, forms = tree
    fid = forms[0]["id"]
    img = synthetic.draw_form_boxes(os.path.join(out, "forms", fid + ".png"), os.path.join(out, "xml", fid + ".xml"),
                                    str(tmp_path / "boxes.png"))
    assert img.ndim == 3 and os.path.exists(tmp_path / "boxes.png")
