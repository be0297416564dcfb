"""Train the CNN-biLSTM-CTC line recogniser: ``python -m ocr.handwriting_line_recognition --iam-root DIR``.

Flags follow the reference script (REFERENCE.md section 5.5; long options in dash-case, the reference's
snake_case spellings accepted too); differences:
* -g: a GPU id, or a comma list whose first id is used (no data parallelism); -1 = CPU; no such GPU: the CPU,
  with a notice;
* -u/--num_downsamples: how many pools also halve the width (T = W / 2**u: 2 -> 300 steps for a 60x1200 line);
* -q/--resnet_layer_id: trunk width unit, stage channels = (4, 8, 16, 24) * q (default 4 -> 16..96);
* -sl/--max-seq-len (or --max_seq_len): label length cap (longer labels, or labels CTC cannot fit in T steps, are
  skipped);
* -ga/--random_gamma: gamma drawn log-uniformly in [1/g, g] (g <= 1: off);
* --stroke / --stroke-px / --blur (not in the reference): probability of thickening or thinning the ink, the
  largest thickening kernel, the largest blur sigma (ocr.recognition.augment.AugmentParams);
* -m/--load_model: a ``.ckpt`` resumes a run (step, optimizer, RNG); a model (.params/.json) warm-starts weights;
* --iamondb DIR (with --pen-share, --composed-share, --short-share, --epoch-items): IAM-OnDB pen strokes rendered
  as ink afresh every epoch, mixed into training (ocr.data.line_mix); validation and test then also report its
  held-out forms; --pen-weights TSV draws its training forms (writers) in proportion to per-form weights;
* --word-share: single words of the --iam-root tree among the font items, cut as the reader cuts word crops;
  validation and test then also report its words (font_word_*).
Train on the IAM 'trainset' split, validate each epoch on 'validation' (writer-disjoint), best checkpoint by
validation CER (pooled, spaces included), final evaluation on 'test' written into the card ``<name>.json``. The
run itself (start, splits, fit, card) is ocr.core.trainer's.
"""
import argparse
import functools
import os
from dataclasses import asdict, dataclass

import mxnet as mx
import numpy as np
from mxnet import gluon

from ocr.core.alphabet import ALPHABET, NUM_CLASSES, encode, in_alphabet
from ocr.core.card import InputSpec
from ocr.core.trainer import (SPLITS, Rows, StageTrainer, add_flag, open_split, parser, positive_int,
                             resume_or_warm_start)
from ocr.core.training import checkpoint_stem, fail, run_cli
from ocr.data.iam import FITTED_SIZES
from ocr.data.iamondb import IAMOnDBError
from ocr.data.line_mix import (COMPOSED_MAX_CHARS, LineSpec, MixedLineSet, RowView, ctc_fits, epoch_specs,
                               held_out_specs, pen_splits, read_form_weights, word_bank)
from ocr.metrics import cer, wer
from ocr.recognition.augment import AugmentParams, augment_line
from ocr.recognition.net import DEFAULT_CONFIG, build_recognizer, sequence_length
from ocr.recognition.predictor import (REFERENCE_MEAN, REFERENCE_STD, Recognizer, greedy_decode, resolve_model,
                                      standardise)

