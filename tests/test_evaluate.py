"""trn files, sclite agreement (when sclite is installed) and the ``python -m ocr.evaluate`` CLI with a fake
transcriber (the recogniser and pipeline are not needed)."""
import os

import numpy as np
import pytest
from PIL import Image

import ocr.evaluate as evaluate
from ocr.core.alphabet import ALPHABET
from ocr.core.card import InputSpec, ModelCard, write_card
from ocr.core.images import read_image
from ocr.data import fonts
from ocr.metrics import ItemScore, Summary, score_item
from ocr.sclite import Utterance, find_sclite, format_alignment_report, score_trn_pair, trn_line, write_trn_pair
from tests.conftest import require


def test_trn_format_exact_text(tmp_path):
    utterances = [Utterance("spk1_1", "a", "the  bat\tsat", "the cat sat"),
                  Utterance("spk1_2", "a", "", "x; {y} *z* @w \\v"),
                  Utterance("spk2_1", "b", "(so) he said", "so he said")]
    hyp, ref = write_trn_pair(str(tmp_path / "t"), utterances)
    with open(hyp, encoding="utf-8") as f:
        assert f.read() == "the bat sat (spk1_1)\n(spk1_2)\n(so) he said (spk2_1)\n"
    with open(ref, encoding="utf-8") as f:
        assert f.read() == ("the cat sat (spk1_1)\n"
                            "x\uff1b \uff5by\uff5d \uff0az\uff0a \uff20w \uff3cv (spk1_2)\n"
                            "so he said (spk2_1)\n")
    assert trn_line("", "spk9_9") == "(spk9_9)"


def test_alignment_report_marks_errors():
    report = format_alignment_report([Utterance("spk1_1", "line-a", "the bat sat down", "the cat sat")])
    assert "id: (spk1_1)  item: line-a" in report
    assert "REF:  the cat sat ****\nHYP:  the bat sat down\nEval:     S       I" in report
    assert "Scores words: 2 1 0 1" in report


def test_sclite_agrees_with_ours(tmp_path):
    require(find_sclite() is not None, "sclite not installed (python -m ocr.sclite install)")
    pairs = [("the bat sat down", "the cat sat"), ("helo world", "hello world"),
             ("Mr; {Brown} *said*", "Mr; {Brown} said"), ("", ""), ("Some Case", "some case")]
    utterances = [Utterance("spk%d_1" % (i + 1), str(i), h, r) for i, (h, r) in enumerate(pairs)]
    figures = score_trn_pair(*write_trn_pair(str(tmp_path / "t"), utterances))
    ours = Summary.of(score_item(h, r) for h, r in pairs)
    total = sum((score_item(h, r) for h, r in pairs), ItemScore())
    assert figures["chars"].mean.err == pytest.approx(100 * ours.cer_mean, abs=0.051)
    assert figures["words"].mean.err == pytest.approx(100 * ours.wer_mean, abs=0.051)
    assert figures["chars"].sum.err == pytest.approx(100 * total.char_errors_nospace / total.chars_nospace, abs=0.051)
    assert figures["words"].sum.err == pytest.approx(100 * ours.wer, abs=0.051)


def _folder(tmp_path, gts):
    """Images of distinct widths (the fake transcriber tells them apart by width) with .gt.txt files."""
    folder = tmp_path / "data"
    folder.mkdir()
    for k, (name, text) in enumerate(gts.items()):
        Image.fromarray(np.full((20, 30 + k, 3), 255, np.uint8)).save(folder / (name + ".png"))
        (folder / (name + ".gt.txt")).write_text(text, encoding="utf-8")
    return folder


def _fake(outputs_by_width):
    def make_transcriber(level, decoders, model=None, batch_size=16, lm="default", engine="mxnet", widths=False):
        return lambda images: [{d: outputs_by_width[d][image.shape[1]] for d in decoders} for image in images]
    return make_transcriber


def _row(table, decoder, scoring):
    row = next(line.split() for line in table.splitlines() if line.split()[:2] == [decoder, scoring])
    return [float(v) for v in row[2:6]]


def test_cli_line_level(tmp_path, monkeypatch, capsys):
    folder = _folder(tmp_path, {"a": "the cat\n", "b": "hello\nworld\n"})   # b: two lines -> "hello world"
    monkeypatch.setattr(evaluate, "make_transcriber", _fake({"greedy": {30: "the bat", 31: "helo world"},
                                                             "beam": {30: "the cat", 31: "hello world"}}))
    out = tmp_path / "out"
    args = ["--folder", str(folder), "--decoder", "greedy", "beam", "--out", str(out), "--no-progress"]
    assert evaluate.main(args) == 0
    table = capsys.readouterr().out
    # greedy: pooled CER (1 + 1) / (7 + 11) = 11.11 %, WER 2/4 = 50 %; mean CER (1/6 + 1/10) / 2 = 13.33 %.
    assert _row(table, "greedy", "lines") == [11.11, 50.0, 13.33, 50.0]
    assert _row(table, "beam", "lines") == [0.0, 0.0, 0.0, 0.0]
    with open(out / "greedy.lines.hyp.trn", encoding="utf-8") as f:
        assert f.read() == "the bat (spk1_1)\nhelo world (spk2_1)\n"
    with open(out / "greedy.lines.ref.trn", encoding="utf-8") as f:
        assert f.read() == "the cat (spk1_1)\nhello world (spk2_1)\n"
    assert sorted(os.listdir(out)) == sorted(evaluate.output_names(["greedy", "beam"], "line"))

    assert evaluate.main(args) == 1                       # refuses to overwrite
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "--overwrite" in err and len(err.splitlines()) == 1
    assert evaluate.main(args + ["--overwrite"]) == 0


