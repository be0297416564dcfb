"""Train / evaluate the SSD word (or line) detector: ``python -m ocr.word_and_line_segmentation --iam-root DIR``.

Flags follow the reference script (REFERENCE.md section 3.4; long options in dash-case, the reference's
snake_case spellings accepted too); differences:
* -g is a GPU id as in the other trainers (-1 = CPU; no such GPU: the CPU, with a notice); the reference's
  -g/--gpu_count is still accepted as --gpu-count / --gpu_count N: N >= 1 trains on the first GPU (-g 0), 0 on
  the CPU (-g -1); there is no multi-GPU data parallelism;
* -m/--min_c, -o/--overlap_thres, -t/--topk drive the one class-agnostic NMS of every evaluation (default topk 300:
  synthetic regions carry up to ~210 words);
* --score-threshold: lowest score counted in precision / recall / F1 during training; at the end the F1-best
  threshold on the validation split is stored in the model card and used for the final validation and test
  figures and by WordDetector;
* --lr-step N: halve the Adam learning rate every N epochs (the default 3e-3 suits a narrow net from scratch);
* -x/-y translate by up to that fraction of the width / height and the boxes move by the same amount;
* -p/--load_model: a ``.ckpt`` resumes a run (step, optimizer, RNG); a model (.params/.json) warm-starts weights;
* --evaluate: no training; evaluate the model of -p (default models/word_segmentation) on --eval-split.
Data: ``IAMDataset(root, "form_bb", output_data="bb", output_parse_method=-db)``; train on 'trainset', keep the
best epoch by validation mAP (IoU 0.5), evaluate the best weights on 'validation' and 'test' at the end. Word models
also get the line F1: predicted words grouped with ocr.words.layout against the true line boxes. The run itself
(start, splits, fit, card) is ocr.core.trainer's.
"""
import argparse
import math
import os
from dataclasses import asdict

import mxnet as mx
import numpy as np
from mxnet import gluon

from ocr.core.card import InputSpec
from ocr.core.geometry import FORM_BB_EXPAND, expand_box, xywh_to_corners
from ocr.core.trainer import (Rows, StageTrainer, add_flag, draw_boxes, non_negative_int, open_split, parser,
                              positive_int, resume_or_warm_start)
from ocr.core.training import check_iam_root, checkpoint_stem, fail, run_cli
from ocr.data.iam import FITTED_SIZES, IAMDataset
from ocr.metrics import average_precision, match_boxes
from ocr.words.anchors import LINE_ANCHORS, WORD_ANCHORS, make_anchors
from ocr.words.augment import BoxAugmentParams, augment_region
from ocr.words.boxes import SSDLoss, assign_targets
from ocr.words.layout import group_words_into_lines
from ocr.words.net import build_ssd
from ocr.words.predictor import DEFAULT_DETECTION, WordDetector, ink_map, resolve_model

MATCH_THRESHOLD = 0.5       # anchor-box IoU for a positive anchor
NEGATIVE_RATIO = 3.0        # hard negatives per positive
MIN_NEGATIVES = 16          # negatives trained in a region without boxes
IOU_THRESHOLD = 0.5         # detection counts as correct at this IoU (precision / recall / F1 / mAP)
PREVIEW_REGIONS = 3         # validation regions drawn with their predicted boxes into the log dir
TREE_HOLDS = "xml/, forms/"


