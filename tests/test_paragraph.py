"""Paragraph segmentation DCNN: losses on hand-computed boxes, training, save/load, page augmentation, inference
on odd pages, and the CLI end to end on a tiny synthetic IAM tree."""
import json
import os

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from ocr import metrics
from ocr.paragraph import train as cli
from ocr.data import fonts
from ocr.paragraph.augment import NO_AUGMENT, PageAugmentParams, augment_page
from ocr.paragraph.net import build_paragraph_net, giou_loss, iou_and_giou, mse_loss
from ocr.paragraph.predictor import ParagraphSegmenter, standardise
from ocr.core.card import ModelCard, write_card
from ocr.core.geometry import crop_region
from ocr.core.training import save_params
from tests.conftest import require

TINY = {"input_size": [96, 64], "stem_channels": 8, "channels": [8, 16], "context_channels": 16, "dilations": [2],
        "profile_channels": 16, "dropout": 0.0}


def nd(*rows):
    """Boxes given as rows -> float64 NDArray (N, 4)."""
    return mx.nd.array(np.array(rows, np.float64))


def test_mse_loss_hand_computed():
    # errors (-0.25, -0.25, 0, 0): 0.5 * mean(0.0625, 0.0625, 0, 0) = 0.5 * 0.03125 = 0.015625
    loss = mse_loss(mx.nd, nd([0, 0, 0.5, 0.5]), nd([0.25, 0.25, 0.5, 0.5]))
    assert loss.shape == (1,)
    assert loss.asscalar() == pytest.approx(0.015625, abs=1e-7)


def test_giou_loss_overlapping_and_identical_boxes():
    # pred [0, 0.5]^2, target [0.25, 0.75]^2: intersection 0.25 * 0.25 = 0.0625,
    # union 0.25 + 0.25 - 0.0625 = 0.4375, IoU = 0.0625 / 0.4375 = 1/7 = 0.142857;
    # enclosing box [0, 0.75]^2 has area 0.5625, GIoU = 1/7 - (0.5625 - 0.4375) / 0.5625 = 1/7 - 2/9 = -0.079365,
    # loss = 1 - GIoU = 1.079365. Identical boxes: IoU 1, loss 0.
    pred, target = nd([0, 0, 0.5, 0.5], [0.1, 0.2, 0.3, 0.4]), nd([0.25, 0.25, 0.5, 0.5], [0.1, 0.2, 0.3, 0.4])
    iou, _ = iou_and_giou(mx.nd, pred, target)
    np.testing.assert_allclose(iou.asnumpy(), [1 / 7, 1.0], atol=1e-5)
    np.testing.assert_allclose(giou_loss(mx.nd, pred, target).asnumpy(), [1 + 2 / 9 - 1 / 7, 0.0], atol=1e-5)


def test_giou_loss_disjoint_boxes_above_one_with_gradient():
    # pred [0, 0.2]^2, target [0.6, 0.8]^2: no overlap, union U = 0.04 + 0.04 = 0.08, enclosing box [0, 0.8]^2,
    # C = 0.64; loss = 1 - (0 - (C - U) / C) = 2 - U / C = 2 - 0.125 = 1.875.
    # Gradients: C = (0.8 - x)(0.8 - y) -> dloss/dx = U / C^2 * dC/dx = 0.08 / 0.4096 * (-0.8) = -0.15625 (same for y);
    # U = w h + 0.04 -> dloss/dw = -h / C = -0.2 / 0.64 = -0.3125 (same for h). The reference's -log(IoU) gives 0.
    pred, target = nd([0, 0, 0.2, 0.2]), nd([0.6, 0.6, 0.2, 0.2])
    pred.attach_grad()
    with autograd.record():
        loss = giou_loss(mx.nd, pred, target)
    loss.backward()
    assert loss.asscalar() == pytest.approx(1.875, abs=1e-5)
    np.testing.assert_allclose(pred.grad.asnumpy(), [[-0.15625, -0.15625, -0.3125, -0.3125]], atol=1e-5)


def test_mxnet_iou_and_giou_agree_with_metrics():
    boxes = np.random.default_rng(0).uniform(0.05, 0.5, (2, 16, 4))
    ours = iou_and_giou(mx.nd, mx.nd.array(boxes[0], dtype="float64"), mx.nd.array(boxes[1], dtype="float64"))
    np.testing.assert_allclose(ours[0].asnumpy(), np.diag(metrics.iou(boxes[0], boxes[1])), atol=1e-6)
    np.testing.assert_allclose(ours[1].asnumpy(), np.diag(metrics.giou(boxes[0], boxes[1])), atol=1e-6)


