"""Train / evaluate the SSD word (or line) detector: ``python -m ocr.word_and_line_segmentation --iam-root DIR``.

Flags follow the reference script (REFERENCE.md section 3.4); differences:
* -g/--gpu_count: 0 (the default) trains on the CPU; >= 1 uses the first GPU (no multi-GPU data parallelism);
* -m/--min_c, -o/--overlap_thres, -t/--topk drive the one class-agnostic NMS of every evaluation (default topk 300:
  synthetic regions carry up to ~210 words);
* --score-threshold: lowest score counted in precision / recall / F1 during training; at the end the F1-best
  threshold on the validation split is stored in the model JSON and used for the final validation and test figures
  and by WordDetector;
* --lr-step N: halve the Adam learning rate every N epochs (the default 3e-3 suits a narrow net from scratch);
* -x/-y translate by up to that fraction of the width / height and the boxes move by the same amount;
* -p/--load_model: a ``.ckpt`` resumes a run (step, optimizer, RNG); a model (.params/.json) warm-starts weights;
* --evaluate: no training; evaluate the model of -p (default models/word_segmentation) on --eval-split.
Data: ``IAMDataset(root, "form_bb", output_data="bb", output_parse_method=-db)``; train on 'trainset', keep the
best epoch by validation mAP (IoU 0.5), evaluate the best weights on 'validation' and 'test' at the end. Word models
also get the line F1: predicted words grouped with ocr.words.layout against the true line boxes.
"""
import argparse
import json
import math
import os
import sys
from dataclasses import asdict

import cv2
import mxnet as mx
import numpy as np
from mxnet import gluon

from ocr.core.geometry import REGION_SIZE
from ocr.words.augment import BoxAugmentParams, augment_region
from ocr.core.geometry import box_to_px, expand_box
from ocr.words.predictor import DEFAULT_DETECTION, WordDetector, ink_map, resolve_model
from ocr.core.geometry import xywh_to_corners
from ocr.words.layout import group_words_into_lines
from ocr.metrics import average_precision, match_boxes
from ocr.core.loading import pick_context
from ocr.words.net import LINE_ANCHORS, WORD_ANCHORS, build_ssd
from ocr.words.boxes import SSDLoss, assign_targets, make_anchors
from ocr.core.paths import atomic_write_bytes
from ocr.core.training import (check_iam_root, check_model_files, checkpoint_stem, fail, fit, load_checkpoint, load_weights, refuse_existing_run, run_cli, save_json, settle_shapes)

MATCH_THRESHOLD = 0.5       # anchor-box IoU for a positive anchor
NEGATIVE_RATIO = 3.0        # hard negatives per positive
MIN_NEGATIVES = 16          # negatives trained in a region without boxes
IOU_THRESHOLD = 0.5         # detection counts as correct at this IoU (precision / recall / F1 / mAP)
PREVIEW_REGIONS = 3         # validation regions drawn with their predicted boxes into the log dir


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        fail(message)


