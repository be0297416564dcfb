"""Train / evaluate the paragraph segmentation DCNN: ``python -m ocr.paragraph_segmentation_dcnn --iam-root DIR``.

Flags follow the reference script (REFERENCE.md section 2.4). The reference's two-step schedule works as written:
    ... -g 0 -r 0.001 -e 181 -n cnn_mse.params -y 0.15
    ... -g 0 -r 0.0001 -l iou -e 150 -n cnn_iou.params -f cnn_mse.params
Differences: ``-l iou`` is the GIoU loss (1 - GIoU, with a gradient for disjoint boxes; the reference's
-log(IoU) had none); ``-g`` falls back to the CPU with a notice; ``-f`` warm-starts from ``<checkpoint_dir>/<file>``
(or a path) and needs the JSON written beside it; ``--resume`` continues ``<checkpoint_dir>/<name>.ckpt``;
training pages get scan/photo augmentation (ocr/paragraph/augment.py) on top of the -x/-y translation
(``--no-augment``: translation only, as the reference), applied at the network input size for speed.
Train on the IAM 'trainset' split; each epoch reports the mean IoU (best checkpoint by it) and 0.5*MSE on
'validation' and draws predicted (red) and true (green) boxes of a few validation pages into
``<log_dir>/<name>_boxes.png``; the final evaluation on 'test' goes into ``<name>.json``.
Targets are the handwritten-block boxes grown by -s about their centre, as fractions of the page fitted
into 1120x800.
"""
import argparse
import json
import os
import sys
from dataclasses import asdict, replace

import cv2
import mxnet as mx
import numpy as np
from mxnet import gluon

from ocr.core.geometry import FORM_SIZE
from ocr.paragraph.augment import NO_AUGMENT, PageAugmentParams, augment_page
from ocr.core.geometry import box_to_px, expand_box
from ocr.core.loading import pick_context
from ocr.metrics import giou, iou
from ocr.paragraph.net import DEFAULT_CONFIG, LOSSES, build_paragraph_net
from ocr.paragraph.predictor import NORMALISATION, ParagraphSegmenter, reduce_page, resolve_model, standardise
from ocr.core.paths import atomic_write_bytes
from ocr.core.training import (check_iam_root, check_model_files, checkpoint_stem, fail, fit, load_checkpoint, load_weights, refuse_existing_run, run_cli, save_json, settle_shapes)

PREVIEW_PAGES = 4        # validation pages drawn per epoch


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        fail(message)


def _size(text):
    """'372x266' -> [372, 266] (height, width)."""
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError("expected HxW, e.g. 372x266, not %r" % text)
    if height < 32 or width < 32:
        raise argparse.ArgumentTypeError("input size must be at least 32x32")
    return [height, width]