def fake_pages(count, shape, seed):
    """``count`` white uint8 pages with a dark noisy block at a random box -> (pages (N, H, W), boxes (N, 4))."""
    rng = np.random.default_rng(seed)
    height, width = shape
    pages = np.full((count, height, width), 235, np.uint8)
    boxes = []
    for page in pages:
        w, h = rng.uniform(0.4, 0.8), rng.uniform(0.15, 0.4)
        x, y = rng.uniform(0.05, 0.95 - w), rng.uniform(0.1, 0.9 - h)
        x1, y1, x2, y2 = int(x * width), int(y * height), int((x + w) * width), int((y + h) * height)
        page[y1:y2, x1:x2] = rng.integers(0, 120, (y2 - y1, x2 - x1))
        boxes.append((x1 / width, y1 / height, (x2 - x1) / width, (y2 - y1) / height))
    return pages, np.array(boxes, np.float32)


def tiny_net(seed=0):
    """An initialised, hybridized ParagraphNet with the TINY config (input 96x64)."""
    mx.random.seed(seed)
    net = build_paragraph_net(TINY)
    net.initialize(mx.init.Xavier())
    net.hybridize()
    net(mx.nd.zeros((1, 1) + tuple(TINY["input_size"])))     # settle deferred shapes
    return net


def test_training_steps_reduce_loss():
    pages, boxes = fake_pages(8, TINY["input_size"], seed=0)
    data, target = mx.nd.array(standardise(pages)), mx.nd.array(boxes)
    net = tiny_net()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01})
    losses = []
    for _ in range(40):
        with autograd.record():
            loss = mse_loss(mx.nd, net(data), target).mean()
        loss.backward()
        trainer.step(1)
        losses.append(loss.asscalar())
    assert losses[-1] < 0.3 * losses[0]


def save_tiny_model(tmp_path, net):
    """Write ``net`` as a model (params + card, with the trainer's input spec) into tmp_path; return the stem."""
    stem = str(tmp_path / "tiny")
    save_params(net, stem + ".params")
    write_card(stem + ".json", ModelCard(stage="paragraph", network=TINY, input=cli.INPUT))
    return stem


def test_checkpoint_round_trip(tmp_path):
    net = tiny_net(seed=3)
    pages, _ = fake_pages(3, TINY["input_size"], seed=1)
    stem = save_tiny_model(tmp_path, net)
    for path in (stem, stem + ".params", stem + ".json"):
        loaded = ParagraphSegmenter.load(path)
        np.testing.assert_array_equal(loaded.predict_fractions(pages), net(mx.nd.array(standardise(pages))).asnumpy())
    with pytest.raises(FileNotFoundError):
        ParagraphSegmenter.load(str(tmp_path / "missing"))


@pytest.mark.parametrize("page", [
    np.full((300, 200, 4), 200, np.uint8),                       # RGBA
    np.full((900, 640), 60000, np.uint16),                        # 16-bit gray
    np.full((7, 5), 255, np.uint8),                               # tiny
    np.random.default_rng(0).random((400, 900, 3)),               # float RGB, landscape
], ids=["rgba", "uint16", "tiny", "float-landscape"])
def test_predict_returns_fractions_of_the_page(tmp_path, page):
    segmenter = ParagraphSegmenter.load(save_tiny_model(tmp_path, tiny_net()))
    x, y, w, h = segmenter.predict(page)
    assert all(isinstance(v, float) for v in (x, y, w, h))
    assert 0 <= x <= x + w <= 1 + 1e-6 and 0 <= y <= y + h <= 1 + 1e-6


def test_crop_region_expands_about_the_centre():
    page = np.zeros((200, 100, 3), np.uint8)
    # box (10, 20, 50, 100) px = (0.1, 0.1, 0.5, 0.5) of the page; grown by 10%: w = h = 0.55 about the centre
    # (0.35, 0.35) -> x in [0.075, 0.625] -> px [7.5, 62.5] -> [7, 63); y -> [15, 125): 110 x 56 pixels
    assert crop_region(page, (10, 20, 50, 100), expand=0.1).shape == (110, 56, 3)


def block_page(shape=(280, 200), box=(0.2, 0.3, 0.5, 0.3)):
    """A light uint8 page of ``shape`` with a black rectangle at ``box`` (fractions) -> (page, box)."""
    height, width = shape
    page = np.full(shape, 240, np.uint8)
    x, y, w, h = box
    page[round(y * height):round((y + h) * height), round(x * width):round((x + w) * width)] = 0
    return page, box


