"""Line recogniser robustness: greedy CER (pooled, spaces included) of the same lines under fixed image changes.

    python utils/bench_robustness.py --iam-root DIR [--split test] [--items 160] [--seed 0] [--model NAME_OR_PATH]

Draws ``--items`` random lines of the split (fitted into the model's input size, as the recogniser reads them),
then prints one row per change: thicker ink (3x3 erode), thinner ink (2x2 dilate), Gaussian blur, faint ink,
grey paper and a contrast stretch. A row far above 'plain' names an image property the model has not learnt to
ignore. The changes are applied to the fitted 60x1200 lines, so sizes are pixels of the fitted line.
"""
import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ocr.data.iam import IAMDataset  # noqa: E402
from ocr.metrics import cer  # noqa: E402
from ocr.recognizer import Recognizer  # noqa: E402


def faint(image, level):
    """uint8 (H, W) with black ink lifted to grey ``level`` (0..1) and white paper kept."""
    grey = image.astype(np.float32) / 255.0
    return np.clip((level + grey * (1 - level)) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def stretch(image):
    """uint8 (H, W) with its 1st grey percentile mapped to black and its 90th to white."""
    ink, paper = np.percentile(image, 1), np.percentile(image, 90)
    return np.clip((image.astype(np.float32) - ink) / max(paper - ink, 10.0) * 255.0, 0, 255).astype(np.uint8)


CHANGES = {
    "plain": lambda a: a,
    "thicker ink (3x3 erode)": lambda a: cv2.erode(a, np.ones((3, 3), np.uint8)),
    "thinner ink (2x2 dilate)": lambda a: cv2.dilate(a, np.ones((2, 2), np.uint8)),
    "blur sigma 1.5 px": lambda a: cv2.GaussianBlur(a, (0, 0), 1.5),
    "faint ink (grey 0.5)": lambda a: faint(a, 0.5),
    "grey paper (x0.8)": lambda a: (a.astype(np.float32) * 0.8).astype(np.uint8),
    "contrast stretch": stretch,
}


def main(argv=None):
    """Print the CER table; returns {change: CER}."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iam-root", required=True, help="IAM-format tree")
    p.add_argument("--split", default="test")
    p.add_argument("--items", type=int, default=160, help="random lines to score")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", help="recogniser name or path (default: the shipped one)")
    args = p.parse_args(argv)
    try:
        dataset = IAMDataset(args.iam_root, "line", split=args.split)
        recognizer = Recognizer.load(args.model)
    except (OSError, ValueError) as error:
        sys.exit("error: %s" % error)
    if len(dataset) == 0:
        sys.exit("error: no lines in split %r of %s" % (args.split, args.iam_root))
    picks = np.random.default_rng(args.seed).choice(len(dataset), min(args.items, len(dataset)), replace=False)
    lines = [dataset[int(i)] for i in picks]
    fitted = [recognizer.prepare(image) for image, _ in lines]
    texts = [text for _, text in lines]
    results = {}
    print("%d lines of %s/%s, greedy CER pooled (%%)" % (len(lines), args.iam_root, args.split))
    for name, change in CHANGES.items():
        hypotheses = [text for text, _ in recognizer.recognize([change(image) for image in fitted])]
        results[name] = cer(hypotheses, texts)
        print("%-26s %6.2f" % (name, 100 * results[name]), flush=True)
    return results


if __name__ == "__main__":
    main()
