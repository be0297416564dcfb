"""Average the weights of several snapshots of one network (the epochs of one run) into one model.

    python utils/average_weights.py --card runs/x/ckpt/handwriting_line.json \\
        --params runs/x/ckpt/handwriting_line_epoch5.params runs/x/ckpt/handwriting_line_epoch6.params \\
        --out runs/x/averaged/handwriting_line

Every parameter, batch-norm running statistics included, becomes the mean of its values in the ``--params`` files
(MXNet .params, as a trainer's ``--keep-epochs`` or ``save_parameters`` write them); they must hold the same names
and shapes. Writes ``<out>.params`` and ``<out>.json``: the ``--card`` model card with ``training.averaged_from``
naming the snapshots, and without the best epoch's and the final evaluation's figures (they were a snapshot's; the
per-epoch history stays). Check the result on validation data as any other model (models/README.md, "A wider CNN
trunk and averaged weights", has what it did for one recogniser run).
"""
import argparse
import os
import sys
from dataclasses import replace

import mxnet as mx

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ocr.core.card import CardError, read_card, write_card  # noqa: E402
from ocr.core.paths import refuse_overwrite  # noqa: E402
from ocr.core.training import average_params, save_arrays  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--card", required=True, help="model card (.json) of the network the snapshots are of")
    parser.add_argument("--params", nargs="+", required=True, help=".params files to average")
    parser.add_argument("--out", required=True, help="output model stem (writes .params and .json)")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    try:
        for suffix in (".params", ".json"):
            refuse_overwrite(args.out + suffix, args.overwrite)
        card = read_card(args.card)
        snapshots = []
        for path in args.params:
            if not os.path.isfile(path):
                raise FileNotFoundError("%s: no such file" % path)
            try:
                snapshots.append({k: v.asnumpy() for k, v in mx.nd.load(path).items()})
            except mx.base.MXNetError:
                raise ValueError("%s: not an MXNet .params file" % path) from None
        averaged = average_params(snapshots)
    except (FileExistsError, FileNotFoundError, CardError, ValueError) as error:
        sys.exit("error: %s" % error)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_arrays(averaged, args.out + ".params")
    write_card(args.out + ".json", replace(card, training=dict(card.training, averaged_from=list(args.params)),
                                           best_epoch=None, step=None, metrics={}, validation_metrics={},
                                           test_metrics={}))
    print("wrote %s.params / .json: the mean of %d snapshots" % (args.out, len(snapshots)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
