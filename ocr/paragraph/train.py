"""Train the paragraph segmentation DCNN: ``python -m ocr.paragraph_segmentation_dcnn --iam-root DIR``.

Flags follow the reference script (REFERENCE.md section 2.4; long options in dash-case, the reference's
snake_case spellings accepted too). The reference's two-step schedule works as written:
    ... -g 0 -r 0.001 -e 181 -n cnn_mse.params -y 0.15
    ... -g 0 -r 0.0001 -l iou -e 150 -n cnn_iou.params -f cnn_mse.params
Differences: ``-l iou`` is the GIoU loss (1 - GIoU, with a gradient for disjoint boxes; the reference's
-log(IoU) had none); ``-g`` falls back to the CPU with a notice; ``-f`` warm-starts from ``<checkpoint-dir>/<file>``
(or a path) and needs the model card written beside it; ``--resume`` continues ``<checkpoint-dir>/<name>.ckpt``;
training pages get scan/photo augmentation (ocr/paragraph/augment.py) on top of the -x/-y translation
(``--no-augment``: translation only, as the reference), applied at the network input size for speed.
Train on the IAM 'trainset' split; each epoch reports the mean IoU (best checkpoint by it) and 0.5*MSE on
'validation' and draws predicted (red) and true (green) boxes of a few validation pages into
``<log-dir>/<name>_boxes.png``; the final evaluation on 'test' goes into the card ``<name>.json``.
Targets are the handwritten-block boxes grown by -s about their centre, as fractions of the page fitted
into 1120x800. The run itself (start, splits, fit, card) is ocr.core.trainer's. ``--evaluate``: no training; the
mean IoU of the model of -f (default: the shipped one) on --eval-split.
"""
import argparse
import os
from dataclasses import asdict, dataclass, replace

import mxnet as mx
import numpy as np
from mxnet import gluon

from ocr.core.card import InputSpec
from ocr.core.geometry import REGION_GROWTH, expand_box
from ocr.core.trainer import StageTrainer, add_flag, draw_boxes, open_split, parser
from ocr.core.training import check_iam_root, checkpoint_stem, fail, run_cli
from ocr.data.iam import FITTED_SIZES
from ocr.metrics import giou, iou
from ocr.paragraph.augment import NO_AUGMENT, PageAugmentParams, augment_page
from ocr.paragraph.net import DEFAULT_CONFIG, LOSSES, build_paragraph_net
from ocr.paragraph.predictor import ParagraphSegmenter, reduce_page, resolve_model, standardise

PREVIEW_PAGES = 4        # validation pages drawn per epoch
TREE_HOLDS = "forms/, xml/"
# The reference feeds grey / 255 with no mean/std; kept (the first conv is followed by BatchNorm anyway).
INPUT = InputSpec(FITTED_SIZES["form"], "grey", 0.0, 1.0, "reference: grey level / 255, no mean/std")


