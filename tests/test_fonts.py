"""Pinned handwriting fonts: installed, covering the alphabet, writer-disjoint splits with both classes."""
import os

import pytest

from ocr.data import fonts
from tests.conftest import require


def test_pinned_list_is_well_formed():
    pinned = fonts.pinned_fonts()
    names = [f["name"] for f in pinned]
    assert len(names) == len(set(names))
    assert len(pinned) >= 60
    group_split = {}
    for f in pinned:   # a design group never straddles two splits
        assert group_split.setdefault(f["group"], f["split"]) == f["split"], f["group"]
    for split in fonts.SPLITS:
        for cls in fonts.CLASSES:
            assert any(f["split"] == split and f["class"] == cls for f in pinned), (split, cls)


@pytest.fixture(scope="module")
def usable():
    require(os.path.exists(fonts.MANIFEST), "fonts not installed: run `python -m ocr.data.fonts install` (make data)")
    fonts.install(verbose=False)   # idempotent, fast when present
    return fonts.list_fonts()


def test_at_least_60_usable_fonts(usable):
    assert len(usable) >= 60
    for f in usable:
        assert os.path.exists(f["path"]) and f["class"] in fonts.CLASSES


def test_every_usable_font_covers_the_alphabet(usable):
    for f in usable:
        covered, reason = fonts.check_coverage(f["path"])
        assert covered, (f["name"], reason)


def test_splits_are_writer_disjoint_with_both_classes(usable):
    by_split = {s: {f["name"] for f in usable if f["split"] == s} for s in fonts.SPLITS}
    assert not by_split["train"] & by_split["validation"]
    assert not by_split["train"] & by_split["test"]
    assert not by_split["validation"] & by_split["test"]
    for s in fonts.SPLITS:
        assert {f["class"] for f in usable if f["split"] == s} == set(fonts.CLASSES)
    n = len(usable)
    assert 0.6 * n <= len(by_split["train"]) <= 0.85 * n


def test_coverage_check_rejects_a_font_missing_glyphs():
    # a file that is not a font is rejected; a machine-print font (DejaVu) covers the alphabet
    covered, reason = fonts.check_coverage(os.devnull)
    assert not covered and reason
    printed = [p for p in fonts.printed_fonts() if os.path.exists(p["path"])] if os.path.exists(fonts.MANIFEST) else []
    if printed:
        assert fonts.check_coverage(printed[0]["path"])[0]
