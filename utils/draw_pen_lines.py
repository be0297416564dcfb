"""IAM-OnDB lines rendered as ink: a picture grid of them, and the renderer's speed.

    python utils/draw_pen_lines.py --iamondb data/iamondb [--lines 12] [--out models/iamondb_lines.png]
    python utils/draw_pen_lines.py --iamondb data/iamondb --speed 400 [--workers 2]

The grid shows training-split lines, each drawn with its own seed (writer style, pen kind, paper), their
transcription above. ``--speed N`` renders N lines and prints lines per second (``--workers`` processes).
"""
import argparse
import sys
import time
from multiprocessing import Pool

import cv2
import numpy as np

from ocr.data.iamondb import IAMOnDBError
from ocr.data.line_mix import pen_splits
from ocr.data.pen import render_line
from ocr.core.paths import atomic_write_bytes

WIDTH = 1400          # pixels of the grid picture


def grid(lines: list, seed: int) -> np.ndarray:
    """uint8 picture (H, WIDTH): each line's text in small print above its render (scaled to fit WIDTH)."""
    rows = []
    for k, line in enumerate(lines):
        image = render_line(line.strokes, np.random.default_rng([seed, k]))
        scale = min(1.0, WIDTH / image.shape[1], 110 / image.shape[0])
        image = cv2.resize(image, (int(image.shape[1] * scale), int(image.shape[0] * scale)),
                           interpolation=cv2.INTER_AREA)
        caption = np.full((22, WIDTH), 255, np.uint8)
        cv2.putText(caption, line.text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 90, 1, cv2.LINE_AA)
        row = np.full((image.shape[0] + 6, WIDTH), 255, np.uint8)
        row[:image.shape[0], :image.shape[1]] = image
        rows += [caption, row]
    return np.concatenate(rows)


def _render(args: tuple) -> int:
    strokes, seed = args
    return render_line(strokes, np.random.default_rng(seed)).size


def speed(lines: list, count: int, workers: int) -> float:
    """Lines per second rendering ``count`` lines (cycling through ``lines``) on ``workers`` processes."""
    jobs = [(lines[k % len(lines)].strokes, k) for k in range(count)]
    started = time.perf_counter()
    if workers > 1:
        with Pool(workers) as pool:
            pool.map(_render, jobs, chunksize=8)
    else:
        for job in jobs:
            _render(job)
    return count / (time.perf_counter() - started)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iamondb", required=True, help="IAM-OnDB tree")
    parser.add_argument("--lines", type=int, default=12, help="lines in the grid")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="models/iamondb_lines.png", help="grid picture (PNG)")
    parser.add_argument("--speed", type=int, help="render this many lines and print lines/s (no picture)")
    parser.add_argument("--workers", type=int, default=2, help="processes for --speed")
    args = parser.parse_args(argv)
    try:
        train = pen_splits(args.iamondb)["train"]
    except IAMOnDBError as error:
        print("error: %s" % error, file=sys.stderr)
        return 2
    if not train:
        print("error: no IAM-OnDB training lines in %s" % args.iamondb, file=sys.stderr)
        return 2
    if args.speed:
        print("%.1f lines/s rendering %d lines on %d process(es)"
              % (speed(train, args.speed, args.workers), args.speed, args.workers))
        return 0
    picks = np.random.default_rng(args.seed).choice(len(train), size=min(args.lines, len(train)), replace=False)
    ok, png = cv2.imencode(".png", grid([train[i] for i in picks], args.seed))
    atomic_write_bytes(args.out, png.tobytes())
    print("wrote %s" % args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
