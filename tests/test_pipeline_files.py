"""python -m ocr.pipeline and its files: --out checked first, any file name, all-or-nothing pages, resume, outputs
never read back, multi-page TIFF, formats named when skipped; the boxed PNG's panel text size."""
import json
import os

import numpy as np
import pytest
from lxml import etree
from PIL import Image

from ocr.pipeline import page_files
from ocr.pipeline.outputs import draw_result
from ocr.pipeline.results import Line, PageResult, Region
from tests.test_pipeline import fake_page, run_cli, save, write_models

FAST = ("--decoder", "greedy", "--level", "region")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return write_models(tmp_path_factory.mktemp("models"), stages=("detector", "recognizer"))


def listing(folder):
    return sorted(os.listdir(folder))


def test_unusable_out_is_one_line_exit_2_before_any_work(tmp_path, capsys):
    image = save(tmp_path / "scan.png", fake_page())
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    # no models at all: had any work started, the error would be about them
    for out in (a_file, a_file / "sub"):
        status, printed, err = run_cli(capsys, image, "--out", out, "--models", tmp_path / "none")
        assert status == 2 and printed == "" and len(err) == 1, err
        assert err[0].startswith("error: --out %s" % out) and ".tmp" not in err[0] and "probe" not in err[0]
    assert a_file.read_text() == "mine"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_out_is_one_line_exit_2(tmp_path, capsys):
    image = save(tmp_path / "scan.png", fake_page())
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    status, _, err = run_cli(capsys, image, "--out", out, "--models", tmp_path / "none")
    assert status == 2 and len(err) == 1 and "cannot write there" in err[0]


def test_safe_name_keeps_ordinary_names_and_escapes_the_rest():
    assert page_files.safe_name("Brief an Öma 2.png") == "Brief an Öma 2.png"
    assert page_files.safe_name(os.fsdecode(b"caf\xe9\x01.png")) == "caf%E9%01.png"


