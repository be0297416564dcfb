"""utils/gpu: the pack a GPU run of the recogniser reads, MXNet .params read without MXNet, the PyTorch mirror of the
net (where PyTorch is installed) and the import of a run's weights back into a Gluon model."""
import json
import os

import mxnet as mx
import numpy as np
import pytest

from ocr.core.card import read_card
from ocr.data.iamondb import OnlineLine
from ocr.data.line_mix import word_bank
from ocr.recognition.net import build_recognizer
from tests.conftest import utils_script
from tests.test_iamondb import line_strokes

TINY = {"width": 1, "num_downsamples": 2, "rnn_hidden": 8, "rnn_layers": 2, "dropout": 0.2, "num_classes": 80}


def pen_lines():
    """Three fake IAM-OnDB lines: whole and half tablet units, times both large (ulp 1 s) and fractional."""
    lines = []
    for k, (text, t0) in enumerate((("one two three", 1.4897e7), ("four five", 213.88), ("six", 0.0))):
        strokes = [np.concatenate([np.rint(s[:, :2]), s[:, 2:]], axis=1) for s in line_strokes(len(text.split()), t0)]
        strokes[0][:, 0] += 0.5
        lines.append(OnlineLine("a01-00%du-01" % k, "a01-00%du" % k, text, strokes))
    return lines


def test_strokes_pack_and_unpack_exactly():
    pack = utils_script("gpu/pack_recognizer_data")
    lines = pen_lines()
    got = pack.decode_strokes(*pack.encode_strokes(lines))
    assert [len(s) for s in got] == [len(line.strokes) for line in lines]
    for line, strokes in zip(lines, got):
        assert all(a.dtype == np.float32 and np.array_equal(a, b) for a, b in zip(strokes, line.strokes))
    lines[0].strokes[0][0, 1] += 0.25
    with pytest.raises(ValueError, match="half-unit"):
        pack.encode_strokes(lines)


def test_pen_pack_reads_back_the_lines_and_their_word_bank(tmp_path):
    pack = utils_script("gpu/pack_recognizer_data")
    lines = pen_lines()
    bank = word_bank(lines)
    assert bank["groups"], "the fake lines must split into words for this test to mean anything"
    np.savez(tmp_path / "pen.npz", **pack.pack_pen({"train": lines, "validation": lines[:1]}, bank["groups"]))
    got, got_bank = pack.read_pen(str(tmp_path / "pen.npz"))
    assert [(l.line_id, l.form_id, l.text) for l in got["train"]] == [(l.line_id, l.form_id, l.text) for l in lines]
    assert len(got["validation"]) == 1
    assert got_bank == bank


def save_tiny(path, seed=0):
    """A tiny recogniser saved as Gluon writes it; returns the net."""
    mx.random.seed(seed)
    net = build_recognizer(TINY)
    net.initialize(mx.init.Xavier())
    net(mx.nd.zeros((1, 1, 60, 64)))
    net.save_parameters(str(path))
    return net


def test_params_are_read_without_mxnet_as_mxnet_reads_them(tmp_path):
    gluon_params = utils_script("gpu/gluon_params")
    save_tiny(tmp_path / "tiny.params")
    want = mx.nd.load(str(tmp_path / "tiny.params"))
    got = gluon_params.read_gluon_params(str(tmp_path / "tiny.params"))
    assert sorted(got) == sorted(want)
    assert all(np.array_equal(got[k], want[k].asnumpy()) for k in want)
    (tmp_path / "bad.params").write_bytes(b"\0" * 32)
    with pytest.raises(ValueError, match="not an MXNet .params file"):
        gluon_params.read_gluon_params(str(tmp_path / "bad.params"))


