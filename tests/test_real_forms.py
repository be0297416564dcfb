"""utils/make_real_forms.py: IAM-style pages built from the real handwriting images of ../shared/testdata/real_visible
(page count, ground-truth lines, the handwritten-block box, the overwrite guard)."""
import json
import os

import cv2
import numpy as np

from ocr.data import fonts
from ocr.evaluate import folder_samples
from tests.conftest import require, utils_script


def _script():
    """utils/make_real_forms.py imported as a module."""
    return utils_script("make_real_forms")


def _rules(page):
    """Rows (y) of the two printed rules: the first and last runs of rows more than half dark."""
    rows = np.nonzero((page < 128).mean(axis=1) > 0.5)[0]
    assert len(rows) >= 2
    return int(rows.min()), int(rows.max())


def test_real_forms_pages_text_and_boxes(tmp_path, capsys):
    forms = _script()
    require(os.path.isdir(forms.REAL_DIR), "real handwriting images missing: %s" % forms.REAL_DIR)
    require(os.path.exists(fonts.MANIFEST), "fonts not installed: run `make data`")
    real = {name: lines for name, _, lines, _ in forms.load_real(forms.REAL_DIR)}
    out = str(tmp_path / "forms")
    assert forms.main(["--out", out, "--pages", "4", "--seed", "0"]) == 0

    ids = sorted(n[:-len(".png")] for n in os.listdir(out) if n.endswith(".png"))
    assert ids == ["r01-000", "r01-001", "r01-002", "r01-003"]
    used, n_lines = set(), []
    for page_id in ids:
        page = cv2.imread(os.path.join(out, page_id + ".png"), cv2.IMREAD_UNCHANGED)
        assert page.dtype == np.uint8 and page.shape == (forms.PAGE_H, forms.PAGE_W)
        with open(os.path.join(out, page_id + ".box.json"), encoding="utf-8") as f:
            meta = json.load(f)
        images = meta["images"]
        assert 2 <= len(images) <= 5
        used.update(images)
        gt = forms.read_gt(os.path.join(out, page_id + ".gt.txt"))
        assert gt == [line for name in images for line in real[name]]
        n_lines.append(len(gt))

        x, y, w, h = meta["box"]
        assert 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= page.shape[1] and y + h <= page.shape[0]
        top, bottom = _rules(page)
        assert top < y and y + h < bottom
        ys, xs = np.nonzero(page[top + 3:bottom - 3] < forms.INK_THRESHOLD)
        ys += top + 3
        assert len(ys) and xs.min() >= x and xs.max() < x + w and ys.min() >= y and ys.max() < y + h
    assert used == set(real)                          # every real image on some page

    samples = folder_samples(out, "page")             # what python -m ocr.evaluate --folder reads
    assert [s.id for s in samples] == [i + ".png" for i in ids]
    assert [len(s.load()[1]) for s in samples] == n_lines

    capsys.readouterr()
    assert forms.main(["--out", out]) == 2            # non-empty folder without --overwrite
    assert "error:" in capsys.readouterr().err
    assert forms.main(["--out", out, "--overwrite"]) == 0