def _gpu_count(text: str) -> str:
    """The reference's --gpu_count N -> the -g value it means here: N >= 1: '0' (the first GPU), 0: '-1' (CPU)."""
    return "0" if non_negative_int(text) >= 1 else "-1"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags -> argparse.Namespace (see the module docstring); bad flags exit 2 with one line."""
    p = parser("ocr.word_and_line_segmentation", "Train or evaluate the SSD word / line detector.",
               epochs=60, checkpoint_name="ssd", seed=0, batch=("-s", 8), learning_rate=("-l", 3e-3),
               translation=0.03, num_workers=True)
    add_flag(p, "--gpu_count", dest="gpu_id", type=_gpu_count, default=argparse.SUPPRESS, metavar="N",
             help="the reference's spelling of -g: N >= 1 trains on the first GPU (-g 0), 0 on the CPU (-g -1) "
                  "(default: -g's)")
    add_flag(p, "-b", "--expand_bb_scale", type=float, default=0.05,
             help="training boxes are the true boxes grown by this fraction of their width and height")
    add_flag(p, "-m", "--min_c", type=float,
             help="lowest probability kept before NMS (None: %s)" % DEFAULT_DETECTION["min_c"])
    add_flag(p, "-o", "--overlap_thres", type=float,
             help="NMS IoU threshold (None: %s)" % DEFAULT_DETECTION["overlap_thres"])
    add_flag(p, "-t", "--topk", type=int, help="boxes kept after NMS (None: %s)" % DEFAULT_DETECTION["topk"])
    p.add_argument("--lr-step", type=non_negative_int, default=0,
                   help="halve the learning rate every this many epochs (0: never)")
    add_flag(p, "-w", "--image_size", type=int, default=350, help="side of the square net input, pixels")
    add_flag(p, "-r", "--random_remove_box", type=float, default=0.15,
             help="probability of painting out a box (and dropping its label)")
    add_flag(p, "-db", "--detection_box", default="word", choices=["word", "line"], help="what a box is")
    add_flag(p, "-p", "--load_model", metavar="PATH",
             help=".ckpt to resume, or a model (.params/.json) to warm-start from or to --evaluate")
    p.add_argument("--width", type=positive_int, default=8, help="trunk width unit (channels 16, 32, 48 at 8)")
    p.add_argument("--score-threshold", type=float, default=DEFAULT_DETECTION["score_threshold"],
                   help="lowest score counted in precision / recall / F1 while training")
    p.add_argument("--evaluate", action="store_true", help="evaluate -p (or the shipped model); no training")
    p.add_argument("--eval-split", default="test", choices=["trainset", "validation", "test"],
                   help="the split --evaluate scores")
    args = p.parse_args(argv)
    checks = [(32 <= args.image_size <= 1400, "--image-size must be in 32..1400"),
              (0 <= args.expand_bb_scale <= 1, "--expand-bb-scale must be in [0, 1]"),
              (0 <= args.random_x_translation < 0.5 and 0 <= args.random_y_translation < 0.5,
               "translations must be in [0, 0.5)"),
              (0 <= args.random_remove_box <= 1, "--random-remove-box must be in [0, 1]"),
              (args.min_c is None or 0 <= args.min_c < 1, "--min-c must be in [0, 1)"),
              (args.overlap_thres is None or 0 < args.overlap_thres <= 1, "--overlap-thres must be in (0, 1]"),
              (args.topk is None or args.topk >= 1, "--topk must be >= 1"),
              (0 <= args.score_threshold <= 1, "--score-threshold must be in [0, 1]")]
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


def pooled_f1(predictions: list, truths: list, threshold: float = IOU_THRESHOLD) -> tuple[float, float, float]:
    """Precision, recall, F1 over all images at IoU ``threshold``: predictions and truths are lists of (n, 4)
    (x, y, w, h) arrays; matches, predictions and true boxes are summed over images before dividing."""
    matched = sum(len(match_boxes(p, t, threshold).matches) for p, t in zip(predictions, truths, strict=True))
    n_pred, n_true = sum(len(p) for p in predictions), sum(len(t) for t in truths)
    precision = matched / n_pred if n_pred else 1.0
    recall = matched / n_true if n_true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def box_metrics(detections: list, truths: list, score_threshold: float, prefix: str) -> dict:
    """{prefix_precision, _recall, _f1 (boxes scoring >= score_threshold), _map (all boxes)} at IoU 0.5.
    detections: list of (boxes (n, 4), scores (n,)); truths: list of (m, 4); boxes (x, y, w, h)."""
    kept = [boxes[scores >= score_threshold] for boxes, scores in detections]
    precision, recall, f1 = pooled_f1(kept, truths)
    return {prefix + "_precision": precision, prefix + "_recall": recall, prefix + "_f1": f1,
            prefix + "_map": average_precision(detections, truths, IOU_THRESHOLD)}


def line_f1(detections: list, true_lines: list, score_threshold: float) -> float:
    """F1 at IoU 0.5 of the lines that group_words_into_lines builds from the word boxes scoring >= score_threshold,
    against the true line boxes (list of (m, 4) per region)."""
    lines = [np.array([line.box for line in group_words_into_lines(boxes[scores >= score_threshold])],
                      dtype=np.float32).reshape(-1, 4) for boxes, scores in detections]
    return pooled_f1(lines, true_lines)[2]


def best_score_threshold(detections: list, truths: list) -> tuple[float, float]:
    """The score threshold in 0.05, 0.10, ..., 0.95 with the highest pooled F1 -> (threshold, F1)."""
    scored = [(pooled_f1([b[s >= t] for b, s in detections], truths)[2], -t, t)
              for t in np.round(np.arange(0.05, 0.96, 0.05), 2)]
    f1, _, threshold = max(scored)
    return float(threshold), f1


def run_detector(detector: WordDetector, regions: Rows, batch_size: int, settings: dict) -> list:
    """Detections (boxes (n, 4) (x, y, w, h) fractions of the region, scores (n,)) of the un-augmented regions,
    in order; ``settings`` override the detector's (min_c, overlap_thres, topk)."""
    results = []
    for start in range(0, len(regions), batch_size):
        batch = np.stack([regions.dataset[i][0] for i in regions.rows[start:start + batch_size]])
        results.extend(detector.detect_fitted(batch, **settings))
    return results


