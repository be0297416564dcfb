"""Train / evaluate the CNN-biLSTM-CTC line recogniser: ``python -m ocr.handwriting_line_recognition --iam-root DIR``.

Flags follow the reference script (REFERENCE.md section 5.5); differences:
* -u/--num_downsamples: how many pools also halve the width (T = W / 2**u: 2 -> 300 steps for a 60x1200 line);
* -q/--resnet_layer_id: trunk width unit, stage channels = (4, 8, 16, 24) * q (default 4 -> 16..96);
* -sl/--max_seq_len: label length cap (longer labels, or labels CTC cannot fit in T steps, are skipped);
* -ga/--random_gamma: gamma drawn log-uniformly in [1/g, g] (g <= 1: off);
* --stroke / --stroke-px / --blur (not in the reference): probability of thickening or thinning the ink, the
  largest thickening kernel, the largest blur sigma (ocr.recognition.augment.AugmentParams);
* -m/--load_model: a ``.ckpt`` resumes a run (step, optimizer, RNG); a model (.params/.json) warm-starts weights.
Train on the IAM 'trainset' split, validate each epoch on 'validation' (writer-disjoint), best checkpoint by
validation CER (pooled, spaces included), final evaluation on 'test' written into ``<name>.json``.
"""
import argparse
import functools
import json
import os
import pickle
import sys
from dataclasses import asdict

import mxnet as mx
import numpy as np
from mxnet import gluon

from ocr.core.alphabet import ALPHABET, BLANK, NUM_CLASSES, encode, in_alphabet
from ocr.core.geometry import LINE_SIZE, WORD_SIZE
from ocr.recognition.augment import AugmentParams, augment_line
from ocr.data.iam import IAMDataset
from ocr.data.iamondb import IAMOnDBError
from ocr.data.line_mix import (MixedLineSet, RowView, ctc_fits, epoch_specs, held_out_specs, pen_splits,
                             word_bank)
from ocr.metrics import cer, wer
from ocr.core.loading import pick_context
from ocr.recognition.net import DEFAULT_CONFIG, build_recognizer, sequence_length
from ocr.recognition.predictor import (REFERENCE_MEAN, REFERENCE_STD, Recognizer, greedy_decode, resolve_model, standardise)
from ocr.core.training import (check_iam_root, check_model_files, checkpoint_stem, fail, fit, load_checkpoint, refuse_existing_run, run_cli, save_json, settle_shapes)

CLIP_NORM = 5.0       # global gradient-norm clip