def test_cli_page_level_missed_line(tmp_path, monkeypatch, capsys):
    folder = _folder(tmp_path, {"page": "the quick brown fox\njumps over\nthe lazy dog\n"})
    monkeypatch.setattr(evaluate, "make_transcriber", _fake({"greedy": {30: ["the quick brown fox", "the lazy dog"]}}))
    assert evaluate.main(["--folder", str(folder), "--level", "page", "--no-progress"]) == 0
    table = capsys.readouterr().out
    # paired: only "jumps over" is missed: 10 of 19 + 10 + 12 = 41 characters with spaces, 9 of 16 + 9 + 10 = 35
    # without, 2 of 4 + 2 + 3 = 9 words.
    assert _row(table, "greedy", "paired") == [round(1000 / 41, 2), round(200 / 9, 2), round(900 / 35, 2),
                                               round(200 / 9, 2)]
    # free: the joined page misses "jumps over " (11 of 43 characters).
    assert _row(table, "greedy", "free")[0] == round(1100 / 43, 2)


def test_cli_region_level_passes_the_level_and_widths_to_the_pipeline(tmp_path, monkeypatch, capsys):
    folder = _folder(tmp_path, {"block": "hello world\nsecond line\n"})
    levels = []

    def make_transcriber(level, decoders, model=None, batch_size=16, lm="default", engine="mxnet", widths=False):
        levels.append((level, widths))
        return lambda images: [{"greedy": ["hello world", "secnd line"]} for _ in images]
    monkeypatch.setattr(evaluate, "make_transcriber", make_transcriber)
    assert evaluate.main(["--folder", str(folder), "--level", "region", "--no-progress", "--widths"]) == 0
    assert levels == [("region", True)]
    table = capsys.readouterr().out
    # paired: one deleted "o" in 11 + 11 = 22 characters; 1 of 4 words wrong.
    assert _row(table, "greedy", "paired")[:2] == [round(100 / 22, 2), 25.0]


def test_iam_region_samples_are_the_grown_block(tmp_path):
    require(os.path.exists(fonts.MANIFEST), "fonts not installed: run `make data`")
    from ocr.data.iam import IAMDataset
    from ocr.data.synthetic import generate
    root = str(tmp_path / "iam")
    generate(root, 2, seed=3, workers=1, dpi=75, progress=False)
    page_image, page_lines = evaluate.iam_samples(root, "all", "page")[0].load()
    region_image, region_lines = evaluate.iam_samples(root, "all", "region")[0].load()
    assert region_lines == page_lines and len(region_lines) > 1
    x, y, w, h = IAMDataset(root, "form_original", split="all", output_data="bb", output_parse_method="form")[0][1][0]
    height, width = page_image.shape
    assert region_image.shape[0] == pytest.approx(h * 1.05 * height, abs=2)
    assert region_image.shape[1] == pytest.approx(min(w * 1.05, 1.0) * width, abs=2)


def test_folder_images_are_read_as_the_pipeline_reads_them(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[5:15, 5:25] = (40, 90, 160, 200)                 # a translucent coloured bar on a transparent page
    Image.fromarray(rgba).save(folder / "a.png")
    (folder / "a.gt.txt").write_text("one\ntwo\n", encoding="utf-8")
    image, reference = evaluate.folder_samples(str(folder), "line")[0].load()
    assert reference == "one two"
    assert image.dtype == np.uint8 and np.array_equal(image, read_image(str(folder / "a.png")))
    assert image[0, 0] == 255 and image[10, 10] < 200     # dark ink on a transparent page: onto white


@pytest.mark.parametrize("case", ["missing", "empty", "no_gt", "bad_image"])
def test_cli_bad_input(tmp_path, monkeypatch, capsys, case):
    monkeypatch.setattr(evaluate, "make_transcriber", _fake({"greedy": {}}))
    folder = tmp_path / "data"
    if case != "missing":
        folder.mkdir()
    if case == "no_gt":
        Image.fromarray(np.zeros((5, 5), np.uint8)).save(folder / "x.png")
    if case == "bad_image":
        (folder / "x.png").write_bytes(b"not an image")
        (folder / "x.gt.txt").write_text("text")
    assert evaluate.main(["--folder", str(folder), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("level", ["line", "region", "page"])
def test_cli_incompatible_model_one_line(tmp_path, capsys, level):
    folder = _folder(tmp_path, {"a": "the cat\n"})
    write_card(str(tmp_path / "old.json"), ModelCard(stage="recognition", network={"no_such_key": 1},
                                                     input=InputSpec((60, 1200)), alphabet=ALPHABET))
    (tmp_path / "old.params").write_bytes(b"")
    assert evaluate.main(["--folder", str(folder), "--model", str(tmp_path / "old"), "--level", level,
                          "--no-progress"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot load the recogniser model") and "no_such_key" in err
    assert len(err.splitlines()) == 1