def test_torch_mirror_reads_as_the_gluon_net(tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (the GPU machine has it; CI does not)")
    train = utils_script("gpu/train_recognizer")
    gluon_params = utils_script("gpu/gluon_params")
    net = save_tiny(tmp_path / "tiny.params")
    mirror = train.TorchLineRecognizer(**TINY)
    mirror.load_gluon(gluon_params.read_gluon_params(str(tmp_path / "tiny.params")))
    mirror.eval()
    x = np.random.default_rng(0).normal(size=(2, 1, 60, 64)).astype(np.float32)
    with torch.no_grad():
        got = mirror(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, net(mx.nd.array(x)).asnumpy(), atol=1e-4)
    params = mirror.gluon_params()
    assert all(np.array_equal(params[k], v.asnumpy()) for k, v in mx.nd.load(str(tmp_path / "tiny.params")).items())


def write_run(run, params, rows):
    """A GPU run's folder: the weights split as train_recognizer.save_params splits them, and its log."""
    os.makedirs(run, exist_ok=True)
    second = {k: v for k, v in params.items() if k.startswith("rnn._unfused.1.")}
    np.savez(os.path.join(run, "best_a.npz"), **{k: v for k, v in params.items() if k not in second})
    np.savez(os.path.join(run, "best_b.npz"), **second)
    with open(os.path.join(run, "log.tsv"), "w", encoding="utf-8") as f:
        f.write("seconds\tstep\tlines\tlr\ttrain_loss\tval_cer\tfont_val_cer\n")
        f.writelines("\t".join(str(v) for v in row) + "\n" for row in rows)


def test_import_makes_a_model_that_reads_as_the_run_weights(tmp_path):
    importer = utils_script("gpu/import_recognizer")
    base = save_tiny(tmp_path / "base.params", seed=0)
    card = json.load(open("models/handwriting_line.json", encoding="utf-8"))
    card["network"] = TINY
    (tmp_path / "base.json").write_text(json.dumps(card), encoding="utf-8")
    trained = save_tiny(tmp_path / "trained.params", seed=1)
    params = {k: v.asnumpy() for k, v in mx.nd.load(str(tmp_path / "trained.params")).items()}
    rows = [(0, 0, 0, 0, "nan", 0.07, 0.06), (40, 500, 32000, 3e-4, 9.5, 0.065, 0.061),
            (80, 1000, 64000, 1e-4, 8.1, 0.066, 0.060)]
    write_run(str(tmp_path / "run"), params, rows)
    argv = ["--run", str(tmp_path / "run"), "--base", str(tmp_path / "base"), "--out", str(tmp_path / "out" / "m"),
            "--command", "python utils/gpu/train_recognizer.py ...", "--device", "a test"]
    importer.main(argv)
    model = build_recognizer(TINY)
    model.load_parameters(str(tmp_path / "out" / "m.params"))
    x = mx.nd.array(np.random.default_rng(1).normal(size=(1, 1, 60, 64)))
    assert np.allclose(model(x).asnumpy(), trained(x).asnumpy())
    assert not np.allclose(model(x).asnumpy(), base(x).asnumpy())
    out = read_card(str(tmp_path / "out" / "m.json"))
    assert out.step == 500 and out.metrics["val_cer"] == 0.065 and not out.test_metrics
    assert out.training["gpu_fine_tune"]["steps"] == 1000 and out.training["gpu_fine_tune"]["device"] == "a test"
    record = out.training["gpu_fine_tune"]
    assert record["batch_size"] == 64 and record["peak_learning_rate"] == 3e-4
    assert len(out.history) == 3
    with pytest.raises(SystemExit):
        importer.main(argv)                        # the model is there: never overwritten
    with pytest.raises(SystemExit) as exit_info:
        importer.main(["--run", str(tmp_path), "--base", str(tmp_path / "base"), "--out", str(tmp_path / "other"),
                       "--command", "x", "--device", "x"])          # no weights there: one line, exit 2
    assert exit_info.value.code == 2


def test_pack_cli_writes_what_the_gpu_run_reads(tmp_path):
    from tests.test_iamondb import write_form
    from tests.test_training import add_word_images, make_iam_tree
    pack = utils_script("gpu/pack_recognizer_data")
    root = str(tmp_path / "iamondb")
    for k in range(40):        # 40 sessions of one form each (a day apart), two lines a form
        write_form(root, "x%02d-%03dz" % (k, k), ["one two three", "four five"], t0=86400.0 * k)
    iam = make_iam_tree(tmp_path / "iam")
    with pytest.raises(SystemExit) as exit_info:           # the font tree has no words/ yet
        pack.main(["--iamondb", root, "--iam-root", iam, "--out", str(tmp_path / "pack")])
    assert exit_info.value.code == 2
    add_word_images(iam)
    pack.main(["--iamondb", root, "--iam-root", iam, "--out", str(tmp_path / "pack"), "--font-lines", "3",
               "--font-words", "4", "--val-lines", "2"])
    lines, bank = pack.read_pen(str(tmp_path / "pack" / "pen.npz"))
    assert lines["train"] and lines["validation"]
    assert not {l.form_id for l in lines["train"]} & {l.form_id for l in lines["validation"]}
    assert bank["groups"] and all(isinstance(k, int) for k in bank["groups"])
    font = pack.read_font(str(tmp_path / "pack" / "font.npz"))
    assert [len(font[kind][0]) for kind in ("line", "word", "val_line")] == [3, 4, 2]
    assert font["line"][0][0].shape == (60, 1200) and all(text for text in font["word"][1])
    assert sorted(os.listdir(tmp_path / "pack")) == ["font.npz", "pen.npz"]       # no temporary files left
