"""Pages per second of the pipeline (greedy and beam; MXNet, ONNX and ONNX-int8 engines) next to Tesseract, on the
same pages, in one run.

    python utils/bench_tesseract.py [--pages 5] [--iam-root data/synth_v2] [--rounds 3] [--engines mxnet onnx onnx-int8]
                                    [--with-widths]

Pages: samples/page.png and the first ``--pages`` test forms of ``--iam-root``. Ours: one process, models loaded
once, one warm-up page, then ``Pipeline.transcribe`` page by page. Tesseract: ``tesseract PAGE stdout`` per page
with ``OMP_THREAD_LIMIT=1`` (its fair setting on 2 cores), process start included as a user running it on files
would pay it. Each reader runs all pages once per round, the readers taking turns, and reports its best round, so
load from elsewhere hits all alike; the ratios are the figures to read on a shared machine. Prints pages/s,
lines/s (ours) and the ratio ours / Tesseract. Needs ``tesseract`` on PATH (Debian: tesseract-ocr).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import cv2

from ocr.core.loading import ENGINES
from ocr.core.paths import REPO_ROOT
from ocr.data.iam import IAMDataset
from ocr.pipeline.pipeline import Pipeline


def page_files(root: str, count: int, folder: str) -> list[str]:
    """samples/page.png and the first ``count`` test forms of the tree at ``root`` written as PNGs in ``folder``."""
    paths = [os.path.join(REPO_ROOT, "samples", "page.png")]
    forms = IAMDataset(root, "form_original", split="test")
    for i in range(min(count, len(forms))):
        path = os.path.join(folder, "%s.png" % forms.item_id(i))
        cv2.imwrite(path, forms.original_image(i))
        paths.append(path)
    return paths


def ours(decoder: str, engine: str, widths: bool = False):
    """A reader: pages -> (seconds, lines read) with the pipeline (``decoder``, ``engine``, ``widths``)."""
    pipeline = Pipeline.load(decoder=decoder, engine=engine, widths=widths)

    def read(paths):
        started, lines = time.perf_counter(), 0
        for path in paths:
            lines += len(pipeline.transcribe(path).lines)
        return time.perf_counter() - started, lines
    return read


def tesseract(paths: list[str]) -> tuple[float, int]:
    """(seconds, lines of text printed) of ``tesseract PAGE stdout`` on each page, one thread."""
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    started, lines = time.perf_counter(), 0
    for path in paths:
        done = subprocess.run(["tesseract", path, "stdout"], env=env, capture_output=True, text=True, check=True)
        lines += sum(1 for line in done.stdout.splitlines() if line.strip())
    return time.perf_counter() - started, lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5, help="synthetic test forms besides samples/page.png")
    parser.add_argument("--iam-root", default=os.path.join(REPO_ROOT, "data", "synth_v2"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--with-widths", action="store_true",
                        help="also time each engine and decoder with --widths (unsure lines read at several widths)")
    args = parser.parse_args(argv)
    if not shutil.which("tesseract"):
        print("error: tesseract is not installed (Debian: apt-get install tesseract-ocr)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        paths = page_files(args.iam_root, args.pages, folder)
        readers = {"tesseract (1 thread)": tesseract}
        for engine in args.engines:
            for decoder in ("greedy", "beam"):
                for widths in (False, True) if args.with_widths else (False,):
                    read = ours(decoder, engine, widths)
                    read(paths[:1])                              # warm-up
                    readers["ours %s %s%s" % (decoder, engine, " widths" if widths else "")] = read
        best = {}
        for _ in range(args.rounds):
            for name, read in readers.items():
                seconds, lines = read(paths)
                if name not in best or seconds < best[name][0]:
                    best[name] = (seconds, lines)
    base = len(paths) / best["tesseract (1 thread)"][0]
    print("%d pages (samples/page.png + %d synth test forms), best of %d rounds, %d CPU cores"
          % (len(paths), len(paths) - 1, args.rounds, os.cpu_count()))
    print("%-28s %8s %8s %8s %12s" % ("reader", "s/page", "pages/s", "lines/s", "vs tesseract"))
    for name, (seconds, lines) in best.items():
        print("%-28s %8.3f %8.2f %8.1f %11.2fx" % (name, seconds / len(paths), len(paths) / seconds, lines / seconds,
                                                   len(paths) / seconds / base))
    return 0


if __name__ == "__main__":
    sys.exit(main())