CLIP_NORM = 5.0       # global gradient-norm clip
MAX_LABEL = {"line": 150, "word": 32}       # default -sl: longest label trained on, characters
PEN_EPOCH_ITEMS = 4000                       # default --epoch-items with --iamondb


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags -> argparse.Namespace (see the module docstring); bad flags exit 2 with one line."""
    p = parser("ocr.handwriting_line_recognition", "Train the CNN-biLSTM-CTC handwriting line recogniser.",
               epochs=10, checkpoint_name="handwriting_line", seed=0, batch=("-s", 16), learning_rate=("-l", 1e-3),
               translation=0.03, num_workers=True)
    add_flag(p, "-t", "--line_or_word", default="line", choices=["line", "word"], help="train on lines or words")
    add_flag(p, "-u", "--num_downsamples", type=int, default=DEFAULT_CONFIG["num_downsamples"],
             help="width halvings: T = W / 2**u")
    add_flag(p, "-q", "--resnet_layer_id", type=positive_int, default=DEFAULT_CONFIG["width"],
             help="trunk width unit (channels 4, 8, 16, 24 x q)")
    add_flag(p, "-a", "--rnn_hidden_states", type=positive_int, default=DEFAULT_CONFIG["rnn_hidden"],
             help="LSTM units per direction")
    add_flag(p, "-o", "--rnn_layers", type=positive_int, default=DEFAULT_CONFIG["rnn_layers"], help="biLSTM layers")
    p.add_argument("--dropout", type=float, default=DEFAULT_CONFIG["dropout"], help="dropout of the biLSTM")
    add_flag(p, "-w", "--lr_scale", type=float, default=1.0, help="divide the learning rate by this every lr_period "
                                                                   "epochs (1: constant)")
    add_flag(p, "-r", "--lr_period", type=positive_int, default=30, help="epochs between learning-rate divisions")
    add_flag(p, "-j", "--random_x_scaling", type=float, default=0.10, help="x scale in 1 +- this")
    add_flag(p, "-k", "--random_y_scaling", type=float, default=0.10, help="y scale in 1 +- this")
    add_flag(p, "-p", "--random_shearing", type=float, default=0.5, help="max shear (radians)")
    add_flag(p, "-ga", "--random_gamma", type=float, default=1.5,
             help="gamma drawn log-uniformly in [1/g, g] (<= 1: off)")
    p.add_argument("--stroke", type=float, default=AugmentParams.stroke,
                   help="probability of thickening or thinning the ink")
    p.add_argument("--stroke-px", type=int, default=AugmentParams.stroke_px,
                   help="largest thickening kernel side (pixels of the fitted line)")
    p.add_argument("--blur", type=float, default=AugmentParams.blur, help="max Gaussian blur sigma (pixels)")
    p.add_argument("--no-augment", action="store_true", help="train on the lines as they are")
    add_flag(p, "-m", "--load_model", metavar="PATH", help=".ckpt to resume, or a model (.params/.json) to warm-start")
    add_flag(p, "-sl", "--max_seq_len", type=positive_int,
             help="label length cap (None: %d line / %d word); labels CTC cannot fit in T are skipped too"
                  % (MAX_LABEL["line"], MAX_LABEL["word"]))
    p.add_argument("--iamondb", metavar="DIR",
                   help="IAM-OnDB tree (lineStrokes/, ascii/): mix its lines, rendered as ink afresh every epoch, "
                        "into training; validation and test then use its held-out forms")
    p.add_argument("--pen-share", type=float, default=0.6,
                   help="fraction of each epoch's lines that are rendered IAM-OnDB lines (with --iamondb)")
    p.add_argument("--composed-share", type=float, default=0.25,
                   help="fraction of the IAM-OnDB lines composed from words of one form (with --iamondb)")
    p.add_argument("--short-share", type=float, default=0.0,
                   help="fraction of the composed IAM-OnDB lines that hold only one or two words, so that single "
                        "words and tight crops are trained on (with --iamondb)")
    p.add_argument("--word-share", type=float, default=0.0,
                   help="fraction of each epoch's font items that are single words of the --iam-root tree, cut to "
                        "their ink with the margins the reader gives word crops (validated on its validation "
                        "words: font_word_val_*)")
    p.add_argument("--pen-warp", type=float, default=0.0,
                   help="largest strength of a smooth random warp of the IAM-OnDB letter shapes, in body heights "
                        "(drawn per training line from [0, value); 0: as written; validation and test never warp)")
    p.add_argument("--pen-weights", metavar="TSV",
                   help="sampling weight of each IAM-OnDB training form (utils/score_pen_forms.py): the hands a model "
                        "reads worst are drawn more often (with --iamondb; default: every line alike)")
    p.add_argument("--epoch-items", type=positive_int,
                   help="lines per epoch (None: the font training lines; with --iamondb, %d)" % PEN_EPOCH_ITEMS)
    args = p.parse_args(argv)
    if not 0 <= args.stroke <= 1 or args.stroke_px < 2 or args.blur < 0:
        fail("need 0 <= --stroke <= 1, --stroke-px >= 2 and --blur >= 0")
    if not all(0 <= share <= 1 for share in (args.pen_share, args.composed_share, args.short_share, args.word_share)):
        fail("need 0 <= --pen-share, --composed-share, --short-share, --word-share <= 1")
    if not 0 <= args.pen_warp <= 0.5:
        fail("need 0 <= --pen-warp <= 0.5")
    if args.pen_weights and not args.iamondb:
        fail("--pen-weights weights the IAM-OnDB training forms: give --iamondb too")
    if args.word_share and args.line_or_word != "line":
        fail("--word-share mixes words into line training (-t line)")
    return args


class LineSet(gluon.data.Dataset):
    """Items (uint8 image (H, W), int32 label) from ``source`` rows ``indices``; with ``seeds`` (one per item),
    each image is augmented with numpy Generator(seed) so an epoch is the same in any worker process."""

    def __init__(self, source, indices, labels, seeds=None, augment=None):
        self.source, self.indices, self.labels, self.seeds, self.augment = source, indices, labels, seeds, augment

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        image = self.source[self.indices[i]][0]
        if self.seeds is not None:
            image = augment_line(image, np.random.default_rng(self.seeds[i]), self.augment)
        return image, self.labels[i]


def batchify(items: list, mean: float, std: float) -> tuple[mx.nd.NDArray, mx.nd.NDArray]:
    """[(uint8 (H, W), int32 label)] -> (float32 NDArray (N, 1, H, W) standardised, float32 NDArray (N, L) labels
    padded with -1)."""
    images = standardise(np.stack([image for image, _ in items]), mean, std)
    longest = max(1, max(len(label) for _, label in items))
    labels = np.full((len(items), longest), -1, np.float32)
    for row, (_, label) in enumerate(items):
        labels[row, :len(label)] = label
    return mx.nd.array(images), mx.nd.array(labels)


@dataclass
class Lines(Rows):
    """The rows of one split usable for CTC, with their ``labels`` (int32 arrays), ``texts``, and ``skipped``: the
    rows left out, counted by reason (alphabet, empty, too_long)."""
    labels: list
    texts: list[str]
    skipped: dict


def load_lines(root: str, parse_method: str, split: str, max_len: int, steps: int, limit: int | None,
               seed: int) -> Lines:
    """The rows of IAM ``split`` (``parse_method`` line or word) usable for CTC: lines whose text has characters
    outside ALPHABET, is empty, longer than ``max_len`` or too long for ``steps`` CTC frames are skipped;
    ``limit`` keeps a seeded random subset of that many rows (before skipping)."""
    split_rows = open_split(root, parse_method, split, limit, seed)
    lines = Lines(split_rows.dataset, [], [], [], {"alphabet": 0, "empty": 0, "too_long": 0})
    for i in split_rows.rows:
        text = split_rows.dataset.text(i)
        if not in_alphabet(text):
            lines.skipped["alphabet"] += 1
        elif not text:
            lines.skipped["empty"] += 1
        elif len(text) > max_len or not ctc_fits(encode(text), steps):
            lines.skipped["too_long"] += 1
        else:
            lines.rows.append(i)
            lines.labels.append(encode(text))
            lines.texts.append(text)
    return lines


def ctc_metrics(net, loader: gluon.data.DataLoader, texts: list[str], ctx: mx.Context, prefix: str) -> dict:
    """Mean CTC loss, pooled CER and WER of greedy decoding on ``loader`` (un-augmented, in order) ->
    {prefix_loss, prefix_cer, prefix_wer}."""
    loss_fn = gluon.loss.CTCLoss()
    losses, hypotheses = [], []
    for images, labels in loader:
        scores = net(images.as_in_context(ctx))
        losses.append(loss_fn(scores, labels.as_in_context(ctx)).asnumpy())
        hypotheses.extend(greedy_decode(s) for s in scores.asnumpy())
    return {prefix + "_loss": float(np.concatenate(losses).mean()), prefix + "_cer": cer(hypotheses, texts),
            prefix + "_wer": wer(hypotheses, texts)}


class LineTrainer(StageTrainer):
    """The recognition stage of ocr.core.trainer: a fitted line (or word) in, T x C CTC scores out, best epoch by
    validation CER. With --iamondb, ``pen`` holds the IAM-OnDB lines of each role and ``bank`` their words."""
    stage, entry_point, tree_holds = "recognition", "ocr.handwriting_line_recognition", "xml/, lines/"
    predictor, resolve_model = Recognizer, staticmethod(resolve_model)
    best_metric, clip_norm = "val_cer", CLIP_NORM

    def __init__(self, args: argparse.Namespace, argv: list[str] | None):
        name = checkpoint_stem(args.checkpoint_name)
        resume, warm = resume_or_warm_start(args.load_model)
        super().__init__(args, argv, name=name, resume=resume, warm_start=warm, warm_flag="-m",
                         how_to_resume="resume with -m %s" % os.path.join(args.checkpoint_dir, name + ".ckpt"))
        self.items = args.line_or_word + "s"
        self.input = InputSpec(FITTED_SIZES[args.line_or_word], "grey", REFERENCE_MEAN, REFERENCE_STD,
                               "reference constants (IAM lines fitted into 60x800, grey/255)")
        self.max_len = args.max_seq_len or MAX_LABEL[args.line_or_word]
        self.collate = functools.partial(batchify, mean=self.input.mean, std=self.input.std)
        self.augment = AugmentParams(translate_x=args.random_x_translation, translate_y=args.random_y_translation,
                                     scale_x=args.random_x_scaling, scale_y=args.random_y_scaling,
                                     shear=args.random_shearing, gamma=args.random_gamma, stroke=args.stroke,
                                     stroke_px=args.stroke_px, blur=args.blur)
        self.pen_warp = 0.0 if args.no_augment else args.pen_warp      # training lines only
        self.pen = self.bank = self.words = self.form_weights = None

    @property
    def steps(self) -> int:
        """T, the CTC time steps of a fitted input."""
        return sequence_length(self.network, self.input.fit_size[1])

    def fresh_network(self) -> dict:
        args = self.args
        return {"width": args.resnet_layer_id, "num_downsamples": args.num_downsamples,
                "rnn_hidden": args.rnn_hidden_states, "rnn_layers": args.rnn_layers, "dropout": args.dropout,
                "num_classes": NUM_CLASSES}

    def build_net(self, network: dict) -> gluon.HybridBlock:
        return build_recognizer(network)

    def input_shape(self) -> tuple[int, int, int, int]:
        return (1, 1) + self.input.fit_size

    def load_split(self, split: str, limit: int | None) -> Lines:
        return load_lines(self.args.iam_root, self.args.line_or_word, split, self.max_len, self.steps, limit,
                          self.args.seed)

    def describe_network(self) -> str:
        return "%s, T=%d steps" % (self.network, self.steps)

    def describe_split(self, lines: Lines) -> str:
        return "%d %s (skipped: %d too long, %d outside the alphabet, %d empty)" % (
            len(lines), self.items, lines.skipped["too_long"], lines.skipped["alphabet"], lines.skipped["empty"])

    def prepare(self) -> None:
        args = self.args
        if args.iamondb:
            try:
                self.pen = pen_splits(args.iamondb, args.max_test_items, args.seed, self.max_len, self.steps)
            except IAMOnDBError as err:
                fail(str(err))
            self.bank = word_bank(self.pen["train"])
            print("IAM-OnDB: %s lines; %d training lines split into words"
                  % (", ".join("%d %s" % (len(v), k) for k, v in self.pen.items()), len(self.bank["groups"])))
            if not self.pen["train"] or not self.pen["validation"]:
                fail("no usable IAM-OnDB training or validation lines in %s" % args.iamondb)
        if args.pen_weights:
            try:
                self.form_weights = read_form_weights(args.pen_weights)
            except (OSError, ValueError) as err:
                fail("--pen-weights: %s" % err)
            forms = {line.form_id for line in self.pen["train"]}
            weighted = [self.form_weights[form] for form in forms if form in self.form_weights]
            print("IAM-OnDB form weights: %d of %d training forms weighted (%.2f-%.2f), the rest 1.0"
                  % (len(weighted), len(forms), min(weighted, default=1.0), max(weighted, default=1.0)))
        if args.word_share:
            self.words = {role: load_lines(args.iam_root, "word", SPLITS[role], self.max_len, self.steps,
                                           None if role == "train" else args.max_test_items, args.seed)
                          for role in ("train", "validation", "test")}
            if self.words["train"].dataset.tree.words_dir is None:
                fail("--word-share needs the word images (words/) of %s" % args.iam_root)
            print("font words: %s" % ", ".join("%d %s" % (len(v.rows), k) for k, v in self.words.items()))
        self.epoch_items = args.epoch_items or (PEN_EPOCH_ITEMS if self.pen else len(self.data["train"]))
        self.validation_loader = self._loader("validation")
        self.ctc = gluon.loss.CTCLoss()

    def scheduler(self) -> mx.lr_scheduler.LRScheduler | None:
        if self.args.lr_scale == 1:
            return None
        steps_per_epoch = max(1, self.epoch_items // self.args.batch_size)
        return mx.lr_scheduler.FactorScheduler(step=max(1, self.args.lr_period * steps_per_epoch),
                                               factor=1.0 / self.args.lr_scale, base_lr=self.args.learning_rate)

    def card_fields(self) -> dict:
        return {"input": self.input, "unit": self.args.line_or_word, "alphabet": ALPHABET,
                "output": "T x C scores per line (C = alphabet + blank, the blank last)"}

    def hyperparameters(self) -> dict:
        args = self.args
        return {"lr_scale": args.lr_scale, "lr_period": args.lr_period, "clip_norm": CLIP_NORM,
                "max_seq_len": self.max_len, "augmentation": None if args.no_augment else asdict(self.augment),
                "pen_warp": self.pen_warp}

    def training_record(self) -> dict:
        record = {"skipped": {role: lines.skipped for role, lines in self.data.items()}}
        if self.words:
            record["font_words"] = {"share": self.args.word_share,
                                    "items": {role: len(words.rows) for role, words in self.words.items()},
                                    "cut": "ocr.core.ink.crop_to_ink with WORD_MARGIN, as word crops are read"}
        if self.pen:
            args = self.args
            record["iamondb"] = {
                "root": os.path.abspath(args.iamondb), "pen_share": args.pen_share,
                "composed_share": args.composed_share, "short_share": args.short_share,
                "epoch_items": self.epoch_items,
                "splits": "by recording session (ocr.data.iamondb.split_lines), reserved forms left out",
                "form_weights": args.pen_weights and os.path.abspath(args.pen_weights),
                "items": {role: len(lines) for role, lines in self.pen.items()},
                "forms": {role: sorted({line.form_id for line in lines}) for role, lines in self.pen.items()}}
            record["validation"] = "rendered IAM-OnDB validation lines (val_*) and font validation lines (font_val_*)"
        return record

    def _loader(self, role: str, seeds=None, order=None) -> gluon.data.DataLoader:
        """Batches of the font lines of ``role``, in ``order`` (None: as loaded), each augmented with its seed
        (None: as they are); training drops the last short batch."""
        lines = self.data[role]
        indices, labels = lines.rows, lines.labels
        if order is not None:
            indices, labels = [indices[i] for i in order], [labels[i] for i in order]
        return gluon.data.DataLoader(LineSet(lines.dataset, indices, labels, seeds, self.augment),
                                     batch_size=self.args.batch_size, shuffle=False,
                                     last_batch="discard" if role == "train" else "keep", batchify_fn=self.collate,
                                     num_workers=self.args.num_workers)

    def _pen_loader(self, role: str) -> gluon.data.DataLoader:
        """Held-out IAM-OnDB lines of ``role`` rendered with fixed seeds (the same images every epoch)."""
        labels = [encode(line.text) for line in self.pen[role]]
        lines = MixedLineSet(held_out_specs(len(self.pen[role])), labels, None, self.pen[role], None,
                             self.input.fit_size)
        return gluon.data.DataLoader(lines, batch_size=self.args.batch_size, shuffle=False, batchify_fn=self.collate,
                                     num_workers=self.args.num_workers)

    def make_batches(self, epoch: int, rng: np.random.Generator) -> gluon.data.DataLoader:
        args, train = self.args, self.data["train"]
        if self.pen is None and self.words is None and args.epoch_items is None:
            order = rng.permutation(len(train))
            seeds = None if args.no_augment else rng.integers(0, 2**63, size=len(train))
            return self._loader("train", seeds, order)
        pen_lines = self.pen["train"] if self.pen else []
        specs, texts = epoch_specs(rng, len(train), len(pen_lines), self.epoch_items,
                                   args.pen_share if self.pen else 0.0, args.composed_share, self.bank,
                                   COMPOSED_MAX_CHARS, [line.text for line in pen_lines], args.short_share,
                                   len(self.words["train"].rows) if self.words else 0, args.word_share,
                                   [line.form_id for line in pen_lines], self.form_weights)
        font_labels = {"font": train.labels, "font_word": self.words["train"].labels if self.words else None}
        labels = [font_labels[spec.kind][spec.ref] if spec.kind in font_labels else encode(text)
                  for spec, text in zip(specs, texts)]
        lines = MixedLineSet(specs, labels, RowView(train.dataset, train.rows), pen_lines, self.bank,
                             self.input.fit_size, None if args.no_augment else self.augment, self._word_source("train"),
                             self.pen_warp)
        return gluon.data.DataLoader(lines, batch_size=args.batch_size, shuffle=False, last_batch="discard",
                                     batchify_fn=self.collate, num_workers=args.num_workers)

    def loss(self, net: gluon.Block, batch: tuple) -> mx.nd.NDArray:
        images, labels = batch
        return self.ctc(net(images.as_in_context(self.ctx)), labels.as_in_context(self.ctx)).mean()

    def _word_source(self, role: str) -> RowView | None:
        """The font word crops of ``role`` (with --word-share), as a RowView of their dataset."""
        return RowView(self.words[role].dataset, self.words[role].rows) if self.words else None

    def _word_loader(self, role: str) -> gluon.data.DataLoader:
        """The font words of ``role`` cut to their ink with margins, as read (the same images every epoch)."""
        words = self.words[role]
        specs = [LineSpec("font_word", i, 0) for i in range(len(words.rows))]
        lines = MixedLineSet(specs, words.labels, None, [], None, self.input.fit_size, None, self._word_source(role))
        return gluon.data.DataLoader(lines, batch_size=self.args.batch_size, shuffle=False, batchify_fn=self.collate,
                                     num_workers=self.args.num_workers)

    def _metrics(self, net, loader: gluon.data.DataLoader, role: str, prefix: str) -> dict:
        """ctc_metrics of the font lines of ``role`` (batched by ``loader``); with --iamondb, those of its
        IAM-OnDB lines, the font lines' then prefixed with font_; with --word-share, those of its font words
        prefixed with font_word_."""
        metrics = ctc_metrics(net, loader, self.data[role].texts, self.ctx, prefix)
        if self.pen is not None:
            metrics = {**ctc_metrics(net, self._pen_loader(role), [line.text for line in self.pen[role]], self.ctx,
                                     prefix), **{"font_" + k: v for k, v in metrics.items()}}
        if self.words is not None and self.words[role].rows:
            metrics.update({"font_word_" + k: v for k, v in ctc_metrics(net, self._word_loader(role),
                                                                         self.words[role].texts, self.ctx,
                                                                         prefix).items()})
        return metrics

    def evaluate(self, net: gluon.Block) -> dict:
        return self._metrics(net, self.validation_loader, "validation", "val")

    def final_metrics(self, recognizer: Recognizer) -> dict:
        if not len(self.data["test"]):
            return {}
        return {"test_metrics": self._metrics(recognizer.net, self._loader("test"), "test", "test")}


def main(argv: list[str] | None = None) -> list[dict]:
    """Entry point: train (see the module docstring); returns the history, one dict per epoch. Exits 2 with one
    line on bad input."""
    return LineTrainer(parse_args(argv), argv).run()


if __name__ == "__main__":
    run_cli(main)