def _size(text: str) -> list[int]:
    """'372x266' -> [372, 266] (height, width)."""
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError("expected HxW, e.g. 372x266, not %r" % text)
    if height < 32 or width < 32:
        raise argparse.ArgumentTypeError("input size must be at least 32x32")
    return [height, width]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags -> argparse.Namespace (see the module docstring); bad flags exit 2 with one line."""
    p = parser("ocr.paragraph_segmentation_dcnn",
               "Train the paragraph segmentation DCNN (one box around the handwritten block).",
               epochs=300, checkpoint_name="cnn.params", seed=1, batch=("-b", 32), learning_rate=("-r", 0.001),
               translation=0.05)
    add_flag(p, "-l", "--loss", default="mse", choices=sorted(LOSSES), help="mse, or iou (= 1 - GIoU)")
    add_flag(p, "-f", "--restore_checkpoint_name", metavar="MODEL",
             help="warm start: the weights of this model (a file in --checkpoint-dir, or a path)")
    p.add_argument("--resume", action="store_true", help="continue <checkpoint-dir>/<name>.ckpt")
    add_flag(p, "-s", "--expand_bb_scale", type=float, default=0.03,
             help="target = the tight block box grown by this fraction of its width and height")
    p.add_argument("--no-augment", action="store_true", help="only the -x/-y translation (as the reference)")
    p.add_argument("--input-size", type=_size, default=DEFAULT_CONFIG["input_size"], metavar="HxW",
                   help="network input, height x width pixels")
    p.add_argument("--dropout", type=float, default=DEFAULT_CONFIG["dropout"], help="dropout on the edge profiles")
    p.add_argument("--evaluate", action="store_true", help="evaluate -f (or the shipped model); no training")
    p.add_argument("--eval-split", default="test", choices=("trainset", "validation", "test"),
                   help="the split --evaluate scores")
    return p.parse_args(argv)


@dataclass
class Pages:
    """The pages of one split that have a handwritten block: ``images`` uint8 (N, H, W) at the net's input size,
    ``boxes`` float32 (N, 4) tight block boxes (x, y, w, h), fractions of the fitted page, ``ids`` their forms."""
    images: np.ndarray
    boxes: np.ndarray
    ids: list[str]

    def __len__(self):
        return len(self.ids)


def load_pages(root: str, split: str, limit: int | None, seed: int, input_size: tuple[int, int]) -> Pages:
    """The pages of IAM ``split`` with a handwritten block, reduced to ``input_size`` (H, W); ``limit`` keeps a
    seeded random subset of the split's pages."""
    split_rows = open_split(root, "form", split, limit, [seed, len(split)], output_data="bb",
                            output_parse_method="form")
    pages, boxes, ids = [], [], []
    for i in split_rows.rows:
        fitted, box = split_rows.dataset[i]
        if len(box):
            pages.append(reduce_page(fitted, input_size))
            boxes.append(box[0])
            ids.append(split_rows.dataset.item_id(i))
    images = np.stack(pages) if pages else np.zeros((0,) + tuple(input_size), np.uint8)
    return Pages(images, np.array(boxes, np.float32).reshape(-1, 4), ids)


def targets(boxes: np.ndarray, scale: float) -> np.ndarray:
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
            yield (mx.nd.array(standardise(np.stack(images), INPUT.mean, INPUT.std), ctx=self.ctx),
                   mx.nd.array(targets(boxes, self.expand), ctx=self.ctx))


def predict(net, pages: np.ndarray, ctx: mx.Context, batch_size: int = 32) -> np.ndarray:
    """uint8 pages (N, H, W) at the input size -> float32 (N, 4) predicted boxes, fractions."""
    out = [net(mx.nd.array(standardise(pages[i:i + batch_size], INPUT.mean, INPUT.std), ctx=ctx)).asnumpy()
           for i in range(0, len(pages), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, 4), np.float32)


def box_metrics(predicted: np.ndarray, target: np.ndarray, prefix: str) -> dict:
    """Boxes (N >= 1, 4) fractions -> {prefix_iou: mean IoU, prefix_giou_loss: mean 1 - GIoU, prefix_mse: mean of
    0.5 * squared coordinate error (the reference's L2Loss)}."""
    return {prefix + "_iou": float(np.mean(np.diag(iou(predicted, target)))),
            prefix + "_giou_loss": float(np.mean(1 - np.diag(giou(predicted, target)))),
            prefix + "_mse": float(0.5 * np.mean(np.square(predicted - target)))}


def evaluate_pages(net, pages: np.ndarray, boxes: np.ndarray, ctx: mx.Context, prefix: str,
                   preview_path: str) -> dict:
    """box_metrics of ``net`` on uint8 pages (N, H, W) against target boxes (N, 4); the first PREVIEW_PAGES are
    drawn with their boxes into preview_path (ocr.core.trainer.draw_boxes)."""
    predicted = predict(net, pages, ctx)
    shown = slice(0, PREVIEW_PAGES)
    draw_boxes(preview_path, pages[shown], predicted[shown, None], boxes[shown, None], thickness=2)
    return box_metrics(predicted, boxes, prefix)


def _warm_start_path(args: argparse.Namespace) -> str | None:
    """-f as given when that path exists, else in --checkpoint-dir; None without -f."""
    model = args.restore_checkpoint_name
    if model and not os.path.exists(model):
        model = os.path.join(args.checkpoint_dir, model)
    return model


