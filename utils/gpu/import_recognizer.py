"""Turn a GPU fine-tuning run's weights (``utils/gpu/train_recognizer.py``) into a recogniser model.

    python utils/gpu/import_recognizer.py --run DIR --base models/handwriting_line --out runs/gpu/handwriting_line \
        --command "..." --device "one NVIDIA H200"

Reads ``DIR/best_a.npz`` + ``DIR/best_b.npz`` (Gluon parameter names; ``--weights last`` for the last ones) and
``DIR/log.tsv``, loads them into the Gluon net of the base model's card (every name and shape must match), and
writes ``OUT.params`` and ``OUT.json``: the base card with the run's record (``training.gpu_fine_tune``, the
evaluations as ``history``) and without the base run's metrics (they describe other weights). An existing model
at --out is replaced only with --overwrite.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import sys

import mxnet as mx
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from ocr.core.card import read_card, write_card  # noqa: E402
from ocr.core.paths import refuse_overwrite  # noqa: E402
from ocr.core.training import fail  # noqa: E402
from ocr.recognition.net import build_recognizer  # noqa: E402


def read_run_log(path: str) -> list[dict]:
    """Rows of a run's log.tsv as dicts of numbers (one per evaluation; the first is the starting weights)."""
    with open(path, encoding="utf-8") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f, delimiter="\t")]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, help="folder with best_a.npz, best_b.npz and log.tsv")
    p.add_argument("--weights", choices=["best", "last"], default="best")
    p.add_argument("--base", required=True, help="model stem the run started from (its card is reused)")
    p.add_argument("--out", required=True, help="output model stem")
    p.add_argument("--command", required=True, help="the command the run was started with (recorded in the card)")
    p.add_argument("--device", required=True, help="the machine it ran on, in words (recorded in the card)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model at --out")
    args = p.parse_args(argv)
    try:
        for suffix in (".params", ".json"):
            refuse_overwrite(args.out + suffix, args.overwrite)
    except FileExistsError as err:
        fail(str(err))
    params = {}
    try:
        for part in ("a", "b"):
            with np.load(os.path.join(args.run, "%s_%s.npz" % (args.weights, part))) as data:
                params.update({k: data[k] for k in data.files})
        log = read_run_log(os.path.join(args.run, "log.tsv"))
    except (OSError, ValueError, KeyError) as err:
        fail("%s: not a finished GPU run's folder (%s)" % (args.run, err))
    card = read_card(args.base + ".json")
    net = build_recognizer(card.network)
    net.initialize()
    net(mx.nd.zeros((1, 1) + tuple(card.input.fit_size)))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    mx.nd.save(args.out + ".params.tmp", {k: mx.nd.array(v) for k, v in params.items()})
    try:
        net.load_parameters(args.out + ".params.tmp")      # every name and shape must match the net's
    except (AssertionError, mx.base.MXNetError, ValueError) as err:
        os.remove(args.out + ".params.tmp")
        fail("%s: weights do not fit the base model's network: %s" % (args.run, str(err).splitlines()[0]))
    os.replace(args.out + ".params.tmp", args.out + ".params")
    # the run saves "best" at its first lowest validation CER, the starting weights included
    chosen = min(log, key=lambda row: row["val_cer"]) if args.weights == "best" else log[-1]
    training = dict(card.training)
    training.update({"command": args.command, "warm_start": os.path.abspath(args.base + ".params"),
                     "gpu_fine_tune": {"device": args.device, "weights": args.weights,
                                       "seconds": log[-1]["seconds"], "steps": int(log[-1]["step"]),
                                       "lines": int(log[-1]["lines"]),
                                       "batch_size": int(log[-1]["lines"] // max(1, log[-1]["step"])),
                                       "peak_learning_rate": max(row["lr"] for row in log),
                                       "validation": "the same 400 IAM-OnDB validation lines (val_cer) as the "
                                                     "MXNet trainer; 100 font validation lines (font_val_cer)",
                                       "base_training_command": card.training.get("command")}})
    card = dataclasses.replace(card, training=training, best_epoch=None, step=int(chosen["step"]),
                               metrics={"val_cer": chosen["val_cer"], "font_val_cer": chosen["font_val_cer"]},
                               validation_metrics={}, test_metrics={}, history=log)
    write_card(args.out + ".json", card)
    print("%s.params / .json: step %d, IAM-OnDB validation CER %.4f (start %.4f), font validation CER %.4f"
          % (args.out, chosen["step"], chosen["val_cer"], log[0]["val_cer"], chosen["font_val_cer"]))


if __name__ == "__main__":
    main()
