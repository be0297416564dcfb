"""The trainer skeleton the three stage trainers (ocr/paragraph, ocr/words, ocr/recognition: ``train.py``) share.

A stage trainer parses its flags (``parser`` defines the shared ones, ``add_flag`` its own) and subclasses
``StageTrainer``: class attributes say what the stage is, the constructor takes what the flags say about where
the run starts and what it is called, and a few hooks fill in what differs between stages (the fresh network, one
split's data, the net, training batches, loss, held-out metrics, the card's stage fields, the final evaluation).
``StageTrainer.run`` does the rest, the same way for every stage:

1. the start: resume a checkpoint (its card's network; weights, optimizer and RNG are restored by fit),
   warm-start from a model (its card's network and weights), or a fresh network from the flags; a run of the
   same name is not overwritten without --overwrite;
2. the trainset / validation / test splits of --iam-root (at most --max-train-items / --max-test-items items);
   a missing tree, or no training or validation items, is one error line and exit 2;
3. the net: MXNet seeded with --seed, initialised, its shapes settled, warm-start weights loaded; Adam;
4. the model card (ocr.core.card.ModelCard) and ocr.core.training.fit (logs, checkpoints, best weights + card);
5. the best weights reloaded into a fresh predictor of the stage, the final evaluation, the card rewritten with
   its metrics and the history.
"""
import argparse
import os
import sys
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import cv2
import mxnet as mx
import numpy as np
from mxnet import gluon

from ocr.core.card import CardError, ModelCard, read_card, write_card
from ocr.core.geometry import box_to_px
from ocr.core.loading import ModelLoadError, check_stage, pick_context
from ocr.core.paths import atomic_write_bytes
from ocr.core.training import (check_iam_root, fail, fit, load_checkpoint, load_weights, read_model,
                               refuse_existing_run, settle_shapes)

