"""IoU of the paragraph segmentation model on form pages with a known handwritten block (e.g. real handwriting pages
written by utils/make_real_forms.py).

    python utils/bench_paragraph_real.py --pages DIR [--model NAME] [--draw OUT.png] [--overwrite]

Reads every ``<id>.png`` of DIR that has ``<id>.box.json`` = {"box": [x, y, w, h]} beside it: the tight box of the
handwritten ink, in page pixels. The model was trained to predict that box grown about its centre by
its card's ``target_growth`` of its width and height (ocr.core.geometry.expand_box on fractions), so the
prediction (``ParagraphSegmenter.predict``: (x, y, w, h) page pixels) is scored against the grown box (the
figure comparable with the model's synthetic test IoU) and, for reference, against the tight box. Prints one row per
page and the means. ``--draw`` writes the pages side by side, downscaled, with the grown true box in green and the
prediction in red. Exit status: 0 done; 2 bad input (one line on stderr).
"""
import argparse
import json
import os
import sys

import cv2
import numpy as np

from ocr.core.geometry import box_to_xywh_px, expand_box
from ocr.metrics import iou
from ocr.core.paths import atomic_write_bytes, refuse_overwrite


class UsageError(Exception):
    """Bad arguments or input: one line on stderr, exit status 2."""


def load_pages(folder):
    """[(id, uint8 gray page (H, W), tight true box (x, y, w, h) page pixels)] of ``folder``, sorted by id."""
    if not os.path.isdir(folder):
        raise UsageError("no such folder: %s" % folder)
    pages = []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".box.json"):
            continue
        page_id = name[:-len(".box.json")]
        image = cv2.imread(os.path.join(folder, page_id + ".png"), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise UsageError("%s has no readable %s.png beside it" % (name, page_id))
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                box = tuple(float(v) for v in json.load(f)["box"])
        except (ValueError, KeyError, TypeError) as error:
            raise UsageError("bad box file %s: %s" % (name, error)) from None
        if len(box) != 4:
            raise UsageError("bad box file %s: expected [x, y, w, h]" % name)
        pages.append((page_id, image, box))
    if not pages:
        raise UsageError("no pages (<id>.png with <id>.box.json) in %s" % folder)
    return pages


def grow_px(box, shape, scale):
    """Pixel box (x, y, w, h) on a page of ``shape`` (H, W) grown by ``scale`` of its size about its centre (clipped
    to the page, as the training targets) -> pixel box (x, y, w, h), floats."""
    H, W = shape[:2]
    x, y, w, h = expand_box((box[0] / W, box[1] / H, box[2] / W, box[3] / H), scale, scale)
    return x * W, y * H, w * W, h * H


def draw(pages, truths, predictions, out_png, scale=0.3):
    """The pages side by side, downscaled by ``scale``, true boxes green and predictions red -> PNG at ``out_png``."""
    tiles = []
    for (_, image, _), truth, pred in zip(pages, truths, predictions):
        tile = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        for (x, y, w, h), colour in ((truth, (0, 170, 0)), (pred, (0, 0, 255))):
            cv2.rectangle(tile, (int(round(x)), int(round(y))), (int(round(x + w)), int(round(y + h))), colour, 5)
        tiles.append(cv2.resize(tile, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
    h = max(t.shape[0] for t in tiles)
    tiles = [cv2.copyMakeBorder(t, 0, h - t.shape[0], 0, 8, cv2.BORDER_CONSTANT, value=(255, 255, 255))
             for t in tiles]
    ok, png = cv2.imencode(".png", np.hstack(tiles))
    atomic_write_bytes(out_png, png.tobytes())


def bench(folder, model=None, draw_png=None):
    """Score the model on the pages of ``folder``; returns the printed report text."""
    pages = load_pages(folder)
    from ocr.paragraph.predictor import ParagraphSegmenter
    try:
        segmenter = ParagraphSegmenter.load(model)
    except (FileNotFoundError, ValueError, KeyError) as error:
        raise UsageError("cannot load the paragraph model %s: %s" % (model or "(default)", error)) from None
    scale = segmenter.card.target_growth
    test_iou = segmenter.card.test_metrics.get("test_iou")
    rows = ["model %s (target grown by %.3f; synthetic test IoU %s)" % (
        model or "paragraph_segmentation", scale, "%.3f" % test_iou if test_iou is not None else "n/a"),
        "%-10s %-22s %-26s %-22s %8s %8s" % ("page", "tight true x,y,w,h", "grown true x,y,w,h",
                                            "predicted x,y,w,h", "IoU", "IoU tight")]
    truths, predictions, scores = [], [], []
    for page_id, image, tight in pages:
        grown = grow_px(tight, image.shape, scale)
        pred = tuple(float(v) for v in box_to_xywh_px(segmenter.predict(image), image.shape))
        scores.append((iou(pred, grown)[0, 0], iou(pred, tight)[0, 0]))
        truths.append(grown)
        predictions.append(pred)
        rows.append("%-10s %-22s %-26s %-22s %8.3f %8.3f" % (
            page_id, ",".join("%d" % v for v in tight), ",".join("%.0f" % v for v in grown),
            ",".join("%d" % v for v in pred), *scores[-1]))
    mean = np.mean(scores, axis=0)
    rows.append("%-10s %-72s %8.3f %8.3f" % ("mean", "(%d pages)" % len(pages), mean[0], mean[1]))
    if draw_png:
        draw(pages, truths, predictions, draw_png)
        rows.append("boxes drawn to %s (green: grown true box, red: prediction)" % draw_png)
    return "\n".join(rows) + "\n"


def main(argv=None):
    """CLI entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", required=True, help="folder of <id>.png + <id>.box.json")
    parser.add_argument("--model", help="paragraph model name or path (default: the shipped one)")
    parser.add_argument("--draw", help="write the boxed pages side by side to this PNG")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --draw file")
    args = parser.parse_args(argv)
    try:
        if args.draw:
            refuse_overwrite(args.draw, args.overwrite)
        print(bench(args.pages, args.model, args.draw), end="")
    except (UsageError, FileExistsError, OSError) as error:
        print("error: %s" % error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