def parse_args(argv=None):
    """Command-line flags -> argparse.Namespace (see the module docstring)."""
    p = _Parser(prog="python -m ocr.word_and_line_segmentation",
                description="Train or evaluate the SSD word / line detector.")
    p.add_argument("--iam-root", help="IAM-format tree (real IAM or synthetic)")
    p.add_argument("-g", "--gpu_count", type=int, default=0, help="0: CPU; >= 1: the first GPU")
    p.add_argument("-b", "--expand_bb_scale", type=float, default=0.05, help="ground-truth box growth (w and h)")
    p.add_argument("-m", "--min_c", type=float, help="lowest probability kept before NMS (default 0.01)")
    p.add_argument("-o", "--overlap_thres", type=float, help="NMS IoU threshold (default 0.1)")
    p.add_argument("-t", "--topk", type=int, help="boxes kept after NMS (default 300)")
    p.add_argument("-e", "--epochs", type=int, default=60)
    p.add_argument("-l", "--learning_rate", type=float, default=3e-3, help="Adam learning rate")
    p.add_argument("--lr-step", type=int, default=0, help="halve the learning rate every this many epochs (0: never)")
    p.add_argument("-s", "--batch_size", type=int, default=8)
    p.add_argument("-w", "--image_size", type=int, default=350, help="side of the square net input")
    p.add_argument("-x", "--random_x_translation", type=float, default=0.03)
    p.add_argument("-y", "--random_y_translation", type=float, default=0.03)
    p.add_argument("-r", "--random_remove_box", type=float, default=0.15)
    p.add_argument("-d", "--log_dir", default="logs")
    p.add_argument("-c", "--checkpoint_dir", default="model_checkpoint")
    p.add_argument("-n", "--checkpoint_name", default="ssd", help="saved as <detection_box>_<name>")
    p.add_argument("-db", "--detection_box", default="word", choices=["word", "line"])
    p.add_argument("-p", "--load_model", help=".ckpt to resume, or a model (.params/.json) to warm-start / evaluate")
    p.add_argument("--width", type=int, default=8, help="trunk width unit (channels 16, 32, 48 at 8)")
    p.add_argument("--score-threshold", type=float, default=DEFAULT_DETECTION["score_threshold"])
    p.add_argument("--max-train-items", type=int, help="use at most this many training regions (random subset)")
    p.add_argument("--max-test-items", type=int, help="use at most this many validation / test regions")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader worker processes (0 = in-process)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing checkpoint of the same name")
    p.add_argument("--evaluate", action="store_true", help="evaluate -p (or the shipped model); no training")
    p.add_argument("--eval-split", default="test", choices=["trainset", "validation", "test"])
    args = p.parse_args(argv)
    checks = [(args.epochs >= 1, "--epochs must be >= 1"), (args.batch_size >= 1, "--batch_size must be >= 1"),
              (32 <= args.image_size <= 1400, "--image_size must be in 32..1400"),
              (args.learning_rate > 0, "--learning_rate must be > 0"), (args.lr_step >= 0, "--lr-step must be >= 0"),
              (0 <= args.expand_bb_scale <= 1, "--expand_bb_scale must be in [0, 1]"),
              (0 <= args.random_x_translation < 0.5 and 0 <= args.random_y_translation < 0.5,
               "translations must be in [0, 0.5)"),
              (0 <= args.random_remove_box <= 1, "--random_remove_box must be in [0, 1]"),
              (args.min_c is None or 0 <= args.min_c < 1, "--min_c must be in [0, 1)"),
              (args.overlap_thres is None or 0 < args.overlap_thres <= 1, "--overlap_thres must be in (0, 1]"),
              (args.topk is None or args.topk >= 1, "--topk must be >= 1"),
              (0 <= args.score_threshold <= 1, "--score-threshold must be in [0, 1]"),
              (args.width >= 1, "--width must be >= 1"), (args.gpu_count >= 0, "--gpu_count must be >= 0")]
    for ok, message in checks:
        if not ok:
            fail(message)
    return args


class RegionSet(gluon.data.Dataset):
    """Training items (ink (1, S, S) float32, classes (A,) float32, offsets (A, 4) float32) of ``source`` rows
    ``indices``, each region augmented with numpy Generator(seeds[i]) (so an epoch is the same in any worker)."""

    def __init__(self, source, indices, seeds, augment, anchors, network, expand):
        self.source, self.indices, self.seeds, self.augment = source, indices, seeds, augment
        self.anchors, self.network, self.expand = anchors, network, expand

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        image, boxes = self.source[self.indices[i]]
        image, boxes = augment_region(image, boxes, np.random.default_rng(self.seeds[i]), self.augment)
        grown = [expand_box(box, self.expand, self.expand) for box in boxes]
        classes, offsets = assign_targets(self.anchors, xywh_to_corners(grown), MATCH_THRESHOLD,
                                          self.network["variances"])
        return ink_map(image, self.network["image_size"]), classes, offsets


def pooled_f1(predictions, truths, threshold=IOU_THRESHOLD):
    """Precision, recall, F1 over all images at IoU ``threshold``: predictions and truths are lists of (n, 4)
    (x, y, w, h) arrays; matches, predictions and true boxes are summed over images before dividing."""
    matched = sum(len(match_boxes(p, t, threshold).matches) for p, t in zip(predictions, truths, strict=True))
    n_pred, n_true = sum(len(p) for p in predictions), sum(len(t) for t in truths)
    precision = matched / n_pred if n_pred else 1.0
    recall = matched / n_true if n_true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def box_metrics(detections, truths, score_threshold, prefix):
    """{prefix_precision, _recall, _f1 (boxes scoring >= score_threshold), _map (all boxes)} at IoU 0.5.
    detections: list of (boxes (n, 4), scores (n,)); truths: list of (m, 4); boxes (x, y, w, h)."""
    kept = [boxes[scores >= score_threshold] for boxes, scores in detections]
    precision, recall, f1 = pooled_f1(kept, truths)
    return {prefix + "_precision": precision, prefix + "_recall": recall, prefix + "_f1": f1,
            prefix + "_map": average_precision(detections, truths, IOU_THRESHOLD)}


