"""The training loop (logs, keep-best, resume) and the line-recognition CLI end to end on a tiny IAM-format tree."""
import json
import os
from dataclasses import replace

import cv2
import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon

from ocr.recognition import train as cli
from ocr.core.alphabet import ALPHABET
from ocr.core.card import InputSpec, ModelCard, read_card, write_card
from ocr.core.geometry import LINE_SIZE
from ocr.recognition.net import sequence_length
from ocr.recognition.predictor import Recognizer
from ocr.core.training import average_params, fit, load_checkpoint, save_params
from tests.test_recognizer import TINY, TINY_SIZE, WORDS, render_line, tiny_batch, tiny_net
from tests.conftest import utils_script

FORM_XML = """<?xml version="1.0" encoding="ISO-8859-1"?>
<form height="100" id="{form}" writer-id="{writer}" width="400"><handwritten-part>{lines}</handwritten-part></form>
"""
LINE_XML = '<line id="{id}" text="{text}"><word id="{id}-00" text="{text}">' \
           '<cmp x="10" y="10" width="100" height="20"/></word></line>'


def make_iam_tree(root, forms=6, lines_per_form=3, seed=0):
    """A tiny IAM-format tree (xml, line PNGs rendered with PIL's font, split lists); returns str(root).
    Forms 0-3 are trainset, 4 validation, 5 test."""
    rng = np.random.default_rng(seed)
    splits = {"trainset.txt": [], "validationset1.txt": [], "validationset2.txt": [], "testset.txt": []}
    for f in range(forms):
        form = "a%02d-%03d" % (f, f)
        lines = []
        for k in range(lines_per_form):
            line_id = "%s-%02d" % (form, k)
            text = " ".join(rng.choice(WORDS, size=2))
            lines.append(LINE_XML.format(id=line_id, text=text))
            path = os.path.join(root, "lines", form.split("-")[0], form, line_id + ".png")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            cv2.imwrite(path, render_line(text))
            split = "trainset.txt" if f < forms - 2 else "validationset1.txt" if f == forms - 2 else "testset.txt"
            splits[split].append(line_id)
        os.makedirs(os.path.join(root, "xml"), exist_ok=True)
        with open(os.path.join(root, "xml", form + ".xml"), "w", encoding="latin-1") as out:
            out.write(FORM_XML.format(form=form, writer=f, lines="".join(lines)))
    for name, ids in splits.items():
        with open(os.path.join(root, name), "w") as out:
            out.write("".join(i + "\n" for i in ids))
    return str(root)


TINY_CARD = ModelCard(stage="recognition", network=TINY, input=InputSpec(TINY_SIZE), alphabet=ALPHABET)


def _run_fit(tmp_path, epochs, resume=None, keep_epochs=False):
    """Fit a tiny net on two fixed batches per epoch; return (net, trainer, history, losses seen by evaluate)."""
    net = tiny_net(seed=1)
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01})
    batches = [tiny_batch(WORDS[:4]), tiny_batch(WORDS[4:])]
    ctc = gluon.loss.CTCLoss()

    def make_batches(epoch, rng):
        return [batches[i] for i in rng.permutation(2)]

    def evaluate(n):
        return {"val_loss": float(ctc(n(batches[0][0]), batches[0][1]).mean().asscalar())}

    history = fit(net, trainer, make_batches, lambda n, b: ctc(n(b[0]), b[1]).mean(), evaluate, epochs=epochs,
                  checkpoint_dir=str(tmp_path / "ckpt"), log_dir=str(tmp_path / "logs"), name="tiny",
                  best_metric="val_loss", card=TINY_CARD, clip_norm=5.0, seed=7,
                  resume=resume, keep_epochs=keep_epochs, log=lambda *_: None)
    return net, trainer, history


def test_fit_logs_checkpoints_and_keeps_best(tmp_path):
    _, _, history = _run_fit(tmp_path, epochs=3)
    assert [h["epoch"] for h in history] == [1, 2, 3] and history[-1]["step"] == 6
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    with open(tmp_path / "logs" / "tiny.jsonl") as f:
        assert [json.loads(row)["epoch"] for row in f] == [1, 2, 3]
    assert (tmp_path / "logs" / "tiny.png").stat().st_size > 1000
    card = read_card(str(tmp_path / "ckpt" / "tiny.json"))
    assert card.network == TINY and card.best_epoch == min(history, key=lambda h: h["val_loss"])["epoch"]
    assert card.metrics["val_loss"] == min(h["val_loss"] for h in history)
    assert not [f for f in os.listdir(tmp_path / "ckpt") if f.endswith(".tmp") or "_epoch" in f]