def load_regions(root: str, kind: str, split: str, limit: int | None, seed: int) -> Rows:
    """The handwritten-block regions of IAM ``split`` (form_bb) with their ``kind`` (word or line) boxes; ``limit``
    keeps a seeded random subset."""
    return open_split(root, "form_bb", split, limit, [seed, len(split)], output_data="bb", output_parse_method=kind)


def split_metrics(detections: list, regions: Rows, root: str, kind: str, split: str, threshold: float,
                  prefix: str) -> dict:
    """box_metrics of ``detections`` of ``regions`` (of IAM ``split`` of the tree at ``root``) at ``threshold``,
    plus ``prefix_line_f1`` for word models."""
    metrics = box_metrics(detections, [regions.dataset[i][1] for i in regions.rows], threshold, prefix)
    if kind == "word":
        lines = IAMDataset(root, "form_bb", output_data="bb", output_parse_method="line", split=split)
        metrics[prefix + "_line_f1"] = line_f1(detections, [lines[i][1] for i in regions.rows], threshold)
    return metrics


def evaluate_only(args: argparse.Namespace) -> dict:
    """--evaluate: metrics of the model of -p on --eval-split, printed; returns the metrics dict."""
    check_iam_root(args.iam_root, TREE_HOLDS)
    try:
        detector = WordDetector.load(args.load_model)
    except FileNotFoundError as err:
        fail(str(err))
    settings = {k: v for k, v in (("min_c", args.min_c), ("overlap_thres", args.overlap_thres), ("topk", args.topk))
                if v is not None}
    kind = detector.card.unit or "word"
    try:
        regions = load_regions(args.iam_root, kind, args.eval_split, args.max_test_items, args.seed)
        detections = run_detector(detector, regions, args.batch_size, settings)
        metrics = split_metrics(detections, regions, args.iam_root, kind, args.eval_split,
                                detector.detection["score_threshold"], args.eval_split)
    except OSError as err:          # IAMNotFoundError, unreadable images
        fail(str(err))
    print("%s (%d regions): %s" % (args.eval_split, len(regions), " ".join("%s=%.4f" % kv for kv in metrics.items())))
    return metrics