def evaluate_only(args: argparse.Namespace) -> dict:
    """--evaluate: box_metrics of the model of -f (default: the shipped one) on the pages of --eval-split against
    their block boxes grown by the model's target_growth (at most --max-test-items pages), printed; returns them."""
    check_iam_root(args.iam_root, TREE_HOLDS)
    try:
        segmenter = ParagraphSegmenter.load(_warm_start_path(args))
        pages = load_pages(args.iam_root, args.eval_split, args.max_test_items, args.seed, segmenter.input_size)
    except OSError as err:          # a missing model, IAMNotFoundError, unreadable images
        fail(str(err))
    if not len(pages.images):
        fail("no page with a handwritten block in the %s split of %s" % (args.eval_split, args.iam_root))
    predicted = predict(segmenter.net, pages.images, segmenter.ctx)
    metrics = box_metrics(predicted, targets(pages.boxes, segmenter.card.target_growth), args.eval_split)
    print("%s (%d pages): %s" % (args.eval_split, len(pages.images),
                                 " ".join("%s=%.4f" % kv for kv in metrics.items())))
    return metrics


class ParagraphTrainer(StageTrainer):
    """The paragraph stage of ocr.core.trainer: a page in, the block box out, best epoch by validation IoU."""
    stage, entry_point, tree_holds, items = "paragraph", "ocr.paragraph_segmentation_dcnn", TREE_HOLDS, "pages"
    predictor, resolve_model = ParagraphSegmenter, staticmethod(resolve_model)
    best_metric, lower_is_better = "val_iou", False

    def __init__(self, args: argparse.Namespace, argv: list[str] | None):
        name = checkpoint_stem(args.checkpoint_name)
        super().__init__(args, argv, name=name, warm_start=_warm_start_path(args), warm_flag="-f",
                         how_to_resume="pass --resume",
                         resume=os.path.join(args.checkpoint_dir, name + ".ckpt") if args.resume else None)
        self.augment = PageAugmentParams(translate_x=args.random_x_translation,
                                         translate_y=args.random_y_translation)
        if args.no_augment:
            self.augment = replace(NO_AUGMENT, translate_x=args.random_x_translation,
                                   translate_y=args.random_y_translation)

    def fresh_network(self) -> dict:
        return {**DEFAULT_CONFIG, "input_size": self.args.input_size, "dropout": self.args.dropout}

    def build_net(self, network: dict) -> gluon.HybridBlock:
        return build_paragraph_net(network)

    def input_shape(self) -> tuple[int, int, int, int]:
        return (1, 1) + tuple(self.network["input_size"])

    def load_split(self, split: str, limit: int | None) -> Pages:
        return load_pages(self.args.iam_root, split, limit, self.args.seed, self.network["input_size"])

    def card_fields(self) -> dict:
        return {"input": INPUT, "target_growth": self.args.expand_bb_scale, "region_growth": REGION_GROWTH,
                "output": "(x, y, w, h) of the handwritten block from soft-argmax edge profiles, fractions of the "
                          "page fitted into 1120x800; target box: all <cmp> of the form, grown about its centre"}

    def hyperparameters(self) -> dict:
        return {"loss": self.args.loss, "augmentation": asdict(self.augment)}

    def make_batches(self, epoch: int, rng: np.random.Generator) -> Batches:
        train = self.data["train"]
        order = rng.permutation(len(train))
        seeds = rng.integers(0, 2**63, size=len(order))
        return Batches(train.images, train.boxes, order, seeds, self.args.batch_size, self.augment,
                       self.args.expand_bb_scale, self.ctx)

    def loss(self, net: gluon.Block, batch: tuple) -> mx.nd.NDArray:
        images, boxes = batch
        return LOSSES[self.args.loss](mx.nd, net(images), boxes).mean()

    def _metrics(self, net, role: str, prefix: str, preview: str) -> dict:
        """evaluate_pages on the split of ``role`` against its targets."""
        pages = self.data[role]
        return evaluate_pages(net, pages.images, targets(pages.boxes, self.args.expand_bb_scale), self.ctx, prefix,
                              os.path.join(self.args.log_dir, "%s_%s.png" % (self.name, preview)))

    def evaluate(self, net: gluon.Block) -> dict:
        return self._metrics(net, "validation", "val", "boxes")

    def final_metrics(self, segmenter: ParagraphSegmenter) -> dict:
        if not len(self.data["test"]):
            return {}
        return {"test_metrics": self._metrics(segmenter.net, "test", "test", "test_boxes")}


def main(argv: list[str] | None = None) -> list[dict] | dict:
    """Entry point: train (see the module docstring; returns the history, one dict per epoch) or, with --evaluate,
    evaluate (returns the metrics dict). Exits 2 with one line on bad input."""
    args = parse_args(argv)
    if args.evaluate:
        return evaluate_only(args)
    return ParagraphTrainer(args, argv).run()


if __name__ == "__main__":
    run_cli(main)