def test_resume_continues_from_step_with_optimizer_state(tmp_path):
    full_net, _, full = _run_fit(tmp_path / "full", epochs=3)
    _run_fit(tmp_path / "part", epochs=2)
    checkpoint = load_checkpoint(str(tmp_path / "part" / "ckpt" / "tiny.ckpt"))
    assert (checkpoint["epoch"], checkpoint["step"]) == (2, 4)
    net, trainer, resumed = _run_fit(tmp_path / "part", epochs=3, resume=checkpoint)
    assert trainer.optimizer.num_update == 6                   # Adam's step count came back with its states
    assert [h["step"] for h in resumed] == [2, 4, 6]
    assert resumed[-1]["train_loss"] == pytest.approx(full[-1]["train_loss"], rel=1e-4)
    for a, b in zip(net.collect_params().values(), full_net.collect_params().values()):
        np.testing.assert_allclose(a.data().asnumpy(), b.data().asnumpy(), rtol=1e-4, atol=1e-6)


CLI_FLAGS = ["-g", "-1", "-e", "1", "-s", "4", "-q", "1", "-a", "16", "-o", "1", "--seed", "1"]


def _cli_args(tmp_path, root):
    return ["--iam-root", root, "-d", str(tmp_path / "logs"), "-c", str(tmp_path / "ckpt"), "-n", "line"] + CLI_FLAGS


@pytest.fixture
def iam_root(tmp_path):
    return make_iam_tree(tmp_path / "iam")