def parse_args(argv=None):
    """Command-line flags -> argparse.Namespace (see the module docstring)."""
    p = argparse.ArgumentParser(description="Train the CNN-biLSTM-CTC handwriting line recogniser.")
    p.add_argument("--iam-root", help="IAM-format tree (real IAM or synthetic)")
    p.add_argument("-g", "--gpu_id", default="0", help="GPU id (first of a comma list is used); -1 = CPU")
    p.add_argument("-t", "--line_or_word", default="line", choices=["line", "word"])
    p.add_argument("-u", "--num_downsamples", type=int, default=DEFAULT_CONFIG["num_downsamples"],
                   help="width halvings: T = W / 2**u")
    p.add_argument("-q", "--resnet_layer_id", type=int, default=DEFAULT_CONFIG["width"],
                   help="trunk width unit (channels 4,8,16,24 x q)")
    p.add_argument("-a", "--rnn_hidden_states", type=int, default=DEFAULT_CONFIG["rnn_hidden"])
    p.add_argument("-o", "--rnn_layers", type=int, default=DEFAULT_CONFIG["rnn_layers"])
    p.add_argument("-e", "--epochs", type=int, default=10)
    p.add_argument("-l", "--learning_rate", type=float, default=1e-3)
    p.add_argument("-w", "--lr_scale", type=float, default=1.0, help="divide the LR by this every lr_period epochs")
    p.add_argument("-r", "--lr_period", type=int, default=30, help="epochs between LR divisions")
    p.add_argument("-s", "--batch_size", type=int, default=16)
    p.add_argument("-x", "--random_x_translation", type=float, default=0.03)
    p.add_argument("-y", "--random_y_translation", type=float, default=0.03)
    p.add_argument("-j", "--random_x_scaling", type=float, default=0.10)
    p.add_argument("-k", "--random_y_scaling", type=float, default=0.10)
    p.add_argument("-p", "--random_shearing", type=float, default=0.5, help="max shear (radians)")
    p.add_argument("-ga", "--random_gamma", type=float, default=1.5)
    p.add_argument("--stroke", type=float, default=AugmentParams.stroke,
                   help="probability of thickening or thinning the ink")
    p.add_argument("--stroke-px", type=int, default=AugmentParams.stroke_px,
                   help="largest thickening kernel side (pixels of the fitted line)")
    p.add_argument("--blur", type=float, default=AugmentParams.blur, help="max Gaussian blur sigma (pixels)")
    p.add_argument("--no-augment", action="store_true", help="train on the lines as they are")
    p.add_argument("-d", "--log_dir", default="logs")
    p.add_argument("-c", "--checkpoint_dir", default="model_checkpoint")
    p.add_argument("-n", "--checkpoint_name", default="handwriting_line")
    p.add_argument("-m", "--load_model", help=".ckpt to resume, or a model (.params/.json) to warm-start")
    p.add_argument("-sl", "--max_seq_len", type=int,
                   help="label length cap (default 150 line / 32 word); labels CTC cannot fit in T are skipped too")
    p.add_argument("--max-train-items", type=int, help="use at most this many training lines (random subset)")
    p.add_argument("--max-test-items", type=int, help="use at most this many validation / test lines")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader worker processes (0 = in-process)")
    p.add_argument("--iamondb", metavar="DIR",
                   help="IAM-OnDB tree (lineStrokes/, ascii/): mix its lines, rendered as ink afresh every epoch, "
                        "into training; validation and test then use its held-out forms")
    p.add_argument("--pen-share", type=float, default=0.6,
                   help="fraction of each epoch's lines that are rendered IAM-OnDB lines (with --iamondb)")
    p.add_argument("--composed-share", type=float, default=0.25,
                   help="fraction of the IAM-OnDB lines composed from words of one form (with --iamondb)")
    p.add_argument("--epoch-items", type=int,
                   help="lines per epoch (default: the font training lines; with --iamondb, 4000)")
    p.add_argument("--dropout", type=float, default=DEFAULT_CONFIG["dropout"])
    p.add_argument("--overwrite", action="store_true", help="replace an existing checkpoint of the same name")
    args = p.parse_args(argv)
    if not 0 <= args.stroke <= 1 or args.stroke_px < 2 or args.blur < 0:
        p.error("need 0 <= --stroke <= 1, --stroke-px >= 2 and --blur >= 0")
    if not (0 <= args.pen_share <= 1 and 0 <= args.composed_share <= 1) or (args.epoch_items or 1) < 1:
        p.error("need 0 <= --pen-share, --composed-share <= 1 and --epoch-items >= 1")
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


def batchify(items, mean, std):
    """[(uint8 (H, W), int32 label)] -> (float32 NDArray (N, 1, H, W) standardised, float32 NDArray (N, L) labels
    padded with -1)."""
    images = standardise(np.stack([image for image, _ in items]), mean, std)
    longest = max(1, max(len(label) for _, label in items))
    labels = np.full((len(items), longest), -1, np.float32)
    for row, (_, label) in enumerate(items):
        labels[row, :len(label)] = label
    return mx.nd.array(images), mx.nd.array(labels)


def load_split(root, parse_method, split, max_len, steps, limit, seed):
    """Rows of an IAMDataset split usable for CTC -> (dataset, indices, labels, texts, skip counts dict).

    Lines whose text has characters outside ALPHABET, is empty, longer than ``max_len`` or too long for
    ``steps`` CTC frames are skipped; ``limit`` keeps a seeded random subset of that many rows.
    """
    dataset = IAMDataset(root, parse_method, split=split)
    order = np.arange(len(dataset))
    if limit is not None and limit < len(order):
        order = np.sort(np.random.default_rng(seed).permutation(len(order))[:limit])
    indices, labels, texts = [], [], []
    skipped = {"alphabet": 0, "empty": 0, "too_long": 0}
    for i in order:
        text = dataset.text(i)
        if not in_alphabet(text):
            skipped["alphabet"] += 1
        elif not text:
            skipped["empty"] += 1
        elif len(text) > max_len or not ctc_fits(encode(text), steps):
            skipped["too_long"] += 1
        else:
            indices.append(int(i))
            labels.append(encode(text))
            texts.append(text)
    return dataset, indices, labels, texts, skipped


def evaluate(net, loader, texts, ctx, prefix):
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


