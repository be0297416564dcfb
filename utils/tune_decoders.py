"""Run the line recogniser over a split of an IAM-format tree once, then, on its probability matrices:

* write the greedy ``prediction<TAB>truth`` pairs (input of utils/learn_edit_costs.py), with ``--pairs FILE``;
* grid-search the beam decoder's LM weight alpha and insertion bonus beta, with ``--tune``, printing the
  pooled CER of each setting beside greedy's; ``--save`` writes the best to models/decoding/beam_lm.json, the
  defaults of ``get_decoder('beam', lm='default')``. Tune on 'validation' (never on 'test'), then report on
  'test' with ``python -m ocr.evaluate``.

    python utils/tune_decoders.py --iam-root data/synth_v1 --split validation --pairs runs/val_pairs.tsv --tune

``--iamondb DIR`` adds the IAM-OnDB validation lines (rendered with the fixed seeds the recogniser's trainer
validates on; ``--max-items`` caps them too), so the settings fit real hands as well as fonts.
"""
import argparse
import itertools
import json
import os
import sys

from tqdm import tqdm

from ocr.data.iam import IAMDataset, IAMNotFoundError
from ocr.data.iamondb import IAMOnDBError
from ocr.data.line_mix import held_out_specs, pen_splits, render_spec
from ocr.decode import BEAM_SETTINGS_PATH, get_decoder
from ocr.metrics import cer
from ocr.core.paths import atomic_write_text, refuse_overwrite
from ocr.recognition.predictor import Recognizer


def recognise_split(root, split, model, max_items, batch_size=16):
    """[(probs T x C, truth)] for the first ``max_items`` lines of ``split``."""
    dataset = IAMDataset(root, "line", split=split)
    count = min(len(dataset), max_items or len(dataset))
    recognizer = Recognizer.load(model)
    results = []
    for start in tqdm(range(0, count, batch_size), desc="recognise %s" % split):
        items = [(dataset.original_image(i), dataset.text(i)) for i in range(start, min(count, start + batch_size))]
        outputs = recognizer.read_lines([image for image, _ in items], batch_size=batch_size)
        results.extend((probs, text) for (_, probs, _), (_, text) in zip(outputs, items))
    return results


def recognise_pen_validation(root, model, max_items, batch_size=16):
    """[(probs T x C, truth)] for the IAM-OnDB validation lines (at most ``max_items``), rendered as in training."""
    lines = pen_splits(root, max_items)["validation"]
    specs = held_out_specs(len(lines))
    recognizer = Recognizer.load(model)
    results = []
    for start in tqdm(range(0, len(lines), batch_size), desc="recognise IAM-OnDB validation"):
        images = [render_spec(spec, lines, None, None) for spec in specs[start:start + batch_size]]
        outputs = recognizer.read_lines(images, batch_size=batch_size)
        results.extend((probs, lines[start + k].text) for k, (_, probs, _) in enumerate(outputs))
    return results


def write_pairs(path, predictions, truths):
    """TSV ``prediction<TAB>truth`` with a header row, written atomically (alphabet text has no tabs)."""
    rows = ["prediction\ttruth"] + ["%s\t%s" % pair for pair in zip(predictions, truths)]
    atomic_write_text(path, "\n".join(rows) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iam-root", required=True)
    parser.add_argument("--split", default="validation")
    parser.add_argument("--model", help="recogniser (default: the shipped one)")
    parser.add_argument("--max-items", type=int)
    parser.add_argument("--iamondb", help="IAM-OnDB tree: add its validation lines (rendered)")
    parser.add_argument("--pairs", help="write greedy prediction/truth pairs here (TSV)")
    parser.add_argument("--tune", action="store_true", help="grid-search beam+LM alpha and beta")
    parser.add_argument("--alphas", default="0.2,0.35,0.5,0.75,1.0")
    parser.add_argument("--betas", default="0,0.5,1,1.5,2")
    parser.add_argument("--width", type=int, default=10)
    parser.add_argument("--save", action="store_true", help="write the best alpha/beta to " + BEAM_SETTINGS_PATH)
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    args = parser.parse_args(argv)
    if args.split == "test" and args.tune:
        sys.exit("error: tune on 'validation', not on 'test'")
    try:
        if args.pairs:
            refuse_overwrite(args.pairs, args.overwrite)
        if args.save:
            refuse_overwrite(BEAM_SETTINGS_PATH, args.overwrite)
        results = recognise_split(args.iam_root, args.split, args.model, args.max_items)
        if args.iamondb:
            results += recognise_pen_validation(args.iamondb, args.model, args.max_items)
    except (IAMNotFoundError, IAMOnDBError, FileNotFoundError, FileExistsError) as error:
        sys.exit("error: %s" % error)
    truths = [truth for _, truth in results]
    greedy = get_decoder("greedy")
    greedy_texts = [greedy(probs).text for probs, _ in results]
    print("%d lines of %s; greedy CER %.4f" % (len(results), args.split, cer(greedy_texts, truths)))
    if args.pairs:
        write_pairs(args.pairs, greedy_texts, truths)
        print("pairs:", args.pairs)
    if args.tune:
        no_lm = get_decoder("beam", width=args.width)
        print("beam (no LM) CER %.4f" % cer([no_lm(p).text for p, _ in results], truths))
        best = None
        for alpha, beta in itertools.product(map(float, args.alphas.split(",")), map(float, args.betas.split(","))):
            decode = get_decoder("beam", width=args.width, lm="default", alpha=alpha, beta=beta)
            score = cer([decode(p).text for p, _ in results], truths)
            print("beam+LM alpha %.2f beta %.2f CER %.4f" % (alpha, beta, score))
            best = min(best or (score, alpha, beta), (score, alpha, beta))
        print("best: alpha %.2f beta %.2f CER %.4f" % (best[1], best[2], best[0]))
        if args.save:
            settings = {"width": args.width, "alpha": best[1], "beta": best[2],
                        "tuned_on": {"iam_root": os.path.abspath(args.iam_root), "split": args.split,
                                     "iamondb_validation": os.path.abspath(args.iamondb) if args.iamondb else None,
                                     "lines": len(results), "recogniser": args.model or "shipped",
                                     "greedy_cer": cer(greedy_texts, truths), "beam_lm_cer": best[0]}}
            atomic_write_text(BEAM_SETTINGS_PATH, json.dumps(settings, indent=1) + "\n")
            print("saved:", BEAM_SETTINGS_PATH)


if __name__ == "__main__":
    main()