class WordTrainer(StageTrainer):
    """The words stage of ocr.core.trainer: a region in, word (or line) boxes out, best epoch by validation mAP.
    A resumed or warm-started run detects what its model detects (the card's unit), whatever -db says."""
    stage, entry_point, tree_holds, items = "words", "ocr.word_and_line_segmentation", TREE_HOLDS, "regions"
    predictor, resolve_model = WordDetector, staticmethod(resolve_model)
    initializer = mx.init.Xavier(magnitude=2)
    best_metric, lower_is_better = "val_map", False

    def __init__(self, args: argparse.Namespace, argv: list[str] | None):
        name = "%s_%s" % (args.detection_box, checkpoint_stem(args.checkpoint_name))
        resume, warm = resume_or_warm_start(args.load_model)
        super().__init__(args, argv, name=name, resume=resume, warm_start=warm, warm_flag="-p",
                         how_to_resume="resume with -p %s" % os.path.join(args.checkpoint_dir, name + ".ckpt"))
        self.detection = {**DEFAULT_DETECTION, "score_threshold": args.score_threshold,
                          **{k: v for k, v in (("min_c", args.min_c), ("overlap_thres", args.overlap_thres),
                                               ("topk", args.topk)) if v is not None}}
        self.augment = BoxAugmentParams(translate_x=args.random_x_translation,
                                        translate_y=args.random_y_translation, remove_box=args.random_remove_box)

    @property
    def kind(self) -> str:
        """What a box is: 'word' or 'line'."""
        return self.previous.unit if self.previous else self.args.detection_box

    def fresh_network(self) -> dict:
        return {"width": self.args.width, "image_size": self.args.image_size,
                "anchors": WORD_ANCHORS if self.kind == "word" else LINE_ANCHORS, "variances": [0.1, 0.1, 0.2, 0.2]}

    def build_net(self, network: dict) -> gluon.HybridBlock:
        return build_ssd(network)

    def input_shape(self) -> tuple[int, int, int, int]:
        return (1, 1, self.network["image_size"], self.network["image_size"])

    def load_split(self, split: str, limit: int | None) -> Rows:
        return load_regions(self.args.iam_root, self.kind, split, limit, self.args.seed)

    def prepare(self) -> None:
        self.anchors = make_anchors(self.network)
        self.ssd_loss = SSDLoss(NEGATIVE_RATIO, MIN_NEGATIVES)
        self.ssd_loss.hybridize()

    def describe_network(self) -> str:
        return "width %d, input %d, %d anchors" % (self.network["width"], self.network["image_size"],
                                                  len(self.anchors))

    def scheduler(self) -> mx.lr_scheduler.LRScheduler | None:
        if not self.args.lr_step:
            return None
        steps_per_epoch = math.ceil(len(self.data["train"]) / self.args.batch_size)
        return mx.lr_scheduler.FactorScheduler(step=self.args.lr_step * steps_per_epoch, factor=0.5,
                                               base_lr=self.args.learning_rate)

    def card_fields(self) -> dict:
        note = "ink = 1 - grey / 255 of the region resized to image_size (cv2 INTER_AREA)"
        return {"input": InputSpec(FITTED_SIZES["form_bb"], "ink", note=note), "unit": self.kind,
                "output": "(x, y, w, h) boxes, fractions of the region, with their scores",
                "target_growth": self.args.expand_bb_scale, "region_growth": FORM_BB_EXPAND,
                "detection": self.detection}

    def hyperparameters(self) -> dict:
        return {"lr_step": self.args.lr_step, "match_threshold": MATCH_THRESHOLD, "negative_ratio": NEGATIVE_RATIO,
                "min_negatives": MIN_NEGATIVES, "box_loss": "smooth_l1 (sigma 1)", "iou_threshold": IOU_THRESHOLD,
                "augmentation": asdict(self.augment)}

    def make_batches(self, epoch: int, rng: np.random.Generator) -> gluon.data.DataLoader:
        train = self.data["train"]
        order = rng.permutation(len(train))
        seeds = rng.integers(0, 2**63, size=len(train))
        regions = RegionSet(train.dataset, [train.rows[i] for i in order], seeds, self.augment, self.anchors,
                            self.network, self.args.expand_bb_scale)
        return gluon.data.DataLoader(regions, batch_size=self.args.batch_size, shuffle=False, last_batch="keep",
                                     num_workers=self.args.num_workers)

    def loss(self, net: gluon.Block, batch: tuple) -> mx.nd.NDArray:
        inks, classes, offsets = (part.as_in_context(self.ctx) for part in batch)
        return self.ssd_loss(*net(inks), classes, offsets).mean()

    def evaluate(self, net: gluon.Block) -> dict:
        validation, threshold = self.data["validation"], self.detection["score_threshold"]
        detections = run_detector(WordDetector(net, self.card, self.ctx), validation, self.args.batch_size, {})
        truths = [validation.dataset[i][1] for i in validation.rows]
        for k, i in enumerate(validation.rows[:PREVIEW_REGIONS]):
            boxes, scores = detections[k]
            draw_boxes(os.path.join(self.args.log_dir, "%s_val%d.png" % (self.name, k)), [validation.dataset[i][0]],
                       [boxes[scores >= threshold]], [truths[k]])
        return box_metrics(detections, truths, threshold, "val")

    def final_metrics(self, detector: WordDetector) -> dict:
        validation = self.data["validation"]
        detections = run_detector(detector, validation, self.args.batch_size, {})
        threshold, _ = best_score_threshold(detections, [validation.dataset[i][1] for i in validation.rows])
        print("score threshold %.2f (the F1-best on validation)" % threshold)
        metrics = {"detection": dict(detector.card.detection, score_threshold=threshold),
                   "validation_metrics": split_metrics(detections, validation, self.args.iam_root, self.kind,
                                                       "validation", threshold, "val")}
        if len(self.data["test"]):
            test = self.data["test"]
            metrics["test_metrics"] = split_metrics(run_detector(detector, test, self.args.batch_size, {}), test,
                                                    self.args.iam_root, self.kind, "test", threshold, "test")
        return metrics


def main(argv: list[str] | None = None) -> list[dict] | dict:
    """Entry point: train (returns the history, one dict per epoch) or, with --evaluate, evaluate (returns the
    metrics dict); exits 2 with one line on bad input."""
    args = parse_args(argv)
    if args.evaluate:
        return evaluate_only(args)
    return WordTrainer(args, argv).run()


if __name__ == "__main__":
    run_cli(main)
