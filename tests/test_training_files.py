"""The training CLIs on damaged files (one line naming the file, exit 2) and Ctrl-C (a resumable checkpoint, one
line, exit 130)."""
import os

import numpy as np
import pytest
import mxnet as mx
from mxnet import gluon

from ocr.recognition import train as handwriting_line_recognition
from ocr.paragraph import train as paragraph_segmentation_dcnn
from ocr.words import train as word_and_line_segmentation
from ocr.recognition.net import build_recognizer
from ocr.core.training import fit, load_checkpoint, run_cli
from tests.test_recognizer import TINY, TINY_SIZE, WORDS, tiny_batch
from tests.test_training import TINY_CARD, _run_fit


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    """{kind: path} of truncated files: a checkpoint, weights beside a good card, a card beside good weights."""
    folder = tmp_path_factory.mktemp("damaged")
    _run_fit(folder, epochs=1)
    files = {}
    for kind, source in (("ckpt", "tiny.ckpt"), ("params", "tiny.params")):
        data = (folder / "ckpt" / source).read_bytes()
        (folder / ("cut." + kind)).write_bytes(data[:len(data) // 2])
        files[kind] = str(folder / ("cut." + kind))
    (folder / "cut.json").write_text((folder / "ckpt" / "tiny.json").read_text())
    (folder / "bad.params").write_bytes((folder / "ckpt" / "tiny.params").read_bytes())
    (folder / "bad.json").write_text('{"network": {"wid')
    files["json"] = str(folder / "bad.json")
    return files


def _one_line_exit_2(capsys, module, argv, named):
    with pytest.raises(SystemExit) as stop:
        run_cli(module.main, [str(a) for a in argv])
    err = capsys.readouterr().err.splitlines()
    assert stop.value.code == 2 and len(err) == 1, err
    assert err[0].startswith("error: ") and named in err[0] and "Traceback" not in err[0]


@pytest.mark.parametrize("kind", ["ckpt", "params", "json"])
def test_line_recogniser_cli_damaged_file(tmp_path, capsys, damaged, kind):
    argv = ["--iam-root", tmp_path, "-c", tmp_path / "c", "-d", tmp_path / "d", "-m", damaged[kind]]
    _one_line_exit_2(capsys, handwriting_line_recognition, argv, damaged[kind])


@pytest.mark.parametrize("kind", ["ckpt", "params", "json"])
def test_word_detector_cli_damaged_file(tmp_path, capsys, damaged, kind):
    argv = ["--iam-root", tmp_path, "-c", tmp_path / "c", "-d", tmp_path / "d", "-p", damaged[kind]]
    _one_line_exit_2(capsys, word_and_line_segmentation, argv, damaged[kind])


@pytest.mark.parametrize("kind", ["params", "json"])
def test_paragraph_cli_damaged_warm_start(tmp_path, capsys, damaged, kind):
    argv = ["--iam-root", tmp_path, "-c", tmp_path / "c", "-d", tmp_path / "d", "-f", damaged[kind]]
    _one_line_exit_2(capsys, paragraph_segmentation_dcnn, argv, damaged[kind])


def test_paragraph_cli_damaged_checkpoint_to_resume(tmp_path, capsys, damaged):
    (tmp_path / "c").mkdir()
    ckpt = tmp_path / "c" / "cnn.ckpt"
    ckpt.write_bytes(open(damaged["ckpt"], "rb").read())
    argv = ["--iam-root", tmp_path, "-c", tmp_path / "c", "-d", tmp_path / "d", "--resume"]
    _one_line_exit_2(capsys, paragraph_segmentation_dcnn, argv, str(ckpt))


def test_ctrl_c_is_one_line_and_exit_130(capsys):
    def main(argv):
        raise KeyboardInterrupt
    with pytest.raises(SystemExit) as stop:
        run_cli(main)
    assert stop.value.code == 130 and capsys.readouterr().err == "interrupted\n"


def _fit(folder, epochs, interrupt_at=None, resume=None):
    """A tiny net without dropout (whose masks a resume does not replay), 3 fixed batches per epoch in a seeded
    order; ``interrupt_at`` (epoch, batch): Ctrl-C there."""
    mx.random.seed(1)
    net = build_recognizer(dict(TINY, dropout=0.0))
    net.initialize(mx.init.Xavier())
    net(mx.nd.zeros((1, 1) + TINY_SIZE))
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01})
    batches = [tiny_batch(WORDS[:3]), tiny_batch(WORDS[3:6]), tiny_batch(WORDS[6:9])]
    ctc = gluon.loss.CTCLoss()
    seen = []

    def make_batches(epoch, rng):
        return [(epoch, k, batches[i]) for k, i in enumerate(rng.permutation(3))]

    def loss_fn(n, batch):
        epoch, k, (images, labels) = batch
        if (epoch, k) == interrupt_at:
            raise KeyboardInterrupt
        seen.append((epoch, k))
        return ctc(n(images), labels).mean()

    def evaluate(n):
        return {"val_loss": float(ctc(n(batches[0][0]), batches[0][1]).mean().asscalar())}

    history = fit(net, trainer, make_batches, loss_fn, evaluate, epochs=epochs, checkpoint_dir=str(folder / "ckpt"),
                  log_dir=str(folder / "logs"), name="tiny", best_metric="val_loss", card=TINY_CARD, seed=3,
                  resume=resume,
                  log=lambda *_: None)
    return net, history, seen


def test_ctrl_c_in_an_epoch_saves_a_checkpoint_that_resumes_where_it_stopped(tmp_path):
    full_net, full, _ = _fit(tmp_path / "full", epochs=3)
    with pytest.raises(KeyboardInterrupt) as interrupt:
        _fit(tmp_path / "cut", epochs=3, interrupt_at=(1, 2))
    ckpt = str(tmp_path / "cut" / "ckpt" / "tiny.ckpt")
    assert str(interrupt.value) == "resumable checkpoint %s saved in epoch 2 after 2 batches" % ckpt
    checkpoint = load_checkpoint(ckpt)
    assert (checkpoint["epoch"], checkpoint["batches_done"], checkpoint["step"]) == (1, 2, 5)
    assert len(checkpoint["history"]) == 1
    net, resumed, seen = _fit(tmp_path / "cut", epochs=3, resume=checkpoint)
    assert seen[0] == (1, 2)                                  # the batch it stopped at, not the epoch's first
    assert [h["step"] for h in resumed] == [h["step"] for h in full] == [3, 6, 9]
    assert resumed[1]["train_loss"] == pytest.approx(full[1]["train_loss"], rel=1e-4)
    for a, b in zip(net.collect_params().values(), full_net.collect_params().values()):
        np.testing.assert_allclose(a.data().asnumpy(), b.data().asnumpy(), rtol=1e-4, atol=1e-6)
    assert not [f for f in os.listdir(tmp_path / "cut" / "ckpt") if f.endswith(".tmp")]