def parse_args(argv=None):
    """Command-line flags -> argparse.Namespace (see the module docstring)."""
    p = _Parser(description="Train the paragraph segmentation DCNN (one box around the handwritten block).")
    p.add_argument("--iam-root", help="IAM-format tree (real IAM or synthetic), required")
    p.add_argument("-g", "--gpu_id", default="0", help="GPU id; -1 = CPU (no GPU: CPU with a notice)")
    p.add_argument("-l", "--loss", default="mse", choices=sorted(LOSSES), help="mse, or iou (= 1 - GIoU)")
    p.add_argument("-e", "--epochs", type=int, default=300)
    p.add_argument("-b", "--batch_size", type=int, default=32)
    p.add_argument("-r", "--learning_rate", type=float, default=0.001, help="Adam learning rate (constant)")
    p.add_argument("-c", "--checkpoint_dir", default="model_checkpoint")
    p.add_argument("-n", "--checkpoint_name", default="cnn.params")
    p.add_argument("-f", "--restore_checkpoint_name", help="warm start: weights in checkpoint_dir (or a path)")
    p.add_argument("-d", "--log_dir", default="logs")
    p.add_argument("-s", "--expand_bb_scale", type=float, default=0.03, help="target = box grown by this")
    p.add_argument("-x", "--random_x_translation", type=float, default=0.05, help="+- fraction of the width")
    p.add_argument("-y", "--random_y_translation", type=float, default=0.05, help="+- fraction of the height")
    p.add_argument("--no-augment", action="store_true", help="only the -x/-y translation (as the reference)")
    p.add_argument("--input-size", type=_size, default=DEFAULT_CONFIG["input_size"],
                   help="network input HxW (default %dx%d)" % tuple(DEFAULT_CONFIG["input_size"]))
    p.add_argument("--dropout", type=float, default=DEFAULT_CONFIG["dropout"])
    p.add_argument("--max-train-items", type=int, help="use at most this many training pages (random subset)")
    p.add_argument("--max-test-items", type=int, help="use at most this many validation / test pages")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--resume", action="store_true", help="continue <checkpoint_dir>/<name>.ckpt")
    p.add_argument("--overwrite", action="store_true", help="replace an existing checkpoint of the same name")
    args = p.parse_args(argv)
    for flag, value in (("-e", args.epochs), ("-b", args.batch_size), ("-r", args.learning_rate)):
        if value < 0 or (flag == "-b" and value == 0):
            fail("%s must be %s, got %s" % (flag, "positive" if flag == "-b" else ">= 0", value))
    return args


def load_pages(root, split, limit, seed, input_size):
    """Pages of an IAMDataset split with a handwritten block -> (uint8 (N, H, W) at input_size, float32 (N, 4)
    tight block boxes as fractions of the fitted page, ids). ``limit`` keeps a seeded random subset."""
    from ocr.data.iam import IAMDataset
    dataset = IAMDataset(root, "form", split=split, output_data="bb", output_parse_method="form")
    order = np.arange(len(dataset))
    if limit is not None and limit < len(order):
        order = np.sort(np.random.default_rng([seed, len(split)]).permutation(len(order))[:limit])
    pages, boxes, ids = [], [], []
    for i in order:
        fitted, box = dataset[i]
        if len(box):
            pages.append(reduce_page(fitted, input_size))
            boxes.append(box[0])
            ids.append(dataset.item_id(i))
    shape = (0,) + tuple(input_size)
    return (np.stack(pages) if pages else np.zeros(shape, np.uint8)), np.array(boxes, np.float32).reshape(-1, 4), ids


def targets(boxes, scale):
    """Tight boxes (N, 4) fractions -> training targets: each grown by ``scale`` about its centre, clipped."""
    return np.array([expand_box(b, scale, scale) for b in boxes], np.float32).reshape(-1, 4)