def main(argv=None):
    """Entry point; returns the history list (or exits 2 on bad input)."""
    args = parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    check_iam_root(args.iam_root, "xml/, lines/")
    name = checkpoint_stem(args.checkpoint_name)
    resume = warm = None
    try:
        if args.load_model and args.load_model.endswith(".ckpt"):
            resume = load_checkpoint(args.load_model)
        elif args.load_model:
            warm = check_model_files(resolve_model(args.load_model))
    except (OSError, ValueError, EOFError, pickle.UnpicklingError) as error:
        fail("cannot load -m %s: %s" % (args.load_model, error))
    refuse_existing_run(args.checkpoint_dir, name, args.overwrite, resume and args.load_model,
                        "resume with -m %s/%s.ckpt" % (args.checkpoint_dir, name))
    ctx = pick_context(args.gpu_id)

    size = LINE_SIZE if args.line_or_word == "line" else WORD_SIZE
    if resume is not None:
        network = resume["extra"]["network"]
    elif warm is not None:
        with open(warm[1], encoding="utf-8") as f:
            network = json.load(f)["network"]
    else:
        network = {"width": args.resnet_layer_id, "num_downsamples": args.num_downsamples,
                   "rnn_hidden": args.rnn_hidden_states, "rnn_layers": args.rnn_layers, "dropout": args.dropout,
                   "num_classes": NUM_CLASSES}
    steps = sequence_length(network, size[1])
    max_len = args.max_seq_len or (150 if args.line_or_word == "line" else 32)

    splits = {}
    try:
        for role, split, limit in (("train", "trainset", args.max_train_items),
                                   ("validation", "validation", args.max_test_items),
                                   ("test", "test", args.max_test_items)):
            splits[role] = load_split(args.iam_root, args.line_or_word, split, max_len, steps, limit, args.seed)
            skipped = splits[role][4]
            print("%s: %d %ss (skipped: %d too long, %d outside the alphabet, %d empty)"
                  % (role, len(splits[role][1]), args.line_or_word, skipped["too_long"], skipped["alphabet"],
                     skipped["empty"]))
    except OSError as err:          # IAMNotFoundError, unreadable images
        fail(str(err))
    if not splits["train"][1] or not splits["validation"][1]:
        fail("no usable training or validation %ss in %s" % (args.line_or_word, args.iam_root))
    pen = bank = None
    if args.iamondb:
        try:
            pen = pen_splits(args.iamondb, args.max_test_items, args.seed, max_len, steps)
        except IAMOnDBError as err:
            fail(str(err))
        bank = word_bank(pen["train"])
        print("IAM-OnDB: %s lines; %d training lines split into words"
              % (", ".join("%d %s" % (len(v), k) for k, v in pen.items()), len(bank["groups"])))
        if not pen["train"] or not pen["validation"]:
            fail("no usable IAM-OnDB training or validation lines in %s" % args.iamondb)
    epoch_items = args.epoch_items or (4000 if pen else len(splits["train"][1]))

    mean, std = REFERENCE_MEAN, REFERENCE_STD
    collate = functools.partial(batchify, mean=mean, std=std)
    augment = AugmentParams(translate_x=args.random_x_translation, translate_y=args.random_y_translation,
                            scale_x=args.random_x_scaling, scale_y=args.random_y_scaling,
                            shear=args.random_shearing, gamma=args.random_gamma, stroke=args.stroke,
                            stroke_px=args.stroke_px, blur=args.blur)

    def loader(role, seeds=None, shuffle_order=None):
        source, indices, labels = splits[role][:3]
        if shuffle_order is not None:
            indices, labels = [indices[i] for i in shuffle_order], [labels[i] for i in shuffle_order]
        return gluon.data.DataLoader(LineSet(source, indices, labels, seeds, augment), batch_size=args.batch_size,
                                     shuffle=False, last_batch="discard" if role == "train" else "keep",
                                     batchify_fn=collate, num_workers=args.num_workers)

    def pen_loader(role):
        """Held-out IAM-OnDB lines rendered with fixed seeds (the same images every epoch)."""
        labels = [encode(line.text) for line in pen[role]]
        lines = MixedLineSet(held_out_specs(len(pen[role])), labels, None, pen[role], None, size)
        return gluon.data.DataLoader(lines, batch_size=args.batch_size, shuffle=False, batchify_fn=collate,
                                     num_workers=args.num_workers)

    def make_batches(epoch, rng):
        if pen is None and args.epoch_items is None:
            count = len(splits["train"][1])
            order = rng.permutation(count)
            seeds = None if args.no_augment else rng.integers(0, 2**63, size=count)
            return loader("train", seeds, order)
        source, indices, font_labels = splits["train"][:3]
        pen_lines = pen["train"] if pen else []
        specs, texts = epoch_specs(rng, len(indices), len(pen_lines), epoch_items, args.pen_share if pen else 0.0,
                                   args.composed_share, bank, 100, [line.text for line in pen_lines])
        labels = [font_labels[spec.ref] if spec.kind == "font" else encode(text) for spec, text in zip(specs, texts)]
        lines = MixedLineSet(specs, labels, RowView(source, indices), pen_lines, bank, size,
                             None if args.no_augment else augment)
        return gluon.data.DataLoader(lines, batch_size=args.batch_size, shuffle=False, last_batch="discard",
                                     batchify_fn=collate, num_workers=args.num_workers)

    def validate(n):
        font = evaluate(n, validation_loader, splits["validation"][3], ctx, "val")
        if pen is None:
            return font
        return {**evaluate(n, pen_loader("validation"), [line.text for line in pen["validation"]], ctx, "val"),
                **{"font_" + k: v for k, v in font.items()}}

    def loss_fn(net, batch):
        images, labels = batch
        return ctc(net(images.as_in_context(ctx)), labels.as_in_context(ctx)).mean()

    validation_loader = loader("validation")
    ctc = gluon.loss.CTCLoss()
    net = build_recognizer(network)
    net.initialize(mx.init.Xavier(), ctx=ctx)
    net.hybridize(static_alloc=True)
    if warm is not None:
        net.load_parameters(warm[0], ctx=ctx)
    steps_per_epoch = max(1, epoch_items // args.batch_size)
    scheduler = None
    if args.lr_scale != 1:
        scheduler = mx.lr_scheduler.FactorScheduler(step=max(1, args.lr_period * steps_per_epoch),
                                                    factor=1.0 / args.lr_scale, base_lr=args.learning_rate)
    trainer = gluon.Trainer(net.collect_params(), "adam",
                            {"learning_rate": args.learning_rate, "lr_scheduler": scheduler})
    settle_shapes(net, (1, 1) + size, ctx)        # before a resume loads weights and optimizer states

    model_info = {
        "format": "ocr-line-recognizer/1",
        "network": network, "alphabet": ALPHABET, "blank": BLANK, "input_size": list(size),
        "sequence_length": steps, "parse_method": args.line_or_word,
        "normalisation": {"mean": mean, "std": std,
                          "source": "reference constants (IAM lines fitted into 60x800, grey/255)"},
        "parameters": sum(p.data().size for p in net.collect_params().values()),
        "hyperparameters": {"optimizer": "adam", "learning_rate": args.learning_rate, "lr_scale": args.lr_scale,
                            "lr_period": args.lr_period, "batch_size": args.batch_size, "epochs": args.epochs,
                            "clip_norm": CLIP_NORM, "max_seq_len": max_len, "seed": args.seed,
                            "augmentation": None if args.no_augment else asdict(augment)},
        "training": {"command": "python -m ocr.handwriting_line_recognition " + " ".join(argv),
                     "iam_root": os.path.abspath(args.iam_root),
                     "splits": {"train": "trainset", "validation": "validation", "test": "test"},
                     "items": {role: len(s[1]) for role, s in splits.items()},
                     "skipped": {role: s[4] for role, s in splits.items()},
                     "warm_start": warm[0] if warm else None},
    }
    if pen:
        model_info["training"].update({
            "iamondb": {"root": os.path.abspath(args.iamondb), "pen_share": args.pen_share,
                        "composed_share": args.composed_share, "epoch_items": epoch_items,
                        "splits": "by recording session (ocr.data.iamondb.split_lines), reserved forms left out",
                        "items": {role: len(lines) for role, lines in pen.items()},
                        "forms": {role: sorted({line.form_id for line in lines}) for role, lines in pen.items()}},
            "validation": "rendered IAM-OnDB validation lines (val_*) and font validation lines (font_val_*)"})
    print("network %s: %d parameters, T=%d steps" % (network, model_info["parameters"], steps))
    history = fit(net, trainer, make_batches, loss_fn,
                  validate,
                  epochs=args.epochs, checkpoint_dir=args.checkpoint_dir, log_dir=args.log_dir, name=name,
                  best_metric="val_cer", model_info=model_info, clip_norm=CLIP_NORM, seed=args.seed,
                  resume=resume)

    json_path = os.path.join(args.checkpoint_dir, name + ".json")
    if history and splits["test"][1]:
        # a fresh net: loading into the trained one can fail on weights MKL-DNN has reordered for inference
        net = Recognizer.load(os.path.join(args.checkpoint_dir, name), ctx).net
        test = evaluate(net, loader("test"), splits["test"][3], ctx, "test")
        if pen:
            test = {**evaluate(net, pen_loader("test"), [line.text for line in pen["test"]], ctx, "test"),
                    **{"font_" + k: v for k, v in test.items()}}
        with open(json_path, encoding="utf-8") as f:
            info = json.load(f)
        info["test_metrics"] = test
        info["history"] = history
        save_json(json_path, info)
        print("test (best epoch %d): %s" % (info["best_epoch"],
                                           " ".join("%s=%.4f" % kv for kv in test.items())))
    return history


if __name__ == "__main__":
    run_cli(main)
