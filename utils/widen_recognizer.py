"""Grow a trained line recogniser's CNN trunk and/or biLSTM without changing what it outputs, to warm-start a bigger
model.

    python utils/widen_recognizer.py --model models/handwriting_line [--width 6] [--rnn-hidden 512] [--dropout 0.2] \\
        --out runs/widened/handwriting_line

Writes ``<out>.params`` + ``<out>.json`` (the old model card with the new ``network``, its parameter count and
``training.widened_from``), checks on random lines that the widened net's scores equal the old net's, and prints
the largest difference. Then train with ``python -m ocr.handwriting_line_recognition ... -m <out>``. See
ocr/recognition/widen.py for how.
"""
import argparse
import sys
from dataclasses import replace

import mxnet as mx
import numpy as np


from ocr.core.card import write_card
from ocr.core.loading import ModelLoadError
from ocr.recognition.widen import widen_recognizer
from ocr.core.paths import refuse_overwrite
from ocr.recognition.predictor import Recognizer
from ocr.core.training import save_params

TOLERANCE = 1e-3      # largest allowed score difference between the old and the widened net


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="handwriting_line", help="recogniser to widen (name or path)")
    p.add_argument("--rnn-hidden", type=int, help="LSTM units per direction of the widened net (default: keep)")
    p.add_argument("--width", type=int, help="trunk width unit of the widened net (channels = (4, 8, 16, 24) x it; "
                   "default: keep)")
    p.add_argument("--dropout", type=float, help="dropout of the widened net (default: keep)")
    p.add_argument("--out", required=True, help="output model stem (writes .params and .json)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true")
    args = p.parse_args(argv)
    try:
        for suffix in (".params", ".json"):
            refuse_overwrite(args.out + suffix, args.overwrite)
        recognizer = Recognizer.load(args.model)
        wide, network = widen_recognizer(recognizer.net, recognizer.card.network, recognizer.input_size,
                                         args.rnn_hidden, args.dropout, args.seed, args.width)
    except (FileExistsError, FileNotFoundError, ModelLoadError, ValueError) as error:
        sys.exit("error: %s" % error)
    height, width = recognizer.input_size
    lines = mx.nd.array(np.random.default_rng(args.seed).normal(size=(4, 1, height, width)).astype(np.float32))
    difference = float(mx.nd.abs(wide(lines) - recognizer.net(lines)).max().asscalar())
    print("largest score difference, widened vs original, on 4 random lines: %.2e" % difference)
    if difference > TOLERANCE:
        sys.exit("error: the widened net does not reproduce the original (difference %.2e)" % difference)
    card = recognizer.card
    widened_from = {"model": args.model, "rnn_hidden": card.network["rnn_hidden"], "width": card.network["width"]}
    card = replace(card, network=network, parameters=sum(v.data().size for v in wide.collect_params().values()),
                   training=dict(card.training, widened_from=widened_from))
    save_params(wide, args.out + ".params")
    write_card(args.out + ".json", card)
    print("wrote %s.params / .json: %s, %d parameters" % (args.out, network, card.parameters))


if __name__ == "__main__":
    main()
