"""ONNX export of the shipped models: ``python -m ocr.export [--models DIR] [--out DIR] [--overwrite]``.

Builds the ONNX graph of each model in ``--models`` (paragraph_segmentation, word_segmentation, handwriting_line;
default models/) into the cache that ``--engine onnx`` (and ``onnx-int8``) reads (ocr.core.onnx_engine: data/cache/onnx, rebuilt whenever a
model's files change), runs one random input through the graph (onnxruntime) and the Gluon net (MXNet), and prints
per model the graph's path, its size and the largest absolute difference of their outputs; the recogniser's int8
variant (``--engine onnx-int8``, ocr.core.onnx_int8) is built into the cache too. ``--out DIR`` also
writes ``<stem>.onnx`` there (atomically; an existing file is kept unless --overwrite), for use elsewhere.
Input of each graph: ``data``, float32 (N, 1, H, W), standardised as the predictor does (see its module).
Exit status: 0 done; 1 a model is missing or cannot be exported, or a file in --out exists.
"""
import argparse
import os
import sys

import mxnet as mx
import numpy as np

from ocr.words.predictor import WordDetector
from ocr.core.loading import INT8_STAGES, ModelLoadError
from ocr.paragraph.predictor import ParagraphSegmenter
from ocr.core.paths import MODELS_DIR, atomic_write_bytes, refuse_overwrite
from ocr.recognition.predictor import Recognizer

# stem -> (predictor class, its net's input shape (1, 1, H, W) for one item)
MODELS = {
    "paragraph_segmentation": (ParagraphSegmenter, lambda model: (1, 1) + tuple(model.input_size)),
    "word_segmentation": (WordDetector, lambda model: (1, 1, model.image_size, model.image_size)),
    "handwriting_line": (Recognizer, lambda model: (1, 1) + tuple(model.input_size)),
}


def max_difference(mxnet_model: ParagraphSegmenter | WordDetector | Recognizer,
                   onnx_model: ParagraphSegmenter | WordDetector | Recognizer, shape: tuple[int, int, int, int],
                   seed: int = 0) -> float:
    """Largest |ONNX - MXNet| over all outputs of the two predictors' nets on one uniform [0, 1) float32 input of
    ``shape`` (N, 1, H, W)."""
    data = mx.nd.array(np.random.default_rng(seed).random(shape, dtype=np.float32))
    expected, got = mxnet_model.net(data), onnx_model.net(data)
    pairs = zip(expected, got) if isinstance(expected, (list, tuple)) else [(expected, got)]
    return max(float(np.abs(a.asnumpy() - b.asnumpy()).max()) for a, b in pairs)


def export_model(stem: str, models_dir: str = MODELS_DIR, out: str | None = None,
                 overwrite: bool = False) -> tuple[str, int, float]:
    """Build (or find) the cached ONNX graph of ``models_dir/stem`` and check it against MXNet on one input.
    Returns (graph path: the copy in ``out`` when given, else the cached file; size in bytes; max |difference|)."""
    cls, input_shape = MODELS[stem]
    path = os.path.join(models_dir, stem)
    if out:
        refuse_overwrite(os.path.join(out, stem + ".onnx"), overwrite)
    reference, exported = cls.load(path), cls.load(path, engine="onnx")
    if reference.card.stage in INT8_STAGES:
        cls.load(path, engine="onnx-int8")                  # the default engine's graph, into the cache
    difference = max_difference(reference, exported, input_shape(reference))
    graph = exported.net.path
    if out:
        with open(graph, "rb") as f:
            data = f.read()
        graph = os.path.join(out, stem + ".onnx")
        atomic_write_bytes(graph, data)
    return graph, os.path.getsize(graph), difference


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (see the module doc)."""
    parser = argparse.ArgumentParser(prog="python -m ocr.export", description="ONNX export of the shipped models.")
    parser.add_argument("--models", default=MODELS_DIR, metavar="DIR",
                        help="folder of the three models' .params/.json (default: the shipped models/)")
    parser.add_argument("--out", metavar="DIR", help="also write <stem>.onnx into DIR")
    parser.add_argument("--overwrite", action="store_true", help="replace existing <stem>.onnx files in --out")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    args = parse_args(argv)
    for stem in MODELS:
        try:
            graph, size, difference = export_model(stem, args.models, args.out, args.overwrite)
        except (FileNotFoundError, FileExistsError, ModelLoadError) as error:
            print("error: %s" % error, file=sys.stderr)
            return 1
        print("%s: %s (%.1f MB), max |onnx - mxnet| = %.2g on one input" % (stem, graph, size / 1e6, difference))
    return 0


if __name__ == "__main__":
    sys.exit(main())
