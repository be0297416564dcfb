"""SSD word detector: anchors, target assignment, hard-negative mining, loss, NMS, box augmentation, a tiny model
that learns, save/load round trip through WordDetector, and the CLI on a tiny synthetic tree."""
import json
import math
import os

import cv2
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from ocr.words import train as cli
from ocr.words.anchors import detect, feature_sizes, make_anchors, nms
from ocr.words.augment import BoxAugmentParams, augment_region, remove_boxes, translate
from ocr.words.predictor import WordDetector, ink_map
from ocr.core.geometry import unletterbox as undo_letterbox, xywh_to_corners
from ocr.words.boxes import SSDLoss, assign_targets, hard_negative_mask
from ocr.words.net import build_ssd
from ocr.core.card import InputSpec, ModelCard, write_card
from ocr.core.training import save_params

# 32 x 32 input: maps of 8, 4, 2, 1, 1 cells; one shape on the 8-map, two on the 4-map -> 64 + 32 = 96 anchors.
SMALL = {"width": 1, "image_size": 32, "anchors": [[(0.25, 0.125)], [(0.5, 0.5), (0.2, 0.1)], [], [], []]}
# 16 x 16 input: a 4 x 4 map of anchors that are exactly its cells.
GRID = {"width": 1, "image_size": 16, "anchors": [[(0.25, 0.25)], [], [], [], []]}
# The tiny trainable model: 64 x 64 input, anchors for the fake words of ``fake_region``.
TINY = {"width": 2, "image_size": 64, "anchors": [[(0.12, 0.06), (0.2, 0.06)], [(0.3, 0.1)], [], [], []]}


def test_feature_sizes_and_anchor_count():
    assert feature_sizes(350) == [88, 44, 22, 11, 6]
    assert feature_sizes(32) == [8, 4, 2, 1, 1]
    anchors = make_anchors(SMALL)
    assert len(anchors) == 8 * 8 * 1 + 4 * 4 * 2
    net = build_ssd(SMALL)
    net.initialize()
    scores, offsets = net(mx.nd.zeros((2, 1, 32, 32)))
    assert scores.shape == (2, 96, 2) and offsets.shape == (2, 96, 4)


def test_anchor_coordinates_by_hand():
    corners = make_anchors(SMALL).corners
    # 8-map, cell (row 0, col 0): centre (1/16, 1/16), shape 0.25 x 0.125
    np.testing.assert_allclose(corners[0], [0.0625 - 0.125, 0.0, 0.0625 + 0.125, 0.125], atol=1e-6)
    # cell (row 0, col 1): centre x = 1.5 / 8
    np.testing.assert_allclose(corners[1], [0.1875 - 0.125, 0.0, 0.1875 + 0.125, 0.125], atol=1e-6)
    # 4-map starts at 64: cell (0, 0) centre (0.125, 0.125), shapes 0.5 x 0.5 then 0.2 x 0.1
    np.testing.assert_allclose(corners[64], [-0.125, -0.125, 0.375, 0.375], atol=1e-6)
    np.testing.assert_allclose(corners[65], [0.025, 0.075, 0.225, 0.175], atol=1e-6)
    # cell (row 1, col 2): centre (0.625, 0.375), second shape
    np.testing.assert_allclose(corners[64 + 2 * (4 * 1 + 2) + 1], [0.525, 0.325, 0.725, 0.425], atol=1e-6)


def test_default_word_network():
    net = build_ssd({})
    net.initialize()
    net.hybridize()
    scores, _ = net(mx.nd.zeros((1, 1, 350, 350)))
    assert scores.shape == (1, len(make_anchors({})), 2)
    assert sum(p.data().size for p in net.collect_params().values()) < 500_000


def test_target_assignment_by_hand():
    anchors = make_anchors(GRID)                       # anchor 4 * row + col covers that cell of a 4 x 4 grid
    boxes = np.array([[0.0, 0.0, 0.25, 0.25],          # = anchor 0
                      [0.5, 0.5, 1.0, 0.75],           # IoU 0.5 with anchors 10 and 11
                      [0.3, 0.8, 0.45, 0.95]])         # best anchor 13 at IoU 0.36: claimed anyway
    classes, offsets = assign_targets(anchors, boxes, threshold=0.5)
    assert np.nonzero(classes)[0].tolist() == [0, 10, 11, 13]
    np.testing.assert_allclose(offsets[0], 0, atol=1e-6)
    # box 1 centre (0.75, 0.625), 0.5 x 0.25; anchor 10 centre (0.625, 0.625), 0.25 x 0.25; variances 0.1, 0.2
    np.testing.assert_allclose(offsets[10], [5.0, 0.0, math.log(2) / 0.2, 0.0], atol=1e-4)
    np.testing.assert_allclose(offsets[11], [-5.0, 0.0, math.log(2) / 0.2, 0.0], atol=1e-4)
    np.testing.assert_allclose(offsets[13], [0.0, 0.0, math.log(0.6) / 0.2, math.log(0.6) / 0.2], atol=1e-4)
    assert not offsets[[i for i in range(16) if i not in (0, 10, 11, 13)]].any()
    empty_classes, empty_offsets = assign_targets(anchors, np.zeros((0, 4)))
    assert not empty_classes.any() and not empty_offsets.any()


