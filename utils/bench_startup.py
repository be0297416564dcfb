"""Start-up of the pipeline per decoder, in fresh processes: the code now and, with ``--base REV``, the code at REV
side by side in one run (same Python, same data, same models).

    python utils/bench_startup.py [--base REV] [--decoder greedy beam lexicon] [--engine onnx-int8] [--repeat 3]

Start-up is the time from a fresh interpreter to a Pipeline ready to read (imports, the three shipped models, the
decoder with its language model or lexicon) plus the decoding of one 100 x 80 probability matrix (so that what a
decoder loads on first use counts too). Also printed: the peak resident memory of that process. Medians of
``--repeat`` runs; the ratio base / now where a base is given. ``--engine``: what runs the nets (onnx-int8, as
``python -m ocr.pipeline`` does by default on the CPU; its graphs are built into the cache by a first run, not timed;
a ``--base`` before that engine existed needs ``--engine onnx``).
"""
import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys

from compare_revisions import REPO, checked_out, tree_env     # a sibling script (utils/ is on sys.path)
from ocr.core.loading import DEFAULT_CPU_ENGINE, ENGINES

PROBE = """
import time
started = time.perf_counter()
import resource, json
import numpy as np
from ocr.pipeline import Pipeline
pipeline = Pipeline.load(decoder=%r, engine=%r)
probs = np.random.default_rng(0).dirichlet(np.ones(80), size=100).astype(np.float32)
pipeline.decode(probs)
print(json.dumps({"seconds": time.perf_counter() - started,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def probe(tree: str, decoder: str, engine: str) -> dict:
    """One fresh process in ``tree``: {seconds, peak_mb} of loading the pipeline with ``decoder`` and ``engine``."""
    done = subprocess.run([sys.executable, "-c", PROBE % (decoder, engine)], cwd=tree, env=tree_env(tree),
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit("error: the probe failed in %s: %s" % (tree, done.stderr.strip().splitlines()[-1:]))
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(trees: dict, decoders: list, engine: str, repeat: int) -> dict:
    """{(tree name, decoder): (median seconds, median peak MB)}, runs interleaved tree by tree, after one untimed
    run per tree (which builds what the engine caches)."""
    runs = {key: [] for key in ((name, d) for name in trees for d in decoders)}
    for tree in trees.values():
        probe(tree, decoders[0], engine)
    for _ in range(repeat):
        for decoder in decoders:
            for name, tree in trees.items():
                runs[name, decoder].append(probe(tree, decoder, engine))
    return {key: (statistics.median(r["seconds"] for r in values), statistics.median(r["peak_mb"] for r in values))
            for key, values in runs.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="git revision to measure beside the working tree")
    parser.add_argument("--decoder", nargs="+", default=["greedy", "beam", "lexicon"])
    parser.add_argument("--engine", choices=ENGINES, default=DEFAULT_CPU_ENGINE)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with checked_out(args.base) if args.base else contextlib.nullcontext() as base_tree:
        trees = {"base": base_tree, "now": REPO} if args.base else {"now": REPO}
        figures = measure(trees, args.decoder, args.engine, args.repeat)
    print("start-up to a ready pipeline, engine %s (median of %d fresh processes; %d CPU cores)"
          % (args.engine, args.repeat, os.cpu_count()))
    print("%-8s %s" % ("decoder", "  ".join("%14s" % ("%s s / MB" % name) for name in trees))
          + ("   base/now" if args.base else ""))
    for decoder in args.decoder:
        cells = ["%6.2f / %5.0f" % figures[name, decoder] for name in trees]
        ratio = "   %8.2fx" % (figures["base", decoder][0] / figures["now", decoder][0]) if args.base else ""
        print("%-8s %s%s" % (decoder, "  ".join("%14s" % c for c in cells), ratio))
    return 0


if __name__ == "__main__":
    sys.exit(main())
