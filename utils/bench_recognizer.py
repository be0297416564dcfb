"""Line recogniser speed: lines/s of the net alone, and of recognition at the full input width (every line
letterboxed into 60x1200) side by side with recognition batched by width (ocr.recognition.predictor), in one run.

    python utils/bench_recognizer.py [--model NAME_OR_PATH] [--iam-root data/synth_v2] [--level line|word]
                                     [--lines 160] [--batch-size 16] [--rounds 3] [--margins 16 32 64] [--graphs]

Net alone: the forward pass and the softmax on random inputs of the model's input size (without --model: the
default network with random weights; then nothing else is timed). Recognition: ``Recognizer.recognize`` end to
end (fit, standardise, net, softmax, greedy text) on the first ``--lines`` test items of ``--iam-root`` (lines,
or with ``--level word`` its word images: short inputs, though not what the line model was trained on), at the
full width (the default) and batched by width (``by_width=True``) with each of ``--margins`` (px of paper kept each side of a
batch's widest line). The variants take turns for ``--rounds`` rounds after a warm-up each and each reports its
best round, so that load from other processes hits them alike (on a busy machine only the ratios mean much). For
each: lines/s, the ratio to the full width, how many lines read the same greedy text as at the full width, and the
greedy CER (pooled, %). ``--graphs`` also times both ways under each way of running the Gluon net (imperative,
hybridized, static_alloc, static_alloc + static_shape) and checks that each reads the texts the first one does.
"""
import argparse
import time

import mxnet as mx

from ocr.core.geometry import LINE_SIZE
from ocr.data.iam import IAMDataset
from ocr.metrics import cer
from ocr.recognition.net import build_recognizer
from ocr.recognition.predictor import MARGIN, Recognizer

# how the Gluon net is run: name -> hybridize() keywords (None: imperative)
GRAPHS = {"imperative": None, "hybridized": {}, "static_alloc": {"static_alloc": True},
          "static_alloc+static_shape": {"static_alloc": True, "static_shape": True}}


def timed(run):
    """(seconds, result) of ``run()``."""
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def best_rates(runs, count, rounds):
    """{name: (best lines/s over ``rounds`` turns, result of its last run)} of ``runs`` = {name: run()}, each run
    handling ``count`` lines; the runs take turns after one warm-up each."""
    results = {name: run() for name, run in runs.items()}          # warm-up: shapes, memory plans
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            seconds, results[name] = timed(run)
            best[name] = min(best[name], seconds)
    return {name: (count / best[name], results[name]) for name in runs}


def net_alone(model, batch_size, rounds):
    """Lines/s of the net's forward pass + softmax on a random batch of the input size; prints one line."""
    if model:
        recognizer = Recognizer.load(model)
        net, size = recognizer.net, recognizer.input_size
    else:
        net, size = build_recognizer({}), LINE_SIZE
        net.initialize(mx.init.Xavier())
        net.hybridize(static_alloc=True)
    batch = mx.nd.random.normal(shape=(batch_size, 1) + tuple(size))
    rate, _ = best_rates({"net": lambda: mx.nd.softmax(net(batch), axis=-1).asnumpy()}, batch_size, rounds)["net"]
    print("net alone (%s): %.1f lines/s (batch %d, %dx%d inputs, forward + softmax)"
          % (model or "default network, random weights", rate, batch_size, size[0], size[1]))
    return rate


def compare_widths(recognizer, lines, references, batch_size, rounds, margins):
    """Full width vs batched by width with each margin: prints a table; returns {variant: lines/s}."""
    def by_width(margin):
        def run():
            recognizer.margin = margin
            return recognizer.recognize(lines, batch_size, by_width=True)
        return run
    runs = {"full width": lambda: recognizer.recognize(lines, batch_size, by_width=False)}
    runs.update({"by width, margin %d" % m: by_width(m) for m in margins})
    rates = best_rates(runs, len(lines), rounds)
    recognizer.margin = MARGIN
    full_rate, full = rates["full width"]
    print("%-24s %8s %6s %11s %9s" % ("recognition", "lines/s", "ratio", "same text", "CER %"))
    for name, (rate, results) in rates.items():
        texts = [text for text, _ in results]
        same = sum(a == b for a, (b, _) in zip(texts, full))
        print("%-24s %8.1f %5.2fx %5d/%-5d %9.2f"
              % (name, rate, rate / full_rate, same, len(lines), 100 * cer(texts, references)))
    return {name: rate for name, (rate, _) in rates.items()}


def compare_graphs(recognizer, lines, batch_size, rounds):
    """Full width and by width (MARGIN) under each of GRAPHS: prints lines/s and whether the texts are those of the
    first graph; returns {(graph, way): lines/s}."""
    rates, first = {}, {}
    for graph, options in GRAPHS.items():
        recognizer.net.hybridize(active=options is not None, **(options or {}))
        runs = {"full width": lambda: recognizer.recognize(lines, batch_size, by_width=False),
                "by width": lambda: recognizer.recognize(lines, batch_size, by_width=True)}
        same = True
        for way, (rate, results) in best_rates(runs, len(lines), rounds).items():
            rates[graph, way] = rate
            texts = first.setdefault(way, [text for text, _ in results])
            same = same and texts == [text for text, _ in results]
        print("%-26s full width %6.1f lines/s, by width %6.1f lines/s (%.2fx)%s"
              % (graph, rates[graph, "full width"], rates[graph, "by width"],
                 rates[graph, "by width"] / rates[graph, "full width"], "" if same else "  TEXTS DIFFER"))
    recognizer.net.hybridize(static_alloc=True)                    # as models.load_net leaves it
    return rates


def main(argv=None):
    """Print the figures; returns {'net': lines/s, 'widths': {...}, 'graphs': {...}} (the last two without
    --iam-root / --graphs: empty)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="model name or path (default: the shipped model with --iam-root, else a "
                                   "random default network)")
    p.add_argument("--iam-root", help="IAM-format tree whose test lines are recognised (e.g. data/synth_v2)")
    p.add_argument("--level", choices=("line", "word"), default="line", help="its test lines (default) or words")
    p.add_argument("--lines", type=int, default=160, help="how many of its test items (default 160)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--margins", type=int, nargs="+", default=[MARGIN], help="px (default: %d)" % MARGIN)
    p.add_argument("--graphs", action="store_true", help="also time each way of running the Gluon net")
    args = p.parse_args(argv)

    result = {"net": net_alone(args.model, args.batch_size, args.rounds), "widths": {}, "graphs": {}}
    if args.iam_root:
        recognizer = Recognizer.load(args.model)
        dataset = IAMDataset(args.iam_root, args.level, split="test")
        count = min(args.lines, len(dataset))
        lines = [dataset.original_image(i) for i in range(count)]
        references = [dataset.text(i) for i in range(count)]
        print("%d test %ss of %s, batch %d, best of %d rounds"
              % (count, args.level, args.iam_root, args.batch_size, args.rounds))
        result["widths"] = compare_widths(recognizer, lines, references, args.batch_size, args.rounds, args.margins)
        if args.graphs:
            result["graphs"] = compare_graphs(recognizer, lines, args.batch_size, args.rounds)
    return result


if __name__ == "__main__":
    main()