def test_hard_negative_mining_picks_highest_losses():
    losses = mx.nd.array([[0.1, 5.0, 0.9, 0.3, 0.8, 0.2],
                          [0.1, 0.2, 0.3, 0.7, 0.4, 0.5]])
    positive = mx.nd.array([[0, 1, 0, 0, 0, 0],
                            [0, 0, 0, 0, 0, 0]])
    mask = hard_negative_mask(mx.nd, losses, positive, ratio=2, min_negatives=1).asnumpy()
    assert mask[0].tolist() == [0, 0, 1, 0, 1, 0]      # 2 x 1 positive: the two highest-loss negatives
    assert mask[1].tolist() == [0, 0, 0, 1, 0, 0]      # no positive: min_negatives = 1, the highest
    mask = hard_negative_mask(mx.nd, losses, positive, ratio=3).asnumpy()
    assert mask[0].tolist() == [0, 0, 1, 1, 1, 0] and not mask[1].any()


def test_loss_by_hand():
    scores, offsets = mx.nd.zeros((1, 10, 2)), mx.nd.zeros((1, 10, 4))   # every anchor: p = 0.5, CE = log 2
    classes = mx.nd.array([[0, 0, 1, 0, 0, 0, 0, 0, 0, 0]])
    targets = mx.nd.zeros((1, 10, 4))
    targets[0, 2, 0] = 1.0                                             # Smooth-L1(1) = 0.5
    loss = SSDLoss(negative_ratio=3, min_negatives=0)(scores, offsets, classes, targets).asscalar()
    assert loss == pytest.approx(4 * math.log(2) + 0.5, rel=1e-5)    # 1 positive + 3 negatives, / 1 positive


def _logit(p):
    """Two class scores whose softmax gives text probability ``p``."""
    return [0.0, math.log(p / (1 - p))]


def test_detect_suppresses_overlaps_once():
    corners = np.array([[0.1, 0.1, 0.3, 0.2], [0.11, 0.1, 0.31, 0.2], [0.5, 0.5, 0.7, 0.6],
                        [0.6, 0.5, 0.8, 0.6], [0.8, 0.8, 0.9, 0.9]], np.float32)
    scores = np.array([[_logit(0.9), _logit(0.8), _logit(0.7), _logit(0.6), _logit(0.005)]], np.float32)
    offsets = np.zeros((1, 5, 4), np.float32)                          # decoded boxes = anchors
    boxes, probs = detect(scores, offsets, corners, min_c=0.01, overlap_thres=0.5, topk=10)[0]
    np.testing.assert_allclose(boxes, corners[[0, 2, 3]], atol=1e-6)   # 1 overlaps 0 (IoU 0.9); 4 < min_c
    np.testing.assert_allclose(probs, [0.9, 0.7, 0.6], atol=1e-5)
    boxes, _ = detect(scores, offsets, corners, min_c=0.01, overlap_thres=0.3, topk=10)[0]
    np.testing.assert_allclose(boxes, corners[[0, 2]], atol=1e-6)      # 3 overlaps 2 at IoU 1/3
    boxes, _ = detect(scores, offsets, corners, min_c=0.01, overlap_thres=0.5, topk=1)[0]
    assert len(boxes) == 1