def test_cli_trains_one_epoch_end_to_end(tmp_path, iam_root):
    history = cli.main(_cli_args(tmp_path, iam_root))
    assert len(history) == 1 and 0 <= history[0]["val_cer"]
    info = json.loads((tmp_path / "ckpt" / "line.json").read_text())
    assert info["training"]["items"] == {"train": 12, "validation": 3, "test": 3}
    assert set(info["test_metrics"]) == {"test_loss", "test_cer", "test_wer"}
    assert info["network"]["width"] == 1 and info["input"]["fit_size"] == list(LINE_SIZE)
    assert sequence_length(info["network"], info["input"]["fit_size"][1]) == LINE_SIZE[1] // 4
    text, probs = Recognizer.load(str(tmp_path / "ckpt" / "line")).recognize([render_line("bad")])[0]
    assert probs.shape == (LINE_SIZE[1] // 4, 80)
    with pytest.raises(SystemExit) as exit_info:           # refuses to overwrite without --overwrite / -m
        cli.main(_cli_args(tmp_path, iam_root))
    assert exit_info.value.code == 2
    resumed = cli.main(_cli_args(tmp_path, iam_root)[:-len(CLI_FLAGS)] + CLI_FLAGS[:2] + ["-e", "2", "-s", "4", "-m",
                       str(tmp_path / "ckpt" / "line.ckpt")])
    assert [h["epoch"] for h in resumed] == [1, 2] and resumed[1]["step"] == 6
    record = load_checkpoint(str(tmp_path / "ckpt" / "line.ckpt"))["extra"]["training"]
    assert record["command"] == info["training"]["command"]        # the first run's command and warm start stay
    assert record["warm_start"] is None and len(record["resumed_by"]) == 1 and "line.ckpt" in record["resumed_by"][0]


@pytest.mark.parametrize("args", [[], ["--iam-root", "/nonexistent"], ["--iam-root", ".", "--pen-weights", "w.tsv"]])
def test_cli_bad_input_exits_2(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args + ["-g", "-1"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_cli_folder_without_lines_exits_2(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--iam-root", str(tmp_path), "-g", "-1"])
    assert exit_info.value.code == 2


def add_word_images(iam_root):
    """Give a make_iam_tree tree its words/ folder: each line's image is also the image of its first word."""
    for folder, _, files in os.walk(os.path.join(iam_root, "lines")):
        for name in files:
            word = os.path.join(folder.replace(os.path.join(iam_root, "lines"), os.path.join(iam_root, "words")),
                                name[:-4] + "-00.png")
            os.makedirs(os.path.dirname(word), exist_ok=True)
            cv2.imwrite(word, cv2.imread(os.path.join(folder, name), cv2.IMREAD_GRAYSCALE))


def test_cli_mixes_font_words_cut_as_read_and_validates_on_them(tmp_path, iam_root):
    add_word_images(iam_root)
    history = cli.main(_cli_args(tmp_path, iam_root) + ["--word-share", "0.5", "--epoch-items", "8"])
    assert {"val_cer", "font_word_val_cer"} <= set(history[0])
    info = json.loads((tmp_path / "ckpt" / "line.json").read_text())
    assert info["training"]["font_words"]["items"] == {"train": 12, "validation": 3, "test": 3}   # trainset only
    assert "font_word_test_cer" in info["test_metrics"]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(_cli_args(tmp_path, iam_root) + ["--word-share", "1.5"])
    assert exit_info.value.code == 2


def test_cli_word_share_without_word_images_exits_2(tmp_path, iam_root, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(_cli_args(tmp_path, iam_root) + ["--word-share", "0.5"])
    assert exit_info.value.code == 2 and "words/" in capsys.readouterr().err


def test_average_weights_writes_the_mean_of_the_snapshots(tmp_path):
    average_weights = utils_script("average_weights")
    nets = [tiny_net(seed=seed) for seed in (1, 2)]
    card_path = str(tmp_path / "net.json")
    write_card(card_path, replace(TINY_CARD, best_epoch=3, metrics={"val_cer": 0.1}, history=[{"epoch": 1}]))
    paths = []
    for k, net in enumerate(nets):
        paths.append(str(tmp_path / ("ep%d.params" % k)))
        save_params(net, paths[-1])
    out = str(tmp_path / "averaged" / "net")
    assert average_weights.main(["--card", card_path, "--params", *paths, "--out", out]) == 0
    averaged = mx.nd.load(out + ".params")
    for name, param in nets[0]._collect_params_with_prefix().items():
        expected = (param.data().asnumpy() + nets[1]._collect_params_with_prefix()[name].data().asnumpy()) / 2
        np.testing.assert_allclose(averaged[name].asnumpy(), expected, rtol=1e-6, atol=1e-7)
    card = read_card(out + ".json")
    assert card.training["averaged_from"] == paths
    assert card.best_epoch is None and not card.metrics and card.history == [{"epoch": 1}]   # no snapshot's figures
    Recognizer.load(out + ".json")                                   # loads as any model
    with pytest.raises(SystemExit, match="exists"):                  # nothing overwritten without --overwrite
        average_weights.main(["--card", card_path, "--params", *paths, "--out", out])
    with pytest.raises(ValueError, match="shape"):
        average_params([{"w": np.zeros(2)}, {"w": np.zeros(3)}])
    with pytest.raises(ValueError, match="other parameters"):
        average_params([{"w": np.zeros(2)}, {"v": np.zeros(2)}])


def test_fit_keeps_every_epochs_weights_when_asked(tmp_path):
    net, _, _ = _run_fit(tmp_path, epochs=3, keep_epochs=True)
    kept = sorted(f for f in os.listdir(tmp_path / "ckpt") if "_epoch" in f)
    assert kept == ["tiny_epoch%d.%s" % (n, ext) for n in (1, 2, 3) for ext in ("json", "params")]
    assert [read_card(str(tmp_path / "ckpt" / ("tiny_epoch%d.json" % n))).best_epoch for n in (1, 2, 3)] == [1, 2, 3]
    last = mx.nd.load(str(tmp_path / "ckpt" / "tiny_epoch3.params"))
    first = mx.nd.load(str(tmp_path / "ckpt" / "tiny_epoch1.params"))
    for name, param in net._collect_params_with_prefix().items():
        np.testing.assert_array_equal(last[name].asnumpy(), param.data().asnumpy())
    assert any(not np.array_equal(first[name].asnumpy(), last[name].asnumpy()) for name in last)