def text_block_page(shape=(280, 200), box=(0.2, 0.3, 0.5, 0.3)):
    """block_page whose block is three 'lines' of ink, the first indented and the last short, as handwriting is:
    the block's top-left and bottom-right corners hold no ink."""
    page, box = block_page(shape, box)
    height, width = shape
    x1, y1, x2, y2 = (round(box[0] * width), round(box[1] * height), round((box[0] + box[2]) * width),
                      round((box[1] + box[3]) * height))
    page[y1:y2, x1:x2] = 240
    third = (y2 - y1) // 3
    page[y1:y1 + third - 4, x1 + 20:x2] = 0
    page[y1 + third:y1 + 2 * third - 4, x1:x2] = 0
    page[y1 + 2 * third:y2, x1:x1 + (x2 - x1) // 3] = 0
    return page, box


@pytest.mark.parametrize("make_page", [block_page, text_block_page])
def test_augment_page_moves_the_box_with_the_ink(make_page):
    page, box = make_page()
    geometry = PageAugmentParams(translate_x=0.05, translate_y=0.15, scale=0.1, rotation=4.0, margin=0.1,
                                 aspect=0.3, dark_border=0, illumination=0, contrast=0, brightness=0, gamma=0,
                                 blur=0, noise=0, jpeg=0)
    for seed in range(6):
        out, (x, y, w, h) = augment_page(page, box, np.random.default_rng(seed), geometry)
        assert out.shape == page.shape and out.dtype == np.uint8
        ys, xs = np.nonzero(out < 120)
        height, width = page.shape
        ink = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        np.testing.assert_allclose(ink, [x * width, y * height, (x + w) * width, (y + h) * height], atol=2.0)


def test_augment_page_is_deterministic_and_identity_when_off():
    page, box = block_page()
    first = augment_page(page, box, np.random.default_rng(5))
    second = augment_page(page, box, np.random.default_rng(5))
    np.testing.assert_array_equal(first[0], second[0])
    assert first[1] == second[1]
    out, same_box = augment_page(page, box, np.random.default_rng(5), NO_AUGMENT)
    np.testing.assert_array_equal(out, page)
    np.testing.assert_allclose(same_box, box, atol=1e-6)


# ---------------------------------------------------------------------------------------------- CLI

@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    require(os.path.exists(fonts.MANIFEST), "fonts not installed: run `make data`")
    from ocr.data import synthetic
    out = str(tmp_path_factory.mktemp("paragraph") / "iam")
    synthetic.generate(out, 3, seed=5, workers=1, progress=False)
    return out


def run_cli(tree, tmp_path, *flags):
    """The CLI on ``tree`` (CPU, batch 2) with checkpoints and logs under tmp_path; returns its history."""
    return cli.main(["--iam-root", tree, "-c", str(tmp_path / "ck"), "-d", str(tmp_path / "logs"), "-b", "2",
                     "-g", "-1", *flags])


def test_cli_one_epoch_warm_start_and_resume(tree, tmp_path):
    history = run_cli(tree, tmp_path, "-e", "1", "-n", "cnn_mse.params", "-y", "0.15")
    assert len(history) == 1 and 0 <= history[0]["val_iou"] <= 1
    for path in ("ck/cnn_mse.params", "ck/cnn_mse.ckpt", "logs/cnn_mse.jsonl", "logs/cnn_mse.png",
                 "logs/cnn_mse_boxes.png", "logs/cnn_mse_test_boxes.png"):
        assert os.path.exists(tmp_path / path), path
    with open(tmp_path / "ck" / "cnn_mse.json") as f:
        info = json.load(f)
    assert info["network"]["input_size"] == [372, 266] and info["parameters"] > 0
    assert info["hyperparameters"]["augmentation"]["translate_y"] == 0.15
    assert set(info["test_metrics"]) == {"test_iou", "test_giou_loss", "test_mse"}
    segmenter = ParagraphSegmenter.load(str(tmp_path / "ck" / "cnn_mse"))
    evaluated = cli.main(["--iam-root", tree, "--evaluate", "-f", str(tmp_path / "ck" / "cnn_mse")])
    assert evaluated == pytest.approx(info["test_metrics"], abs=1e-6)
    in_checkpoint_dir = cli.main(["--iam-root", tree, "--evaluate", "-f", "cnn_mse.params", "-c", str(tmp_path / "ck")])
    assert in_checkpoint_dir == evaluated

    # warm start with learning rate 0: the weights (not the BatchNorm running statistics) stay those of -f
    run_cli(tree, tmp_path, "-e", "1", "-r", "0", "-l", "iou", "-n", "cnn_iou.params", "-f", "cnn_mse.params")
    warm = ParagraphSegmenter.load(str(tmp_path / "ck" / "cnn_iou"))
    before = {k[len(segmenter.net.prefix):]: p.data().asnumpy() for k, p in segmenter.net.collect_params().items()}
    for key, param in warm.net.collect_params().items():
        if "running" not in key:
            np.testing.assert_array_equal(param.data().asnumpy(), before[key[len(warm.net.prefix):]])

    history = run_cli(tree, tmp_path, "-e", "2", "-n", "cnn_mse.params", "--resume")
    assert [h["epoch"] for h in history] == [1, 2]


@pytest.mark.parametrize("flags", [
    [],                                                     # no --iam-root
    ["--iam-root", "/nonexistent"],
    ["-l", "dice"],
    ["-b", "0"],
    ["-f", "missing.params"],
    ["--resume"],
    ["-n", "taken.params"],                                 # exists, no --resume / --overwrite
    ["--evaluate", "-f", "/no/model"],
])
def test_cli_bad_input_exits_2(tree, tmp_path, capsys, flags):
    os.makedirs(tmp_path / "ck")
    (tmp_path / "ck" / "taken.params").write_bytes(b"")
    argv = flags if not flags or flags[0] == "--iam-root" else ["--iam-root", tree, *flags]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv + ["-c", str(tmp_path / "ck"), "-d", str(tmp_path / "logs"), "-g", "-1"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