class Batches:
    """Sized iterable of training batches (float32 NDArray (B, 1, H, W), float32 NDArray (B, 4) targets): pages
    in ``order``, page i augmented with numpy Generator(seeds[i]); the last short batch is kept."""

    def __init__(self, pages, boxes, order, seeds, batch_size, augment, expand, ctx):
        self.pages, self.boxes, self.order, self.seeds = pages, boxes, order, seeds
        self.batch_size, self.augment, self.expand, self.ctx = batch_size, augment, expand, ctx

    def __len__(self):
        return -(-len(self.order) // self.batch_size)

    def __iter__(self):
        for start in range(0, len(self.order), self.batch_size):
            images, boxes = [], []
            for i, seed in zip(self.order[start:start + self.batch_size], self.seeds[start:start + self.batch_size]):
                image, box = augment_page(self.pages[i], tuple(self.boxes[i]), np.random.default_rng(seed),
                                          self.augment)
                images.append(image)
                boxes.append(box)
            yield (mx.nd.array(standardise(np.stack(images), NORMALISATION["mean"], NORMALISATION["std"]),
                               ctx=self.ctx),
                   mx.nd.array(targets(boxes, self.expand), ctx=self.ctx))


def predict(net, pages, ctx, batch_size=32):
    """uint8 pages (N, H, W) at the input size -> float32 (N, 4) predicted boxes, fractions."""
    out = [net(mx.nd.array(standardise(pages[i:i + batch_size], NORMALISATION["mean"], NORMALISATION["std"]),
                           ctx=ctx)).asnumpy() for i in range(0, len(pages), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, 4), np.float32)


def box_metrics(predicted, target, prefix):
    """Boxes (N >= 1, 4) fractions -> {prefix_iou: mean IoU, prefix_giou_loss: mean 1 - GIoU, prefix_mse: mean of
    0.5 * squared coordinate error (the reference's L2Loss)}."""
    return {prefix + "_iou": float(np.mean(np.diag(iou(predicted, target)))),
            prefix + "_giou_loss": float(np.mean(1 - np.diag(giou(predicted, target)))),
            prefix + "_mse": float(0.5 * np.mean(np.square(predicted - target)))}


def draw_boxes(pages, predicted, target):
    """uint8 pages (N, H, W) with predicted (red) and target (green) boxes, side by side -> BGR uint8 image."""
    tiles = []
    for page, pred, true in zip(pages, predicted, target):
        tile = cv2.cvtColor(page, cv2.COLOR_GRAY2BGR)
        for box, colour in ((true, (0, 200, 0)), (pred, (0, 0, 255))):
            x1, y1, x2, y2 = box_to_px(box, page.shape)
            cv2.rectangle(tile, (x1, y1), (max(x1, x2 - 1), max(y1, y2 - 1)), colour, 2)
        tiles.append(tile)
    return np.hstack(tiles)


def evaluate(net, pages, boxes, ctx, prefix, preview_path=None):
    """Metrics (box_metrics) of ``net`` on pages/targets; draws the first PREVIEW_PAGES into preview_path."""
    predicted = predict(net, pages, ctx)
    if preview_path:
        image = draw_boxes(pages[:PREVIEW_PAGES], predicted[:PREVIEW_PAGES], boxes[:PREVIEW_PAGES])
        atomic_write_bytes(preview_path, cv2.imencode(".png", image)[1].tobytes())
    return box_metrics(predicted, boxes, prefix)


def main(argv=None):
    """Entry point; returns the history list (or exits 2 on bad input)."""
    args = parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    check_iam_root(args.iam_root, "forms/, xml/")
    name = checkpoint_stem(args.checkpoint_name)
    ckpt_path = os.path.join(args.checkpoint_dir, name + ".ckpt")
    resume = warm = None
    if args.resume:
        if not os.path.exists(ckpt_path):
            fail("nothing to resume: %s does not exist" % ckpt_path)
        resume = load_checkpoint(ckpt_path)
    refuse_existing_run(args.checkpoint_dir, name, args.overwrite, args.resume and ckpt_path, "pass --resume")
    if args.restore_checkpoint_name and resume is None:
        source = args.restore_checkpoint_name
        if not os.path.exists(source):
            source = os.path.join(args.checkpoint_dir, source)
        try:
            warm = check_model_files(resolve_model(source))
        except FileNotFoundError as err:
            fail("-f: %s (the weights and the JSON written beside them are both needed)" % err)
    ctx = pick_context(args.gpu_id)

    if resume is not None:
        network = resume["extra"]["network"]
    elif warm is not None:
        with open(warm[1], encoding="utf-8") as f:
            network = json.load(f)["network"]
    else:
        network = {**DEFAULT_CONFIG, "input_size": args.input_size, "dropout": args.dropout}
    input_size = network["input_size"]

    from ocr.data.iam import IAMNotFoundError
    data = {}
    try:
        for role, split, limit in (("train", "trainset", args.max_train_items),
                                   ("validation", "validation", args.max_test_items),
                                   ("test", "test", args.max_test_items)):
            data[role] = load_pages(args.iam_root, split, limit, args.seed, input_size)
            print("%s: %d pages" % (role, len(data[role][0])))
    except IAMNotFoundError as err:
        fail(str(err))
    if not len(data["train"][0]) or not len(data["validation"][0]):
        fail("no training or validation pages with a handwritten block in %s" % args.iam_root)

    augment = PageAugmentParams(translate_x=args.random_x_translation, translate_y=args.random_y_translation)
    if args.no_augment:
        augment = replace(NO_AUGMENT, translate_x=args.random_x_translation, translate_y=args.random_y_translation)
    train_pages, train_boxes, _ = data["train"]
    validation_pages, validation_targets = data["validation"][0], targets(data["validation"][1], args.expand_bb_scale)
    loss = LOSSES[args.loss]

    def make_batches(epoch, rng):
        order = rng.permutation(len(train_pages))
        seeds = rng.integers(0, 2**63, size=len(order))
        return Batches(train_pages, train_boxes, order, seeds, args.batch_size, augment, args.expand_bb_scale, ctx)

    def loss_fn(net, batch):
        images, boxes = batch
        return loss(mx.nd, net(images), boxes).mean()

    mx.random.seed(args.seed)
    net = build_paragraph_net(network)
    net.initialize(mx.init.Xavier(), ctx=ctx)
    net.hybridize(static_alloc=True)
    settle_shapes(net, (1, 1) + tuple(input_size), ctx)
    if warm is not None:
        load_weights(net, warm[0], ctx)
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": args.learning_rate})

    model_info = {
        "format": "ocr-paragraph-segmentation/1",
        "network": network, "form_size": list(FORM_SIZE), "normalisation": NORMALISATION,
        "output": "(x, y, w, h) of the handwritten block from soft-argmax edge profiles, fractions of the page "
                  "fitted into 1120x800",
        "target": {"expand_bb_scale": args.expand_bb_scale, "box": "all <cmp> of the form, grown about its centre"},
        "parameters": sum(p.data().size for p in net.collect_params().values()),
        "hyperparameters": {"loss": args.loss, "optimizer": "adam", "learning_rate": args.learning_rate,
                            "batch_size": args.batch_size, "epochs": args.epochs, "seed": args.seed,
                            "augmentation": asdict(augment)},
        "training": {"command": "python -m ocr.paragraph_segmentation_dcnn " + " ".join(argv),
                     "iam_root": os.path.abspath(args.iam_root),
                     "splits": {"train": "trainset", "validation": "validation", "test": "test"},
                     "items": {role: len(d[0]) for role, d in data.items()},
                     "warm_start": warm[0] if warm else None},
    }
    print("network %s: %d parameters" % (network, model_info["parameters"]))
    preview = os.path.join(args.log_dir, name + "_boxes.png")
    history = fit(net, trainer, make_batches, loss_fn,
                  lambda n: evaluate(n, validation_pages, validation_targets, ctx, "val", preview),
                  epochs=args.epochs, checkpoint_dir=args.checkpoint_dir, log_dir=args.log_dir, name=name,
                  best_metric="val_iou", lower_is_better=False, model_info=model_info, seed=args.seed,
                  resume=resume)

    json_path = os.path.join(args.checkpoint_dir, name + ".json")
    if history and len(data["test"][0]):
        # a fresh net: loading into the trained one can fail on weights MKL-DNN has reordered for inference
        net = ParagraphSegmenter.load(os.path.join(args.checkpoint_dir, name), ctx).net
        test = evaluate(net, data["test"][0], targets(data["test"][1], args.expand_bb_scale), ctx, "test",
                        os.path.join(args.log_dir, name + "_test_boxes.png"))
        with open(json_path, encoding="utf-8") as f:
            info = json.load(f)
        info["test_metrics"] = test
        info["history"] = history
        save_json(json_path, info)
        print("test (best epoch %d): %s" % (info["best_epoch"], " ".join("%s=%.4f" % kv for kv in test.items())))
    return history


if __name__ == "__main__":
    run_cli(main)