@pytest.mark.parametrize("seed", range(40))
def test_nms_keeps_what_mxnet_box_nms_keeps(seed):
    rng = np.random.default_rng(seed)
    count = int(rng.integers(1, 600))
    centres, sizes = rng.random((count, 2)) * rng.choice([0.2, 1.0]), rng.random((count, 2)) * rng.choice([0.02, 0.4])
    corners = np.clip(np.concatenate([centres - sizes / 2, centres + sizes / 2], 1), 0, 1).astype(np.float32)
    corners[rng.random(count) < 0.1] = 1.0                            # empty boxes, as clipping to the region makes
    scores = rng.random(count).astype(np.float32)
    if seed % 2:
        scores = np.round(scores, 1).astype(np.float32)                # ties
    overlap, valid, topk = rng.choice([0.1, 0.3, 0.5]), rng.choice([0.01, 0.5]), int(rng.choice([7, 2000]))
    rows = np.concatenate([scores[:, None], corners], axis=1)
    expected = mx.nd.contrib.box_nms(mx.nd.array(rows[None]), overlap_thresh=overlap, valid_thresh=valid, topk=topk,
                                     coord_start=1, score_index=0, id_index=-1, force_suppress=True).asnumpy()[0]
    np.testing.assert_array_equal(rows[nms(scores, corners, overlap, valid, topk)], expected[expected[:, 0] >= 0])


def test_translate_moves_boxes_by_the_full_shift():
    image = np.full((100, 200), 255, np.uint8)
    image[20:30, 40:80] = 0
    boxes = np.array([[0.2, 0.2, 0.2, 0.1], [0.95, 0.5, 0.05, 0.1]])  # the ink; a box that leaves the image
    shifted, moved = translate(image, boxes, dx=10, dy=-5)
    ys, xs = np.nonzero(shifted < 128)
    assert (xs.min(), xs.max() + 1, ys.min(), ys.max() + 1) == (50, 90, 15, 25)
    np.testing.assert_allclose(moved, [[0.25, 0.15, 0.2, 0.1]], atol=1e-6)
    assert shifted[:, :10].min() == 255 and shifted[-5:].min() == 255    # uncovered border is paper


def test_remove_boxes_erases_ink_and_labels():
    image = np.full((100, 100), 250, np.uint8)
    image[10:20, 10:30] = 0
    image[50:60, 10:30] = 0
    boxes = np.array([[0.1, 0.1, 0.2, 0.1], [0.1, 0.5, 0.2, 0.1]])
    erased, kept = remove_boxes(image, boxes, np.random.default_rng(0), probability=1.0)
    assert len(kept) == 0 and erased.min() == 250
    same, kept = remove_boxes(image, boxes, np.random.default_rng(0), probability=0.0)
    assert same is image and len(kept) == 2
    out, kept = augment_region(image, boxes, np.random.default_rng(1), BoxAugmentParams(0.05, 0.05, 0.0))
    assert out.shape == image.shape and kept.shape == (2, 4)


def fake_region(rng, size=700):
    """A 700 x 700 page of black 'words' (filled rectangles) on white -> (uint8 image, boxes (n, 4) xywh)."""
    image = np.full((size, size), 255, np.uint8)
    boxes = []
    for row in range(4):
        x = rng.uniform(0.05, 0.15)
        while x < 0.75:
            w = rng.uniform(0.1, 0.2)
            y = 0.15 + 0.2 * row + rng.uniform(-0.02, 0.02)
            boxes.append((x, y, w, 0.05))
            x1, y1, x2, y2 = (int(v * size) for v in (x, y, x + w, y + 0.05))
            image[y1:y2, x1:x2] = 0
            x += w + rng.uniform(0.05, 0.1)
    return image, np.array(boxes, np.float32)


def tiny_batch(count=4, seed=0):
    """(inks (N, 1, 64, 64), classes, offsets) NDArrays of fake regions, and the list of true boxes."""
    rng, anchors = np.random.default_rng(seed), make_anchors(TINY)
    inks, classes, offsets, truths = [], [], [], []
    for _ in range(count):
        image, boxes = fake_region(rng)
        c, o = assign_targets(anchors, xywh_to_corners(boxes))
        inks.append(ink_map(image, TINY["image_size"]))
        classes.append(c)
        offsets.append(o)
        truths.append((image, boxes))
    return (mx.nd.array(np.stack(inks)), mx.nd.array(np.stack(classes)), mx.nd.array(np.stack(offsets))), truths


def tiny_net(seed=0):
    """A hybridized, initialised TINY SSD (deferred shapes settled)."""
    mx.random.seed(seed)
    net = build_ssd(TINY)
    net.initialize(mx.init.Xavier())
    net.hybridize()
    net(mx.nd.zeros((1, 1, 64, 64)))
    return net


def test_tiny_model_loss_falls():
    net, ((inks, classes, offsets), _) = tiny_net(), tiny_batch()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01})
    loss_fn, losses = SSDLoss(), []
    loss_fn.hybridize()
    for _ in range(30):
        with autograd.record():
            loss = loss_fn(*net(inks), classes, offsets).mean()
        loss.backward()
        trainer.step(1)
        losses.append(loss.asscalar())
    assert losses[-1] < 0.5 * losses[0]