SPLITS = {"train": "trainset", "validation": "validation", "test": "test"}    # role -> IAM split
PREDICTED_COLOUR, TRUE_COLOUR = (0, 0, 255), (0, 160, 0)                         # BGR: red, green


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every flag's default shown; its spellings listed once before its value: -c, --checkpoint-dir DIR."""

    def _format_action_invocation(self, action):
        if not action.option_strings or action.nargs == 0:
            return super()._format_action_invocation(action)
        value = self._format_args(action, self._get_default_metavar_for_optional(action))
        return "%s %s" % (", ".join(action.option_strings), value)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one ``error:`` line and exit status 2, and to which a flag's spellings
    are one flag when abbreviated (--learning is --learning-rate, not ambiguous with --learning_rate)."""

    def error(self, message):
        fail(message)

    def _get_option_tuples(self, option_string):
        matches = super()._get_option_tuples(option_string)
        return list({id(match[0]): match for match in matches}.values())     # one per action


def add_flag(parser: argparse.ArgumentParser, *names: str, **options) -> argparse.Action:
    """``parser.add_argument`` with every long option in dash-case, its snake_case spelling (the reference's) kept
    as an alias: ("-c", "--checkpoint_dir") -> -c, --checkpoint-dir, --checkpoint_dir, all setting
    ``checkpoint_dir``."""
    strings = []
    for name in names:
        if name.startswith("--") and "_" in name:
            strings.append("--" + name[2:].replace("_", "-"))
        strings.append(name)
    return parser.add_argument(*strings, **options)


def _at_least(low: int):
    """An argparse type: a whole number >= ``low``."""
    def parse(text):
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError("must be >= %d, got %d" % (low, value))
        return value
    parse.__name__ = "whole number"         # what argparse calls it when int() fails
    return parse


positive_int, non_negative_int = _at_least(1), _at_least(0)


def non_negative_float(text: str) -> float:
    """An argparse type: a number >= 0."""
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0, got %s" % value)
    return value


def gpu_id(text: str) -> str:
    """An argparse type: -g, a GPU id or a comma list of them (-1 = CPU), returned as given."""
    try:
        for part in text.split(","):
            int(part)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a GPU id or a comma list of them (-1 = CPU), not %r" % text)
    return text


def parser(entry_point: str, description: str, *, epochs: int, checkpoint_name: str, seed: int,
           batch: tuple[str, int], learning_rate: tuple[str, float], translation: float,
           num_workers: bool = False) -> argparse.ArgumentParser:
    """The parser of ``python -m <entry_point>`` with the flags every trainer shares. The stage gives the defaults
    of -e (``epochs``), -n (``checkpoint_name``), --seed, -x / -y (``translation``), and the reference's short
    flag and default of the batch size (``batch``: ('-s', 8) -> -s/--batch-size, default 8) and of the Adam
    learning rate (``learning_rate``, likewise); --num-workers where the stage loads data in workers. Errors are
    one line and exit 2; every flag's help shows its default."""
    p = _Parser(prog="python -m " + entry_point, description=description,
                formatter_class=_HelpFormatter)
    p.add_argument("--iam-root", metavar="DIR",
                   help="IAM-format tree to train on (the real IAM database or one ocr.data.synthetic wrote), "
                        "required")
    add_flag(p, "-g", "--gpu_id", type=gpu_id, default="0",
             help="GPU id to train on (a comma list: its first; no data parallelism); -1 = CPU; a GPU that is not "
                  "there: the CPU, with a notice")
    add_flag(p, "-e", "--epochs", type=positive_int, default=epochs, help="epochs to train (in all, when resuming)")
    add_flag(p, batch[0], "--batch_size", type=positive_int, default=batch[1], help="training items per batch")
    add_flag(p, learning_rate[0], "--learning_rate", type=non_negative_float, default=learning_rate[1],
             help="Adam learning rate (at the start, where the stage has a schedule)")
    add_flag(p, "-x", "--random_x_translation", type=float, default=translation,
             help="training images shifted by up to +- this fraction of their width")
    add_flag(p, "-y", "--random_y_translation", type=float, default=translation,
             help="training images shifted by up to +- this fraction of their height")
    add_flag(p, "-d", "--log_dir", metavar="DIR", default="logs",
             help="per-epoch log <name>.jsonl, loss curve <name>.png and previews")
    add_flag(p, "-c", "--checkpoint_dir", metavar="DIR", default="model_checkpoint",
             help="<name>.ckpt (latest state, to resume), <name>.params + <name>.json (best weights, model card)")
    add_flag(p, "-n", "--checkpoint_name", metavar="NAME", default=checkpoint_name,
             help="run name (a trailing .params is dropped; the word trainer prefixes word_ or line_)")
    p.add_argument("--max-train-items", type=positive_int, help="train on at most this many items (seeded subset)")
    p.add_argument("--max-test-items", type=positive_int,
                   help="validate and test on at most this many items each (seeded subset)")
    p.add_argument("--seed", type=int, default=seed,
                   help="seed of the weights' initialisation, the subsets, batch order and augmentation")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run of the same name")
    p.add_argument("--keep-epochs", action="store_true",
                   help="also keep every epoch's weights and card, as <checkpoint_dir>/<name>_epoch<N>.params/.json "
                        "(a model that loads; to average them: utils/average_weights.py)")
    if num_workers:
        p.add_argument("--num-workers", type=non_negative_int, default=0,
                       help="data loader worker processes (0 = in-process)")
    return p


def resume_or_warm_start(path: str | None) -> tuple[str | None, str | None]:
    """The value of a flag that names a ``.ckpt`` to resume or a model (stem, .params or .json) to warm-start
    from -> (resume, warm_start), one of them None."""
    if path and path.endswith(".ckpt"):
        return path, None
    return None, path


@dataclass
class Rows:
    """Rows of one split of an IAM-format tree: ``dataset`` (an ocr.data.iam.IAMDataset) and the row indices used."""
    dataset: object
    rows: list[int]

    def __len__(self):
        return len(self.rows)


def open_split(root: str, parse_method: str, split: str, limit: int | None, seed: int | Sequence[int],
               **options) -> Rows:
    """The IAMDataset(root, parse_method, split=split, **options) and its rows: all of them, or a sorted random
    subset of ``limit`` drawn with numpy's default_rng(seed) when there are more."""
    from ocr.data.iam import IAMDataset
    dataset = IAMDataset(root, parse_method, split=split, **options)
    order = np.arange(len(dataset))
    if limit is not None and limit < len(order):
        order = np.sort(np.random.default_rng(seed).permutation(len(order))[:limit])
    return Rows(dataset, [int(i) for i in order])


def draw_boxes(path: str, images: Sequence[np.ndarray], predicted: Sequence, truth: Sequence,
               thickness: int = 1) -> None:
    """Write a PNG of uint8 gray images (H, W), side by side, each with its true boxes in green and its predicted
    boxes in red over them. predicted[i], truth[i]: (n, 4) boxes (x, y, w, h), fractions of images[i]."""
    tiles = []
    for image, true, pred in zip(images, truth, predicted, strict=True):
        tile = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        for boxes, colour in ((true, TRUE_COLOUR), (pred, PREDICTED_COLOUR)):
            for box in boxes:
                x1, y1, x2, y2 = box_to_px(box, image.shape)
                cv2.rectangle(tile, (x1, y1), (max(x1, x2 - 1), max(y1, y2 - 1)), colour, thickness)
        tiles.append(tile)
    atomic_write_bytes(path, cv2.imencode(".png", np.hstack(tiles))[1].tobytes())


class StageTrainer:
    """One training run of a stage; ``run`` is the skeleton (see the module docstring), the rest is for the stage
    to fill in.

    Class attributes: ``stage`` (the card's), ``entry_point`` (the module ``python -m`` runs, recorded in the
    card), ``tree_holds`` (what --iam-root needs, for its error line), ``items`` (what a split holds, plural, for
    log lines), ``predictor`` (the stage's predictor class, ``load(stem, ctx)``), ``resolve_model`` (name or path
    -> (params path, json path); raises FileNotFoundError), ``initializer``, ``best_metric`` /
    ``lower_is_better`` (which epoch's weights are kept), ``clip_norm`` (global gradient-norm clip, None = off).

    While it runs: ``args``, ``name``, ``previous`` (the card of the checkpoint or model it started from, or None),
    ``ctx``, ``network`` (the net's config), ``data`` ({role: the split's data, see load_split}), ``card``.
    """
    stage: str
    entry_point: str
    tree_holds: str
    items: str
    predictor: type
    resolve_model: Callable[[str], tuple[str, str]]
    initializer: mx.init.Initializer = mx.init.Xavier()
    best_metric: str
    lower_is_better = True
    clip_norm: float | None = None

    def __init__(self, args: argparse.Namespace, argv: list[str] | None, *, name: str, resume: str | None,
                 warm_start: str | None, warm_flag: str, how_to_resume: str):
        """args: the flags, parsed by a ``parser`` with the stage's own added; argv: the command line (None:
        sys.argv[1:]), recorded in the card. name: the run's file stem. resume: a .ckpt to
        continue; warm_start: a model whose weights the net starts from (named by ``warm_flag`` in errors; ignored
        when resuming). how_to_resume: said when a run of this name exists already."""
        self.args, self.argv = args, sys.argv[1:] if argv is None else list(argv)
        self.name, self.resume_path, self.warm_start = name, resume, warm_start
        self.warm_flag, self.how_to_resume = warm_flag, how_to_resume
        self.checkpoint = self.warm = self.previous = None

    # ------------------------------------------------------------------------------------------ hooks

    def fresh_network(self) -> dict:
        """The network config of a run that starts from scratch (from the flags)."""
        raise NotImplementedError

    def build_net(self, network: dict) -> gluon.HybridBlock:
        """The stage's net for ``network``, not initialised."""
        raise NotImplementedError

    def input_shape(self) -> tuple[int, int, int, int]:
        """(N, C, H, W) of a batch the net takes (one zero batch settles its shapes)."""
        raise NotImplementedError

    def load_split(self, split: str, limit: int | None):
        """The data of IAM ``split`` (trainset, validation, test), at most ``limit`` items; anything with a len().
        May raise OSError (ocr.data.iam.IAMNotFoundError, unreadable images): one error line."""
        raise NotImplementedError

    def describe_network(self) -> str:
        """The log line's words about the network (before its parameter count)."""
        return str(self.network)

    def describe_split(self, data) -> str:
        """The log line's words about one split's data (after 'train: ')."""
        return "%d %s" % (len(data), self.items)

    def prepare(self) -> None:
        """After the splits are loaded, before the net is built: anything else the stage needs."""

    def scheduler(self) -> mx.lr_scheduler.LRScheduler | None:
        """The learning-rate schedule (None: constant)."""
        return None

    def card_fields(self) -> dict:
        """The ModelCard fields of the stage: input, output, and where they apply unit, alphabet, target_growth,
        region_growth, detection."""
        raise NotImplementedError

    def hyperparameters(self) -> dict:
        """The card's hyperparameters beyond optimizer, learning_rate, batch_size, epochs and seed."""
        return {}

    def training_record(self) -> dict:
        """The card's training record beyond command, iam_root, splits, items and warm_start."""
        return {}

    def make_batches(self, epoch: int, rng: np.random.Generator):
        """The training batches of ``epoch`` (see ocr.core.training.fit)."""
        raise NotImplementedError

    def loss(self, net: gluon.Block, batch) -> mx.nd.NDArray:
        """The mean loss of ``batch`` (a scalar, recorded by autograd)."""
        raise NotImplementedError

    def evaluate(self, net: gluon.Block) -> dict:
        """Held-out metrics of ``net`` after an epoch, {name: float}, ``best_metric`` among them."""
        raise NotImplementedError

    def final_metrics(self, predictor) -> dict:
        """ModelCard fields (test_metrics, and validation_metrics, detection where the stage has them) from the
        final evaluation of ``predictor``, the best weights loaded afresh."""
        raise NotImplementedError

    # ---------------------------------------------------------------------------------------- skeleton

    def run(self) -> list[dict]:
        """Train (see the module docstring); returns the history, one dict per epoch. Exits 2 (one line) on bad
        input; raises ModelLoadError on a damaged checkpoint or model (ocr.core.training.run_cli says it in one
        line)."""
        args = self.args
        check_iam_root(args.iam_root, self.tree_holds)
        self.previous = self._start()
        self.ctx = pick_context(args.gpu_id)
        self.network = self.previous.network if self.previous else self.fresh_network()
        self.data = self._load_splits()
        self.prepare()
        net = self._build()
        trainer = gluon.Trainer(net.collect_params(), "adam",
                                {"learning_rate": args.learning_rate, "lr_scheduler": self.scheduler()})
        self.card = self._card(net)
        print("network %s: %d parameters" % (self.describe_network(), self.card.parameters))
        history = fit(net, trainer, self.make_batches, self.loss, self.evaluate, epochs=args.epochs,
                      checkpoint_dir=args.checkpoint_dir, log_dir=args.log_dir, name=self.name,
                      best_metric=self.best_metric, lower_is_better=self.lower_is_better, card=self.card,
                      clip_norm=self.clip_norm, seed=args.seed, resume=self.checkpoint,
                      keep_epochs=args.keep_epochs)
        if history:
            self._finish(history)
        return history

    def _start(self) -> ModelCard | None:
        """Reads the checkpoint to resume or the model to warm-start from (self.checkpoint, self.warm = (params
        path, card)) and refuses to overwrite another run; returns the card to continue from (None: fresh)."""
        args, card = self.args, None
        if self.resume_path:
            if not os.path.exists(self.resume_path):
                fail("nothing to resume: %s does not exist" % self.resume_path)
            self.checkpoint = load_checkpoint(self.resume_path)
            try:
                card = ModelCard.from_dict(self.checkpoint.get("extra"))
            except CardError as error:
                raise ModelLoadError("cannot resume %s: %s" % (self.resume_path, error)) from None
        refuse_existing_run(args.checkpoint_dir, self.name, args.overwrite, self.resume_path, self.how_to_resume)
        if self.warm_start and not self.resume_path:
            try:
                files = self.resolve_model(self.warm_start)
            except FileNotFoundError as error:
                fail("%s: %s (the weights and the card beside them are both needed)" % (self.warm_flag, error))
            self.warm = read_model(files)
            card = self.warm[1]
        return None if card is None else check_stage(card, self.stage, self.stage)

    def _load_splits(self) -> dict:
        """{role: load_split(its IAM split)} for train, validation, test; exits 2 on a missing tree or when there is
        nothing to train or validate on."""
        args, data = self.args, {}
        try:
            for role, split in SPLITS.items():
                data[role] = self.load_split(split, args.max_train_items if role == "train" else args.max_test_items)
                print("%s: %s" % (role, self.describe_split(data[role])))
        except OSError as error:         # IAMNotFoundError, unreadable images
            fail(str(error))
        if not len(data["train"]) or not len(data["validation"]):
            fail("no training or validation %s in %s" % (self.items, args.iam_root))
        return data

    def _build(self) -> gluon.HybridBlock:
        """The net: seeded, initialised, hybridized, shapes settled, warm-start weights loaded."""
        mx.random.seed(self.args.seed)
        net = self.build_net(self.network)
        net.initialize(self.initializer, ctx=self.ctx)
        net.hybridize(static_alloc=True)
        settle_shapes(net, self.input_shape(), self.ctx)
        if self.warm is not None:
            load_weights(net, self.warm[0], self.ctx)
        return net

    def _card(self, net: gluon.Block) -> ModelCard:
        """The run's model card: the stage's fields, the net's size, hyperparameters and training record."""
        args = self.args
        return ModelCard(
            stage=self.stage, network=self.network, **self.card_fields(),
            parameters=sum(p.data().size for p in net.collect_params().values()),
            hyperparameters={"optimizer": "adam", "learning_rate": args.learning_rate, "batch_size": args.batch_size,
                             "epochs": args.epochs, "seed": args.seed, **self.hyperparameters()},
            training={"command": "python -m %s %s" % (self.entry_point, " ".join(self.argv)),
                      "iam_root": os.path.abspath(args.iam_root), "splits": dict(SPLITS),
                      "items": {role: len(data) for role, data in self.data.items()},
                      "warm_start": self.warm[0] if self.warm else None, **self.training_record()})

    def _finish(self, history: list[dict]) -> None:
        """The best weights in a fresh predictor (loading into the trained net can fail on weights MKL-DNN has
        reordered for inference), its final evaluation, the card rewritten with the metrics and the history."""
        stem = os.path.join(self.args.checkpoint_dir, self.name)
        predictor = self.predictor.load(stem, ctx=self.ctx)
        card = replace(read_card(stem + ".json"), history=history, **self.final_metrics(predictor))
        write_card(stem + ".json", card)
        for role, metrics in (("validation", card.validation_metrics), ("test", card.test_metrics)):
            if metrics:
                print("%s (best epoch %d): %s" % (role, card.best_epoch,
                                                  " ".join("%s=%.4f" % kv for kv in metrics.items())))
