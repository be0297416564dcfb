"""Recognisers side by side on real and held-out handwriting: CER/WER greedy, beam+LM and lexicon.

    python utils/bench_real.py [--models models/handwriting_line git:HEAD~1] [--iamondb data/iamondb]
                               [--synth data/synth_v2] [--real ../shared/testdata/real_visible]
                               [--max-items N] [--engines mxnet] [--widths] [--json OUT.json]

Each ``--models`` entry is a model path (stem, .params or .json) or ``git:REV`` (the shipped recogniser as
committed at REV, e.g. the previous version). In one run, every model reads:
(a) the real lines (single-line images) of ``--real`` as given to the recogniser, and as the pipeline reads them at
    line level (``--level line``: polarity, illumination, orientation, deskew, cut to the ink with margins), and its
    blocks (multi-line images, region level: word SSD + line grouping + recogniser, alignment-free CER);
(b) the IAM-OnDB test split (``ocr.data.line_mix.pen_splits``: forms the recogniser never trained on, reserved
    forms left out), rendered with fixed seeds;
(c) the synthetic test lines of ``--synth`` (unseen font writers).
With several ``--engines`` (ocr.core.loading.ENGINES) every model is read by each of them, a column each; with
``--widths`` every model is also read as the pipeline's ``--widths`` reads (Recognizer.read_lines), a column each.
Figures are pooled (spaces count in CER), in percent.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from ocr.data.iamondb import IAMOnDBError
from ocr.data.line_mix import held_out_specs, pen_splits, render_spec
from ocr.core.loading import ENGINES
from ocr.evaluate import EvaluationError, Sample, folder_samples, iam_samples, make_transcriber, score, transcribe_all
from ocr.core.paths import atomic_write_text

DECODERS = ("greedy", "beam", "lexicon")


def model_path(spec: str, folder: str) -> str:
    """A model path, or ``git:REV`` -> the recogniser committed at REV written into ``folder`` (its stem)."""
    if not spec.startswith("git:"):
        return spec
    rev = spec[4:]
    stem = os.path.join(folder, rev.replace("/", "_").replace("~", "-"), "handwriting_line")
    os.makedirs(os.path.dirname(stem), exist_ok=True)
    for ext in (".params", ".json"):
        blob = subprocess.run(["git", "show", "%s:models/handwriting_line%s" % (rev, ext)], capture_output=True)
        if blob.returncode:
            sys.exit("error: no models/handwriting_line%s at git revision %s" % (ext, rev))
        with open(stem + ext, "wb") as f:
            f.write(blob.stdout)
    return stem


def real_samples(folder: str) -> tuple:
    """(line samples, block samples) of a folder of images with .gt.txt: images whose text is one line are lines."""
    def line_count(sample):
        with open(os.path.splitext(os.path.join(folder, sample.id))[0] + ".gt.txt", encoding="utf-8") as f:
            return sum(1 for line in f if line.strip())
    blocks = folder_samples(folder, "region")
    single = {s.id for s in blocks if line_count(s) == 1}
    return [s for s in folder_samples(folder, "line") if s.id in single], [s for s in blocks if s.id not in single]


def pen_samples(root: str, limit: int | None) -> list:
    """Rendered IAM-OnDB test lines (fixed seeds), as line samples."""
    test = pen_splits(root)["test"][:limit]
    return [Sample(line.line_id, lambda spec=spec, line=line: (render_spec(spec, test, None, None), line.text))
            for spec, line in zip(held_out_specs(len(test)), test)]


def measure(model: str, sets: dict, engine: str = "mxnet", widths: bool = False) -> dict:
    """{set name: {decoder: (CER %, WER %)}} of one model run by ``engine`` (``widths``: see make_transcriber)."""
    out = {}
    for name, (samples, level, prepare) in sets.items():
        transcribe = make_transcriber(level, DECODERS, model, engine=engine, prepare=prepare, widths=widths)
        references, outputs = transcribe_all(samples, transcribe, 16 if level == "line" else 1, progress=False)
        scored = {d: score([s.id for s in samples], references, outputs, d, level) for d in DECODERS}
        out[name] = {d: (100 * next(iter(s.values())).summary.cer, 100 * next(iter(s.values())).summary.wer)
                     for d, s in scored.items()}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["models/handwriting_line", "git:HEAD~1"])
    parser.add_argument("--real", default=os.path.join("..", "shared", "testdata", "real_visible"))
    parser.add_argument("--iamondb", default="data/iamondb")
    parser.add_argument("--synth", default="data/synth_v2")
    parser.add_argument("--max-items", type=int, help="at most this many IAM-OnDB and synthetic test lines")
    parser.add_argument("--engines", nargs="+", default=["mxnet"], choices=ENGINES,
                        help="what runs the nets, a column per model and engine (default: mxnet)")
    parser.add_argument("--widths", action="store_true", help="also read each model with --widths, a column each")
    parser.add_argument("--json", help="also write the figures here: {column: {set: {decoder: [CER %%, WER %%]}}}, "
                                       "a column being the model (with one engine) or model@engine")
    args = parser.parse_args(argv)
    sets = {}
    try:
        if os.path.isdir(args.real):
            lines, blocks = real_samples(args.real)
            sets["real lines"] = (lines, "line", False)
            sets["real lines (pipeline)"] = (lines, "line", True)
            sets["real blocks"] = (blocks, "region", False)
        if os.path.isdir(args.iamondb):
            sets["IAM-OnDB test"] = (pen_samples(args.iamondb, args.max_items), "line", False)
        if os.path.isdir(args.synth):
            sets["synthetic test"] = (iam_samples(args.synth, "test", "line")[:args.max_items], "line", False)
    except (EvaluationError, IAMOnDBError) as error:
        print("error: %s" % error, file=sys.stderr)
        return 1
    sets = {name: s for name, s in sets.items() if s[0]}
    if not sets:
        print("error: nothing to measure (no --real, --iamondb or --synth data found)", file=sys.stderr)
        return 1
    readings = (False, True) if args.widths else (False,)
    columns = {(spec if len(args.engines) == 1 else "%s@%s" % (spec, engine)) + (" +widths" if widths else ""):
               (spec, engine, widths) for spec in args.models for engine in args.engines for widths in readings}
    with tempfile.TemporaryDirectory() as folder:
        figures = {column: measure(model_path(spec, folder), sets, engine, widths)
                   for column, (spec, engine, widths) in columns.items()}
    print("CER / WER %% pooled; %s" % ", ".join("%s: %d items" % (n, len(s[0])) for n, s in sets.items()))
    print("%-21s %-8s" % ("set", "decoder") + "".join(" %24s" % column[-24:] for column in columns))
    for name in sets:
        for decoder in DECODERS:
            cells = "".join(" %24s" % ("%5.1f / %5.1f" % figures[column][name][decoder]) for column in columns)
            print("%-21s %-8s%s" % (name, decoder, cells))
    if args.json:
        atomic_write_text(args.json, json.dumps({"command": "python utils/bench_real.py " + " ".join(
            sys.argv[1:] if argv is None else argv), "items": {n: len(s[0]) for n, s in sets.items()},
            "figures": figures}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