def line_f1(detections, true_lines, score_threshold):
    """F1 at IoU 0.5 of the lines that group_words_into_lines builds from the word boxes scoring >= score_threshold,
    against the true line boxes (list of (m, 4) per region)."""
    lines = [np.array([line.box for line in group_words_into_lines(boxes[scores >= score_threshold])],
                      dtype=np.float32).reshape(-1, 4) for boxes, scores in detections]
    return pooled_f1(lines, true_lines)[2]


def best_score_threshold(detections, truths):
    """The score threshold in 0.05, 0.10, ..., 0.95 with the highest pooled F1 -> (threshold, F1)."""
    scored = [(pooled_f1([b[s >= t] for b, s in detections], truths)[2], -t, t)
              for t in np.round(np.arange(0.05, 0.96, 0.05), 2)]
    f1, _, threshold = max(scored)
    return float(threshold), f1


def run_detector(detector, source, indices, batch_size, settings):
    """Detections (boxes (n, 4) (x, y, w, h) fractions of the region, scores (n,)) of the un-augmented regions
    ``source[indices]``, in order."""
    results = []
    for start in range(0, len(indices), batch_size):
        regions = np.stack([source[i][0] for i in indices[start:start + batch_size]])
        results.extend(detector.detect_fitted(regions, **settings))
    return results


def draw_boxes(region, predicted, truth, path):
    """Write a PNG of the region with the true boxes (red) and predicted boxes (green)."""
    image = cv2.cvtColor(region, cv2.COLOR_GRAY2BGR)
    for boxes, colour in ((truth, (0, 0, 255)), (predicted, (0, 160, 0))):
        for box in boxes:
            x1, y1, x2, y2 = box_to_px(box, region.shape)
            cv2.rectangle(image, (x1, y1), (max(x1, x2 - 1), max(y1, y2 - 1)), colour, 1)
    atomic_write_bytes(path, cv2.imencode(".png", image)[1].tobytes())


def load_split(root, kind, split, limit, seed):
    """(IAMDataset form_bb boxes of ``kind``, row indices: all, or a seeded random subset of ``limit``)."""
    from ocr.data.iam import IAMDataset
    dataset = IAMDataset(root, "form_bb", output_data="bb", output_parse_method=kind, split=split)
    order = np.arange(len(dataset))
    if limit is not None and limit < len(order):
        order = np.sort(np.random.default_rng([seed, len(split)]).permutation(len(order))[:limit])
    return dataset, [int(i) for i in order]


def split_metrics(detections, root, kind, split, indices, dataset, threshold, prefix):
    """box_metrics of ``detections`` of rows ``indices`` of ``dataset`` (the ``split`` of the tree at ``root``)
    at ``threshold``, plus ``prefix_line_f1`` for word models."""
    from ocr.data.iam import IAMDataset
    metrics = box_metrics(detections, [dataset[i][1] for i in indices], threshold, prefix)
    if kind == "word":
        lines = IAMDataset(root, "form_bb", output_data="bb", output_parse_method="line", split=split)
        metrics[prefix + "_line_f1"] = line_f1(detections, [lines[i][1] for i in indices], threshold)
    return metrics


def evaluate_only(args):
    """--evaluate: metrics of the model of -p on --eval-split, printed; returns the metrics dict."""
    try:
        detector = WordDetector.load(args.load_model)
    except FileNotFoundError as err:
        fail(str(err))
    settings = {k: v for k, v in (("min_c", args.min_c), ("overlap_thres", args.overlap_thres), ("topk", args.topk))
                if v is not None}
    kind = detector.info.get("detection_box", "word")
    from ocr.data.iam import IAMNotFoundError
    try:
        dataset, indices = load_split(args.iam_root, kind, args.eval_split, args.max_test_items, args.seed)
        detections = run_detector(detector, dataset, indices, args.batch_size, settings)
        metrics = split_metrics(detections, args.iam_root, kind, args.eval_split, indices, dataset,
                                detector.detection["score_threshold"], args.eval_split)
    except IAMNotFoundError as err:
        fail(str(err))
    print("%s (%d regions): %s" % (args.eval_split, len(indices), " ".join("%s=%.4f" % kv for kv in metrics.items())))
    return metrics


