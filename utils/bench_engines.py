"""The engines (MXNet, ONNX, ONNX with int8 LSTMs) side by side in one run: start-up, recognition lines/s, a page.

    python utils/bench_engines.py [--iam-root data/synth_v2] [--lines 96] [--batch-size 16] [--rounds 3]
                                  [--page samples/page.png]

Recognition: ``Recognizer.recognize`` end to end (fit, standardise, net, softmax, greedy text) on the first
``--lines`` test lines of ``--iam-root``; the engines take turns for ``--rounds`` rounds after a warm-up batch
each, and each reports its best round, so that load from other processes hits all alike (only their ratio means
much on a busy machine). Page: ``Pipeline.transcribe`` of ``--page`` with the greedy decoder, best of the rounds.
Also printed: whether each ONNX engine reads MXNet's text on every line and on the page, and the largest difference
of their probabilities. The ONNX graphs are built into the cache first (not timed; see ocr.core.onnx_engine).
"""
import argparse
import sys
import time

import numpy as np

from ocr.data.iam import IAMDataset
from ocr.core.loading import ENGINES
from ocr.pipeline.pipeline import Pipeline
from ocr.recognition.predictor import Recognizer


def timed(run):
    """(seconds, result) of ``run()``."""
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def compare(engine: str, ours: dict, mxnet: dict, count: int) -> None:
    """Print ``engine``'s speed against MXNet's and how often it reads the same text (lines and page)."""
    same = sum(a[0] == b[0] for a, b in zip(mxnet["lines"], ours["lines"]))
    difference = max(float(np.abs(a[1] - b[1]).max()) for a, b in zip(mxnet["lines"], ours["lines"]))
    print("%s / mxnet: %.2fx lines/s, %.2fx page speed; same text on %d/%d lines (max |prob difference| %.1g), "
          "page text %s" % (engine, ours["lines_per_s"] / mxnet["lines_per_s"], mxnet["page_s"] / ours["page_s"],
                            same, count, difference, "identical" if mxnet["page"] == ours["page"] else "DIFFERENT"))


def parse_args(argv=None):
    """Command-line arguments (see the module doc)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iam-root", default="data/synth_v2", help="IAM-format tree whose test lines are read")
    parser.add_argument("--lines", type=int, default=96, help="test lines timed (default 96)")
    parser.add_argument("--batch-size", type=int, default=16, help="lines per recogniser batch (default 16)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per engine, best kept (default 3)")
    parser.add_argument("--page", default="samples/page.png", help="page transcribed with each engine")
    return parser.parse_args(argv)


def main(argv=None):
    """Print the comparison; returns {engine: {'load_s', 'lines_per_s', 'page_s'}}."""
    args = parse_args(argv)
    try:
        dataset = IAMDataset(args.iam_root, "line", split="test")
    except FileNotFoundError as error:
        print("error: %s" % error, file=sys.stderr)
        return None
    images = [dataset[i][0] for i in range(min(args.lines, len(dataset)))]
    for engine in ENGINES[1:]:
        Pipeline.load("greedy", engine=engine)                  # build the ONNX graphs into the cache, untimed
    results, recognizers, pipelines = {}, {}, {}
    for engine in ENGINES:
        load_s, recognizers[engine] = timed(lambda: Recognizer.load(engine=engine))
        pipelines[engine] = Pipeline.load("greedy", engine=engine)
        recognizers[engine].recognize(images[:args.batch_size], args.batch_size)     # warm-up
        pipelines[engine].transcribe(args.page)
        results[engine] = {"load_s": load_s, "line_s": [], "page_s": []}
    for _ in range(args.rounds):
        for engine in ENGINES:
            seconds, lines = timed(lambda: recognizers[engine].recognize(images, args.batch_size))
            results[engine]["line_s"].append(seconds)
            results[engine]["lines"] = lines
            seconds, page = timed(lambda: pipelines[engine].transcribe(args.page))
            results[engine]["page_s"].append(seconds)
            results[engine]["page"] = page.text
    print("%d lines of %s (batch %d), page %s (greedy); best of %d alternating rounds"
          % (len(images), args.iam_root, args.batch_size, args.page, args.rounds))
    print("%-9s %8s %10s %8s" % ("engine", "load s", "lines/s", "page s"))
    for engine in ENGINES:
        row = results[engine]
        row["lines_per_s"], row["page_s"] = len(images) / min(row.pop("line_s")), min(row["page_s"])
        print("%-9s %8.2f %10.1f %8.3f" % (engine, row["load_s"], row["lines_per_s"], row["page_s"]))
    for engine in ENGINES[1:]:
        compare(engine, results[engine], results["mxnet"], len(images))
    return {engine: {key: results[engine][key] for key in ("load_s", "lines_per_s", "page_s")} for engine in ENGINES}


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