def test_file_name_that_is_not_utf8(models, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    raw = os.path.join(os.fsencode(str(folder)), b"caf\xe9 n\xf8 1.png")
    Image.fromarray(fake_page()).save(os.fsdecode(raw))
    out = tmp_path / "out"
    status, printed, err = run_cli(capsys, folder, "--out", out, "--format", "page-xml", "--models", models, *FAST)
    assert status == 0 and err == []
    assert listing(out) == ["caf%E9 n%F8 1" + s for s in (".json", ".txt", ".xml", "_boxed.png")]
    doc = json.loads((out / "caf%E9 n%F8 1.json").read_bytes().decode("utf-8"))
    assert doc["file"] == "caf%E9 n%F8 1.png"
    etree.fromstring((out / "caf%E9 n%F8 1.xml").read_bytes())
    printed.encode("utf-8")                                          # what stdout gets is valid UTF-8
    status, printed, err = run_cli(capsys, os.fsdecode(raw), "--format", "json", "--models", models, *FAST)
    assert status == 0 and err == []
    assert json.loads(printed.encode("utf-8"))["file"].endswith("caf%E9 n%F8 1.png")


def _pages(folder, names):
    folder.mkdir(exist_ok=True)
    return [save(folder / name, fake_page(seed=i)) for i, name in enumerate(names)]


def test_killed_run_leaves_no_half_page_and_a_rerun_finishes_it(models, tmp_path, capsys, monkeypatch):
    _pages(tmp_path / "in", ["a.png", "b.png", "c.png"])
    out = tmp_path / "out"
    renames, real_replace = [], os.replace

    def dying_replace(src, dst):                                     # the process dies on the 6th rename:
        if len(renames) == 5:                                        # page b has 2 of its 3 files in place
            raise KeyboardInterrupt
        renames.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(page_files.os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        run_cli(capsys, tmp_path / "in", "--out", out, "--models", models, *FAST)
    monkeypatch.setattr(page_files.os, "replace", real_replace)
    capsys.readouterr()
    assert "b.json" not in listing(out) and "b.txt" in listing(out)      # b unfinished: no completion marker
    assert page_files.page_state(page_files.output_files(str(out), "a", "text")) == "done"
    assert page_files.page_state(page_files.output_files(str(out), "b", "text")) == "unfinished"
    a_before = {n: (out / n).read_bytes() for n in listing(out) if n.startswith("a")}

    status, printed, err = run_cli(capsys, tmp_path / "in", "--out", out, "--models", models, *FAST)
    assert status == 0 and err == ["1 page already done in %s: skipped (--overwrite redoes them)" % out]
    assert "==> %s <==" % (tmp_path / "in" / "a.png") not in printed and "b.png <==" in printed
    assert listing(out) == sorted(p + s for p in "abc" for s in (".json", ".txt", "_boxed.png"))
    assert a_before == {n: (out / n).read_bytes() for n in listing(out) if n.startswith("a")}
    for page in "abc":
        doc = json.loads((out / (page + ".json")).read_text())
        assert sorted(doc["outputs"]) == sorted(page + s for s in (".json", ".txt", "_boxed.png"))
    # a new format needs the XML: the done pages are redone, not skipped
    status, _, err = run_cli(capsys, tmp_path / "in", "--out", out, "--format", "alto", "--models", models, *FAST)
    assert status == 0 and err == [] and {"a.xml", "b.xml", "c.xml"} <= set(listing(out))


def test_files_that_are_not_ours_are_kept(models, tmp_path, capsys):
    image = _pages(tmp_path, ["scan.png"])[0]
    out = tmp_path / "out"
    out.mkdir()
    (out / "scan.txt").write_text("my own notes")
    status, _, err = run_cli(capsys, image, "--out", out, "--models", models, *FAST)
    assert status == 1 and len(err) == 1 and "scan.txt already exists" in err[0] and "--overwrite" in err[0]
    assert listing(out) == ["scan.txt"] and (out / "scan.txt").read_text() == "my own notes"
    status, _, err = run_cli(capsys, image, "--out", out, "--models", models, "--overwrite", *FAST)
    assert status == 0 and err == [] and len(listing(out)) == 3


def test_out_in_the_input_folder_never_reads_its_outputs(models, tmp_path, capsys):
    folder = tmp_path / "scans"
    _pages(folder, ["one.png", "two.png"])
    for run in range(2):
        status, printed, err = run_cli(capsys, folder, "--out", folder, "--models", models, *FAST)
        assert status == 0
        assert "_boxed" not in printed and not any("_boxed" in line for line in err)
    assert not [n for n in listing(folder) if "_boxed_boxed" in n]
    assert err == ["2 pages already done in %s: skipped (--overwrite redoes them)" % folder]
    assert page_files.is_output(str(folder / "one_boxed.png")) and not page_files.is_output(str(folder / "one.png"))


def test_every_page_of_a_multipage_tiff(models, tmp_path, capsys):
    frames = [Image.fromarray(fake_page(seed=i)) for i in range(3)]
    path = tmp_path / "letter.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    out = tmp_path / "out"
    status, printed, err = run_cli(capsys, path, "--out", out, "--models", models, *FAST)
    assert status == 0 and err == []
    assert {"letter.json", "letter_p2.json", "letter_p3.json"} <= set(listing(out))
    assert [json.loads((out / n).read_text())["page"] for n in ("letter.json", "letter_p2.json", "letter_p3.json")] \
        == [1, 2, 3]
    assert printed.count("==> %s (page" % path) == 3


def test_gif_and_webp_are_read_and_unread_formats_named_in_one_warning(models, tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    save(folder / "a.gif", fake_page())
    save(folder / "b.webp", fake_page(seed=1), lossless=True)
    (folder / "c.heic").write_bytes(b"\0" * 64)
    (folder / "d.pdf").write_bytes(b"%PDF-1.4")
    (folder / "notes.txt").write_text("not an image")
    status, printed, err = run_cli(capsys, folder, "--models", models, *FAST)
    assert status == 0 and len(err) == 1, err
    assert err[0].startswith("warning: %s: skipped 2 files" % folder) and "HEIC, PDF" in err[0]
    assert "notes.txt" not in err[0]
    assert "a.gif <==" in printed and "b.webp <==" in printed


def _text_bands(panel):
    """(top, bottom) row ranges of the panel holding text pixels."""
    rows = (panel.min(axis=(1, 2)) < 128).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], rows, [0]])))
    return list(zip(edges[::2], edges[1::2]))


def test_boxed_panel_text_reads_at_100_percent_on_a_scan():
    height, width = 3500, 2480
    page = np.full((height, width), 240, np.uint8)
    boxes = [(200, 400 + 110 * i, 2000, 90) for i in range(20)]
    boxes[5] = (200, 950, 900, 90)                        # a line split in two: two boxes at the same height
    boxes[6] = (1200, 955, 900, 90)
    lines = [Line("line number %d of the letter" % i, box, 0.9) for i, box in enumerate(boxes)]
    region = Region((150, 350, 2200, 2400), lines)
    drawn = draw_result(page, PageResult(width, height, "region", "greedy", [region]))
    assert drawn.shape[1] == 2 * width and drawn.shape[0] >= height
    bands = _text_bands(drawn[:, width:])
    assert len(bands) == len(lines)                       # one band per line: none overlaps another
    assert min(b - a for a, b in bands) >= 28             # about 1/120 of the page or more: legible at 100%
