"""Choose the widths a recogniser reads each line at (its card's ``input.stretches`` and ``input.vote_below``).

    python utils/tune_stretches.py [--model models/handwriting_line] [--iamondb data/iamondb] [--synth data/synth_v2]
                                   [--grid 1.0,1.1,1.2,1.3,1.45] [--tolerance 0.1] [--save]

Every validation line (rendered IAM-OnDB validation lines as in training, and synth_v2 validation lines) is read
once at each width factor of ``--grid`` (ocr.recognition.predictor.stretch_width). Each first k factors of the grid
are then scored as a set, as ``Recognizer.read_lines`` reads: a line is read at the first factor, and the less sure
lines at the others too, the readings voting (agreed_reading). The less sure lines are those whose first reading
scores below ``vote_below``: the median score of the IAM-OnDB lines, so that half of the real-hand lines are read
again (each extra factor costs about half a page's time when every line is read again). Printed per set: greedy CER
of both sets of lines with every line voting and with the less sure ones only, and the share read again. The choice,
among the sets that read the synthetic lines no worse than one reading: the fewest factors whose IAM-OnDB CER (less
sure lines voting) is within ``--tolerance`` points of the lowest. ``--save`` writes it into the model's card.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tqdm import tqdm  # noqa: E402

from ocr.core.card import read_card, write_card  # noqa: E402
from ocr.core.loading import ModelLoadError  # noqa: E402
from ocr.data.iam import IAMDataset  # noqa: E402
from ocr.data.iamondb import IAMOnDBError  # noqa: E402
from ocr.data.line_mix import held_out_specs, pen_splits, render_spec  # noqa: E402
from ocr.metrics import cer  # noqa: E402
from ocr.recognition.predictor import (Recognizer, agreed_reading, needs_vote, reading_score,  # noqa: E402
                                      resolve_model, stretch_width)


def validation_lines(iamondb: str, synth: str, synth_items: int) -> dict:
    """{set name: (uint8 line images, texts)}: every IAM-OnDB validation line rendered as the trainer renders its
    validation lines, and the first ``synth_items`` synth_v2 validation lines."""
    lines = pen_splits(iamondb)["validation"]
    pen = [render_spec(spec, lines, None, None) for spec in held_out_specs(len(lines))]
    dataset = IAMDataset(synth, "line", split="validation")
    count = min(len(dataset), synth_items)
    return {"IAM-OnDB validation": (pen, [line.text for line in lines]),
            "synth_v2 validation": ([dataset.original_image(i) for i in range(count)],
                                    [dataset.text(i) for i in range(count)])}


def read_at(recognizer: Recognizer, images: list, factor: float, batch_size: int = 16) -> list:
    """[(greedy text, probs)] of the images read with their widths scaled by ``factor``."""
    return recognizer.recognize([stretch_width(image, factor) for image in images], batch_size)


def voted_cer(readings: dict, stretches: tuple[float, ...], texts: list[str], vote_below: float | None) -> tuple:
    """(greedy CER %, share of lines read again) of what read_lines keeps at ``stretches`` and ``vote_below``
    ({factor: [(text, probs)] per line})."""
    kept, again = [], 0
    for i in range(len(texts)):
        group = [readings[factor][i] for factor in stretches]
        if len(group) > 1 and needs_vote(group[0][1], vote_below):
            again += 1
            kept.append(group[agreed_reading(group)][0])
        else:
            kept.append(group[0][0])
    return 100 * cer(kept, texts), again / len(texts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/handwriting_line", help="recogniser (stem of .params/.json)")
    parser.add_argument("--iamondb", default="data/iamondb", help="local IAM-OnDB tree")
    parser.add_argument("--synth", default="data/synth_v2", help="synth_v2 (IAM layout) root")
    parser.add_argument("--synth-items", type=int, default=300, help="synth_v2 validation lines read (default 300)")
    parser.add_argument("--grid", default="1.0,1.1,1.2,1.3,1.45", help="width factors, the first read first")
    parser.add_argument("--tolerance", type=float, default=0.1,
                        help="CER points a set with fewer stretches may trail the best by (default 0.1)")
    parser.add_argument("--save", action="store_true", help="write the chosen stretches into the model's card")
    args = parser.parse_args(argv)
    try:
        grid = [float(f) for f in args.grid.split(",")]
    except ValueError:
        parser.error("--grid: comma-separated numbers, e.g. 1.0,1.1,1.2")
    if min(grid) <= 0 or len(set(grid)) < len(grid):
        parser.error("--grid: distinct positive factors")
    try:
        recognizer = Recognizer.load(args.model)
        sets = validation_lines(args.iamondb, args.synth, args.synth_items)
    except (FileNotFoundError, ModelLoadError, IAMOnDBError) as error:
        print("error: %s" % error, file=sys.stderr)
        return 1
    readings = {name: {factor: read_at(recognizer, images, factor) for factor in tqdm(grid, desc=name)}
                for name, (images, _) in sets.items()}
    pen = readings["IAM-OnDB validation"]
    vote_below = float(np.median([reading_score(probs) for _, probs in pen[grid[0]]]))
    print("greedy CER %%, every line voting / the lines scoring under %.4f voting (share read again); %s" % (
        vote_below, ", ".join("%s: %d lines" % (name, len(texts)) for name, (_, texts) in sets.items())))
    print("%-28s" % "stretches" + "".join(" %28s" % name for name in sets))
    scores = {}
    for k in range(1, len(grid) + 1):
        stretches = tuple(grid[:k])
        cells = []
        for name, (_, texts) in sets.items():
            every, _ = voted_cer(readings[name], stretches, texts, None)
            gated, again = voted_cer(readings[name], stretches, texts, vote_below)
            cells.append("%6.2f / %6.2f (%3.0f%%)" % (every, gated, 100 * again))
            scores.setdefault(stretches, []).append(gated)
        print("%-28s" % ",".join("%g" % f for f in stretches) + "".join(" %28s" % c for c in cells))
    one = scores[tuple(grid[:1])]
    allowed = [s for s, (_, synthetic) in scores.items() if synthetic <= one[1]]
    lowest = min(scores[s][0] for s in allowed)
    chosen = min((s for s in allowed if scores[s][0] <= lowest + args.tolerance), key=len)
    print("chosen: %s, vote below %.4f (IAM-OnDB %.2f%%, synthetic %.2f%%; one reading %.2f%%, %.2f%%)"
          % (",".join("%g" % f for f in chosen), vote_below, *scores[chosen], *one))
    if args.save:
        path = resolve_model(args.model)[1]
        card = read_card(path)
        card.input.stretches, card.input.vote_below = chosen, (vote_below if len(chosen) > 1 else None)
        write_card(path, card)
        print("saved to %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
