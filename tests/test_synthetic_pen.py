"""Synthetic forms written by IAM-OnDB hands (ocr.data.pen_forms): boxes on the ink, texts, splits, determinism."""
import os

import cv2
import numpy as np
import pytest
from lxml import etree

from ocr.data import fonts, synthetic
from ocr.data.iamondb import load_iamondb
from ocr.data.pen_forms import assign_pen_forms, pen_forms_by_split
from tests.conftest import require
from tests.test_iamondb import write_form

FORMS = ["a01-00%du" % k for k in range(6)]
FRACTIONS = (0.34, 0.33, 0.33)      # 6 one-form sessions of 3 lines: 3 train, 2 validation, 1 test forms


def csr_lines(form: int) -> list:
    """Three lines of five distinct words for fixture form ``form``."""
    return [" ".join("w%dl%dk%d" % (form, line, k) for k in range(5)) for line in range(3)]


@pytest.fixture(scope="module")
def pools(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("ondb") / "iamondb")
    for k, form_id in enumerate(FORMS):
        write_form(root, form_id, csr_lines(k), t0=10000.0 * k)       # one session per form
    lines = load_iamondb(root, exclude_forms=frozenset(), log=lambda m: None)
    return pen_forms_by_split(lines, FRACTIONS)


@pytest.fixture(scope="module")
def tree(pools, tmp_path_factory):
    require(os.path.exists(fonts.MANIFEST), "fonts not installed: run `make data`")
    out = str(tmp_path_factory.mktemp("synpen") / "t")
    forms = synthetic.generate(out, 3, seed=5, workers=1, progress=False, pen_forms=pools, pen_share=1.0)
    return out, forms


def test_fixture_pools_cover_every_split(pools):
    assert {role: len(forms) for role, forms in pools.items()} == {"train": 3, "validation": 2, "test": 1}
    assert all(len(form.words) == 15 for forms in pools.values() for form in forms)


def test_pen_forms_take_iamondb_forms_of_their_own_split_and_their_words(tree, pools):
    out, forms = tree
    role_of = {form.form_id: role for role, part in pools.items() for form in part}
    assert {form["split"] for form in forms} == {"train", "validation", "test"}
    for form in forms:
        assert form["source"] == "iamondb" and form["writer_id"].startswith("o")
        sources = form["iamondb_form"].split("+")
        assert all(role_of[source] == form["split"] for source in sources)
        expected = [w for source in sources for line in csr_lines(FORMS.index(source)) for w in line.split()]
        written = [word["text"] for line in form["lines"] for word in line["words"]]
        assert written == expected
        root = etree.parse(os.path.join(out, "xml", form["id"] + ".xml")).getroot()
        assert root.get("source") == "iamondb:" + form["iamondb_form"]
        assert [w.get("text") for w in root.iter("word")] == expected


def test_word_and_line_boxes_lie_on_dark_ink(tree):
    out, forms = tree
    for form in forms:
        page = cv2.imread(os.path.join(out, "forms", form["id"] + ".png"), cv2.IMREAD_GRAYSCALE)
        paper = float(np.median(page))
        for line in form["lines"]:
            x, y, w, h = line["box"]
            assert w > 3 * h > 0                                      # five words side by side
            for word in line["words"]:
                for cx, cy, cw, ch in word["cmps"]:
                    assert x <= cx and y <= cy and cx + cw <= x + w and cy + ch <= y + h
                bx, by, bw, bh = word["box"]
                crop = page[by:by + bh, bx:bx + bw]
                assert crop.min() < min(line["threshold"], paper - 60)   # ink inside the box
                assert (crop < paper - 30).mean() > 0.05


def test_same_seed_renders_the_same_form(tree, pools):
    out, forms = tree
    plan = assign_pen_forms(synthetic.make_plan(3, 5), pools, 1.0, 5)
    page, form = synthetic.render_form(plan[1])
    written = cv2.imread(os.path.join(out, "forms", form["id"] + ".png"), cv2.IMREAD_GRAYSCALE)
    assert np.array_equal(page, written)
    assert form["lines"][0]["words"][0]["cmps"] == forms[1]["lines"][0]["words"][0]["cmps"]


def test_font_forms_of_a_mixed_plan_are_unchanged(pools):
    require(os.path.exists(fonts.MANIFEST), "fonts not installed: run `make data`")
    plan = synthetic.make_plan(20, 7)
    mixed = assign_pen_forms(plan, pools, 0.5, 7)
    pens = [item for item in mixed if "pen" in item]
    assert 0 < len(pens) < 20
    assert [item for item in mixed if "pen" not in item] == [p for p, m in zip(plan, mixed) if "pen" not in m]
    assert mixed == assign_pen_forms(plan, pools, 0.5, 7)


def test_cli_rejects_bad_pen_options(tmp_path, capsys):
    out = str(tmp_path / "t")
    assert synthetic.main(["--out", out, "--forms", "2", "--iamondb", str(tmp_path / "none")]) == 2
    assert synthetic.main(["--out", out, "--forms", "2", "--pen-share", "0.5"]) == 2
    assert synthetic.main(["--out", out, "--forms", "2", "--iamondb", str(tmp_path), "--pen-share", "2"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(e.startswith("error: ") for e in errors)
    assert not os.path.exists(out)
