"""How hard a recogniser finds each IAM-OnDB training form: sampling weights for the trainer's ``--pen-weights``.

    python utils/score_pen_forms.py --model models/handwriting_line --out runs/pen_weights.tsv
                                    [--iamondb data/iamondb] [--min-weight 0.5] [--max-weight 3] [--engine onnx-int8]
                                    [--overwrite]

Every line of the IAM-OnDB training split is rendered once (seeded) and read greedily; a form's weight is its pooled
CER over the whole split's pooled CER, clipped to [--min-weight, --max-weight]. A form is one writer, so the trainer
then draws the lines of the hands the model reads worst more often and those it reads best less often. Only training
forms are read (never validation, test or the reserved forms). Writes a TSV ``form_id  lines  cer_percent  weight``
atomically; an existing file is kept unless ``--overwrite``.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import editdistance  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from ocr.core.loading import ENGINES, ModelLoadError  # noqa: E402
from ocr.core.paths import atomic_write_text, refuse_overwrite  # noqa: E402
from ocr.data.iamondb import IAMOnDBError  # noqa: E402
from ocr.data.line_mix import LineSpec, pen_splits, render_spec  # noqa: E402
from ocr.recognition.predictor import Recognizer  # noqa: E402

SCORE_SEED = 3 * 10 ** 6      # training line i is rendered with seed SCORE_SEED + i


def form_weights(errors: dict[str, int], lengths: dict[str, int], low: float, high: float) -> dict[str, float]:
    """{form id: weight}: the form's pooled CER (character ``errors`` / reference ``lengths``) over the pooled CER of
    all forms, clipped to [low, high]; every form 1.0 when nothing was misread."""
    pooled = sum(errors.values()) / max(1, sum(lengths.values()))
    if pooled == 0:
        return {form: 1.0 for form in errors}
    return {form: float(np.clip(errors[form] / max(1, lengths[form]) / pooled, low, high)) for form in errors}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="models/handwriting_line")
    parser.add_argument("--iamondb", default="data/iamondb")
    parser.add_argument("--out", required=True, help="TSV to write (form_id, lines, cer_percent, weight)")
    parser.add_argument("--min-weight", type=float, default=0.5)
    parser.add_argument("--max-weight", type=float, default=3.0)
    parser.add_argument("--engine", default="onnx-int8", choices=ENGINES)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    if not 0 < args.min_weight <= 1 <= args.max_weight:
        parser.error("need 0 < --min-weight <= 1 <= --max-weight")
    try:
        refuse_overwrite(args.out, args.overwrite)
        lines = pen_splits(args.iamondb)["train"]
        recognizer = Recognizer.load(args.model, engine=args.engine)
    except (IAMOnDBError, ModelLoadError, FileNotFoundError, FileExistsError) as error:
        print("error: %s" % error, file=sys.stderr)
        return 2
    errors, lengths, counts = {}, {}, {}
    for start in tqdm(range(0, len(lines), args.batch), desc="reading training lines", unit="batch"):
        batch = range(start, min(len(lines), start + args.batch))
        images = [render_spec(LineSpec("pen", i, SCORE_SEED + i), lines, None, None) for i in batch]
        for i, (text, _, _) in zip(batch, recognizer.read_lines(images, args.batch)):
            line = lines[i]
            errors[line.form_id] = errors.get(line.form_id, 0) + editdistance.eval(text, line.text)
            lengths[line.form_id] = lengths.get(line.form_id, 0) + len(line.text)
            counts[line.form_id] = counts.get(line.form_id, 0) + 1
    weights = form_weights(errors, lengths, args.min_weight, args.max_weight)
    rows = ["form_id\tlines\tcer_percent\tweight"]
    rows += ["%s\t%d\t%.2f\t%.3f" % (form, counts[form], 100 * errors[form] / max(1, lengths[form]), weights[form])
             for form in sorted(weights)]
    atomic_write_text(args.out, "\n".join(rows) + "\n")
    pooled = 100 * sum(errors.values()) / max(1, sum(lengths.values()))
    print("%d lines of %d forms: greedy CER %.2f%%; weights %.2f-%.2f (mean %.2f) -> %s"
          % (len(lines), len(weights), pooled, min(weights.values()), max(weights.values()),
             np.mean(list(weights.values())), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