def main(argv=None):
    """Entry point; returns the history list (training) or the metrics dict (--evaluate); exits 2 on bad input."""
    args = parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    check_iam_root(args.iam_root, "xml/, forms/")
    if args.load_model and not os.path.exists(args.load_model) and not args.load_model.endswith(".ckpt"):
        try:
            resolve_model(args.load_model)
        except FileNotFoundError as err:
            fail(str(err))
    if args.evaluate:
        return evaluate_only(args)
    base = checkpoint_stem(args.checkpoint_name)
    name = "%s_%s" % (args.detection_box, base)
    resume = warm = None
    if args.load_model:
        if not os.path.exists(args.load_model) and args.load_model.endswith(".ckpt"):
            fail("no checkpoint %s" % args.load_model)
        if args.load_model.endswith(".ckpt"):
            resume = load_checkpoint(args.load_model)
        else:
            warm = check_model_files(resolve_model(args.load_model))
    refuse_existing_run(args.checkpoint_dir, name, args.overwrite, resume and args.load_model,
                        "resume with -p %s/%s.ckpt" % (args.checkpoint_dir, name))
    ctx = pick_context(0 if args.gpu_count >= 1 else -1)    # -g counts GPUs (reference); one is used

    if resume is not None:
        info = resume["extra"]
        network, kind = info["network"], info["detection_box"]
    elif warm is not None:
        with open(warm[1], encoding="utf-8") as f:
            info = json.load(f)
        network, kind = info["network"], info["detection_box"]
    else:
        kind = args.detection_box
        network = {"width": args.width, "image_size": args.image_size,
                   "anchors": WORD_ANCHORS if kind == "word" else LINE_ANCHORS, "variances": [0.1, 0.1, 0.2, 0.2]}
    detection = {**DEFAULT_DETECTION, "score_threshold": args.score_threshold,
                 **{k: v for k, v in (("min_c", args.min_c), ("overlap_thres", args.overlap_thres),
                                      ("topk", args.topk)) if v is not None}}

    from ocr.data.iam import IAMNotFoundError
    splits = {}
    try:
        for role, split, limit in (("train", "trainset", args.max_train_items),
                                   ("validation", "validation", args.max_test_items),
                                   ("test", "test", args.max_test_items)):
            splits[role] = load_split(args.iam_root, kind, split, limit, args.seed)
            print("%s: %d regions" % (role, len(splits[role][1])))
    except IAMNotFoundError as err:
        fail(str(err))
    if not splits["train"][1] or not splits["validation"][1]:
        fail("no training or validation regions in %s" % args.iam_root)

    anchors = make_anchors(network)
    augment = BoxAugmentParams(translate_x=args.random_x_translation, translate_y=args.random_y_translation,
                               remove_box=args.random_remove_box)
    net = build_ssd(network)
    net.initialize(mx.init.Xavier(magnitude=2), ctx=ctx)
    net.hybridize(static_alloc=True)
    settle_shapes(net, (1, 1, network["image_size"], network["image_size"]), ctx)
    if warm is not None:
        load_weights(net, warm[0], ctx)
    scheduler = None
    if args.lr_step:
        steps_per_epoch = math.ceil(len(splits["train"][1]) / args.batch_size)
        scheduler = mx.lr_scheduler.FactorScheduler(step=args.lr_step * steps_per_epoch, factor=0.5,
                                                    base_lr=args.learning_rate)
    trainer = gluon.Trainer(net.collect_params(), "adam",
                            {"learning_rate": args.learning_rate, "lr_scheduler": scheduler})
    ssd_loss = SSDLoss(NEGATIVE_RATIO, MIN_NEGATIVES)
    ssd_loss.hybridize()
    model_info = {
        "format": "ocr-word-detector/1", "detection_box": kind, "network": network,
        "input": {"region_size": list(REGION_SIZE), "image_size": network["image_size"],
                  "normalisation": "ink = 1 - grey / 255 of the region resized to image_size (cv2 INTER_AREA)"},
        "box_expansion": args.expand_bb_scale, "detection": detection, "anchors": len(anchors),
        "parameters": sum(p.data().size for p in net.collect_params().values()),
        "hyperparameters": {"optimizer": "adam", "learning_rate": args.learning_rate, "lr_step": args.lr_step,
                            "batch_size": args.batch_size,
                            "epochs": args.epochs, "match_threshold": MATCH_THRESHOLD,
                            "negative_ratio": NEGATIVE_RATIO, "min_negatives": MIN_NEGATIVES,
                            "box_loss": "smooth_l1 (sigma 1)", "iou_threshold": IOU_THRESHOLD, "seed": args.seed,
                            "augmentation": asdict(augment)},
        "training": {"command": "python -m ocr.word_and_line_segmentation " + " ".join(argv),
                     "iam_root": os.path.abspath(args.iam_root),
                     "splits": {"train": "trainset", "validation": "validation", "test": "test"},
                     "items": {role: len(s[1]) for role, s in splits.items()},
                     "warm_start": warm[0] if warm else None},
    }
    detector = WordDetector(net, model_info, ctx)
    print("network width %d, input %d: %d parameters, %d anchors"
          % (network["width"], network["image_size"], model_info["parameters"], len(anchors)))

    def make_batches(epoch, rng):
        source, indices = splits["train"]
        order = rng.permutation(len(indices))
        seeds = rng.integers(0, 2**63, size=len(indices))
        dataset = RegionSet(source, [indices[i] for i in order], seeds, augment, anchors, network,
                            args.expand_bb_scale)
        return gluon.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=False, last_batch="keep",
                                     num_workers=args.num_workers)

    def loss_fn(net, batch):
        inks, classes, offsets = (part.as_in_context(ctx) for part in batch)
        return ssd_loss(*net(inks), classes, offsets).mean()

    def evaluate(net):
        source, indices = splits["validation"]
        detections = run_detector(detector, source, indices, args.batch_size, {})
        truths = [source[i][1] for i in indices]
        for k, i in enumerate(indices[:PREVIEW_REGIONS]):
            boxes, scores = detections[k]
            draw_boxes(source[i][0], boxes[scores >= detection["score_threshold"]], truths[k],
                       os.path.join(args.log_dir, "%s_val%d.png" % (name, k)))
        return box_metrics(detections, truths, detection["score_threshold"], "val")

    history = fit(net, trainer, make_batches, loss_fn, evaluate, epochs=args.epochs,
                  checkpoint_dir=args.checkpoint_dir, log_dir=args.log_dir, name=name, best_metric="val_map",
                  lower_is_better=False, model_info=model_info, seed=args.seed, resume=resume)

    json_path = os.path.join(args.checkpoint_dir, name + ".json")
    if history:
        # a fresh net: loading into the trained one can fail on weights MKL-DNN has reordered for inference
        detector = WordDetector.load(os.path.join(args.checkpoint_dir, name), ctx=ctx)
        with open(json_path, encoding="utf-8") as f:
            info = json.load(f)
        source, indices = splits["validation"]
        detections = run_detector(detector, source, indices, args.batch_size, {})
        threshold, _ = best_score_threshold(detections, [source[i][1] for i in indices])
        detector.detection["score_threshold"] = info["detection"]["score_threshold"] = threshold
        info["validation_metrics"] = split_metrics(detections, args.iam_root, kind, "validation", indices, source,
                                                   threshold, "val")
        if splits["test"][1]:
            source, indices = splits["test"]
            detections = run_detector(detector, source, indices, args.batch_size, {})
            info["test_metrics"] = split_metrics(detections, args.iam_root, kind, "test", indices, source, threshold,
                                                 "test")
        info["history"] = history
        save_json(json_path, info)
        for key in ("validation_metrics", "test_metrics"):
            if key in info:
                print("%s (best epoch %d, score threshold %.2f tuned on validation): %s" % (
                    key, info["best_epoch"], threshold, " ".join("%s=%.4f" % kv for kv in info[key].items())))
    return history


if __name__ == "__main__":
    run_cli(main)