def test_undo_letterbox_by_hand():
    # a 350 x 700 (h x w) region fitted into 700 x 700 sits at (0, 0.25, 1, 0.5)
    np.testing.assert_allclose(undo_letterbox([[0.1, 0.3, 0.2, 0.1]], (0.0, 0.25, 1.0, 0.5)),
                               [[0.1, 0.1, 0.2, 0.2]], atol=1e-6)


def test_save_load_round_trip(tmp_path):
    net = tiny_net()
    save_params(net, str(tmp_path / "m.params"))
    write_card(str(tmp_path / "m.json"), ModelCard(stage="words", network=TINY, input=InputSpec((700, 700), "ink"),
                                                   detection={"score_threshold": 0.0, "topk": 20}))
    detector = WordDetector.load(str(tmp_path / "m"))
    (inks, _, _), truths = tiny_batch(1)
    region = truths[0][0]
    expected = detect(*(output.asnumpy() for output in net(inks)), make_anchors(TINY), topk=20)[0]
    boxes, scores = detector.predict(region)
    np.testing.assert_allclose(scores, expected[1], rtol=1e-5)
    np.testing.assert_allclose(xywh_to_corners(boxes), expected[0], atol=1e-5)
    # the same region in colour with white margins left and right: boxes come back in its own frame
    wide = np.full((700, 1400, 3), 255, np.uint8)
    wide[:, 350:1050] = region[:, :, None]
    wide_boxes, wide_scores = detector.predict(wide, score_threshold=0.5)
    assert wide_boxes.shape[1] == 4 and len(wide_boxes) == len(wide_scores)
    assert np.all((wide_boxes >= 0) & (wide_boxes <= 1))


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    """A 4-form synthetic IAM tree: 2 train, 1 validation, 1 test forms."""
    from ocr.data import synthetic
    root = str(tmp_path_factory.mktemp("ssd_tree"))
    synthetic.generate(root, 4, seed=5, workers=1, progress=False)
    return root


def test_cli_one_epoch_then_evaluate_and_resume(synthetic_root, tmp_path):
    logs, ckpt = str(tmp_path / "logs"), str(tmp_path / "ckpt")
    history = cli.main(["--iam-root", synthetic_root, "--epoch", "1", "-s", "2", "-w", "128", "--width", "2",
                        "--lr-step", "1", "-d", logs, "-c", ckpt, "-n", "t"])
    assert len(history) == 1 and {"val_f1", "val_map", "val_precision", "val_recall"} <= set(history[0])
    with open(os.path.join(ckpt, "word_t.json"), encoding="utf-8") as f:
        info = json.load(f)
    assert info["network"]["image_size"] == 128 and info["hyperparameters"]["negative_ratio"] == 3
    assert "val_line_f1" in info["validation_metrics"] and "test_line_f1" in info["test_metrics"]
    assert 0.05 <= info["detection"]["score_threshold"] <= 0.95      # tuned on validation
    assert os.path.exists(os.path.join(logs, "word_t.jsonl")) and os.path.exists(os.path.join(logs, "word_t.png"))
    assert cv2.imread(os.path.join(logs, "word_t_val0.png")).shape == (700, 700, 3)
    metrics = cli.main(["--iam-root", synthetic_root, "--evaluate", "-p", os.path.join(ckpt, "word_t"),
                        "--eval-split", "validation"])
    assert set(metrics) == {"validation_precision", "validation_recall", "validation_f1", "validation_map",
                            "validation_line_f1"}
    history = cli.main(["--iam-root", synthetic_root, "-e", "2", "-s", "2", "-d", logs, "-c", ckpt, "-n", "t",
                        "-p", os.path.join(ckpt, "word_t.ckpt")])
    assert [h["epoch"] for h in history] == [1, 2]


@pytest.mark.parametrize("argv", [["-e", "1"], ["--iam-root", "/no/such/folder"], ["--iam-root", ".", "-e", "0"],
                                  ["--iam-root", ".", "-o", "2"], ["--iam-root", ".", "--bogus"],
                                  ["--iam-root", ".", "--evaluate", "-p", "/no/model"]])
def test_cli_bad_input_exits_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_shrink_boxes_undoes_the_training_growth():
    from ocr.core.geometry import expand_box
    from ocr.core.geometry import shrink_boxes
    tight = (0.2, 0.3, 0.1, 0.04)
    grown = expand_box(tight, 0.05, 0.05)
    np.testing.assert_allclose(shrink_boxes([grown], 0.05)[0], tight, atol=1e-6)
