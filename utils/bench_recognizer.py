"""Line recogniser speed: lines/s at batch 16 (default) on random inputs of the model's size (LINE_SIZE,
60x1200, for the default network), and on real line images if given.

    python utils/bench_recognizer.py [--model NAME_OR_PATH] [--lines DIR] [--batch-size 16] [--batches 10]

Without --model the default network (random weights) is timed: the forward pass and the softmax, not the
preprocessing. With --lines, Recognizer.recognize is timed end to end on the folder's images (to_gray, fit,
standardise, net, greedy decoding); that needs --model, or the shipped model.
"""
import argparse
import os
import sys
import time

import cv2
import mxnet as mx

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ocr.config import LINE_SIZE  # noqa: E402
from ocr.nets.recognizer import build_recognizer  # noqa: E402
from ocr.recognizer import Recognizer  # noqa: E402


def lines_per_second(run, count, repeats):
    """Best of ``repeats`` timings of ``run()`` (which handles ``count`` lines) -> lines per second."""
    run()                                   # warm-up: shapes, memory plans
    best = min(_timed(run) for _ in range(repeats))
    return count / best


def _timed(run):
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main(argv=None):
    """Print lines/s; returns a dict {'synthetic': lines/s, 'real': lines/s or None}."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="model name or path (default: random default network)")
    p.add_argument("--lines", help="folder of line images to time end to end")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--batches", type=int, default=10, help="batches per timing")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)

    if args.model:
        recognizer = Recognizer.load(args.model)
        net, size = recognizer.net, recognizer.input_size
    else:
        net, size = build_recognizer({}), LINE_SIZE
        net.initialize(mx.init.Xavier())
        net.hybridize(static_alloc=True)
    batch = mx.nd.random.normal(shape=(args.batch_size, 1) + tuple(size))

    def forward():
        for _ in range(args.batches):
            mx.nd.softmax(net(batch), axis=-1).asnumpy()

    result = {"synthetic": lines_per_second(forward, args.batches * args.batch_size, args.repeats), "real": None}
    print("%s: %.1f lines/s (batch %d, %dx%d inputs, %d parameters, forward + softmax)"
          % (args.model or "default network", result["synthetic"], args.batch_size, size[0], size[1],
             sum(p.data().size for p in net.collect_params().values())))
    if args.lines:
        recognizer = Recognizer.load(args.model)
        names = sorted(f for f in os.listdir(args.lines) if f.lower().endswith((".png", ".jpg", ".jpeg", ".tif")))
        images = [cv2.imread(os.path.join(args.lines, f), cv2.IMREAD_UNCHANGED) for f in names]
        images = [image for image in images if image is not None]
        if not images:
            print("error: no readable images in %s" % args.lines, file=sys.stderr)
            sys.exit(2)
        result["real"] = lines_per_second(lambda: recognizer.recognize(images, args.batch_size), len(images),
                                          args.repeats)
        print("%s: %.1f lines/s end to end on %d images" % (args.lines, result["real"], len(images)))
    return result


if __name__ == "__main__":
    main()
