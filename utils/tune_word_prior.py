"""Choose how much the character LM helps pick a lone word's reading (the recogniser card's ``input.word_lm_weight``).

    python utils/tune_word_prior.py [--model models/handwriting_line] [--synth data/synth_v2] [--pages 60] [--words 8]
                                    [--iamondb data/iamondb] [--pen-words 300] [--grid 0,0.2,0.3,0.5,0.7,1] [--save]
                                    [--split validation|test]

A word alone is read at several sizes and the reading the sizes agree on is kept (``Pipeline._read_word``); with a
weight w > 0 each size's text also scores w x its character-LM log-probability (``Pipeline.word_text_prior``), since
a word alone does not show its neighbours' letters ('With' or 'with'). Validation words only: ``--words`` tight word
crops per random synth_v2 validation page (cut by the tree's word boxes, as ``utils/bench_robustness.py`` cuts its
test crops) and ``--pen-words`` words of the IAM-OnDB validation forms rendered alone (real hands). Each word goes
through ``Pipeline.transcribe`` (level auto, greedy) once per weight of ``--grid``; the recogniser's outputs are
cached, so a weight costs only the preprocessing. Printed: greedy CER of both sets per weight; chosen: the weight
with the lowest mean of the two. ``--save`` writes it into the model's card. ``--split test`` reads the same kinds
of words from the test pages and forms instead, to report what a chosen weight does on unseen words (nothing is
chosen or saved from them).
"""
import argparse
import hashlib
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tqdm import tqdm  # noqa: E402

from bench_robustness import crop, pen_word_items, pick_words, read, synthetic_items  # noqa: E402
from ocr.core.card import read_card, write_card  # noqa: E402
from ocr.core.loading import ModelLoadError  # noqa: E402
from ocr.data.iamondb import IAMOnDBError  # noqa: E402
from ocr.metrics import cer  # noqa: E402
from ocr.pipeline.pipeline import Pipeline  # noqa: E402
from ocr.recognition.predictor import resolve_model  # noqa: E402


def cache_recognizer(recognizer) -> None:
    """Make ``recognizer.recognize`` remember its output per image (by shape and bytes), so reading the same crops
    again under another weight runs no net."""
    recognize, memory = recognizer.recognize, {}

    def remembered(images, batch_size=16, by_width=False):
        keys = [(np.shape(image), hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest(), by_width)
                for image in images]
        missing = [i for i, key in enumerate(keys) if key not in memory]
        for i, result in zip(missing, recognize([images[i] for i in missing], batch_size, by_width) if missing else []):
            memory[keys[i]] = result
        return [memory[key] for key in keys]
    recognizer.recognize = remembered


def word_sets(synth: str, pages: int, words: int, iamondb: str, pen_words: int, seed: int,
              split: str = "validation") -> dict:
    """{set name: [(uint8 word image, its text)]}: synth_v2 word crops and IAM-OnDB words of ``split``."""
    sets = {}
    if pages > 0:
        rng = np.random.default_rng(seed)
        sets["synth_v2 %s words" % split] = [
            (crop(page, line.words[k].box_px), line.words[k].text)
            for _, page, _, form in synthetic_items(synth, pages, seed, split)
            for line, k in pick_words(form, words, rng)]
    if pen_words > 0:
        sets["IAM-OnDB %s words" % split] = [(alone, text.split()[k])
                                             for alone, _, text, k in pen_word_items(iamondb, pen_words, seed, split)]
    return sets


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/handwriting_line", help="recogniser (stem of .params/.json)")
    parser.add_argument("--synth", default="data/synth_v2", help="synth_v2 (IAM layout) root")
    parser.add_argument("--pages", type=int, default=60, help="synth_v2 pages of --split (default 60)")
    parser.add_argument("--words", type=int, default=8, help="word crops per page (default 8)")
    parser.add_argument("--iamondb", default="data/iamondb", help="local IAM-OnDB tree")
    parser.add_argument("--pen-words", type=int, default=300, help="IAM-OnDB words of --split (default 300)")
    parser.add_argument("--grid", default="0,0.2,0.3,0.5,0.7,1", help="weights to try")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", action="store_true", help="write the chosen weight into the model's card")
    parser.add_argument("--split", default="validation", choices=("validation", "test"),
                        help="words to read; test only reports (default %(default)s)")
    args = parser.parse_args(argv)
    if args.save and args.split != "validation":
        parser.error("--save chooses on validation words only")
    try:
        grid = [float(w) for w in args.grid.split(",")]
    except ValueError:
        parser.error("--grid: comma-separated numbers, e.g. 0,0.5,1")
    if min(grid) < 0 or len(set(grid)) < len(grid):
        parser.error("--grid: distinct weights >= 0")
    try:
        pipeline = Pipeline.load(decoder="greedy", recognizer=args.model)
        sets = word_sets(args.synth, args.pages, args.words, args.iamondb, args.pen_words, args.seed, args.split)
    except (OSError, ModelLoadError, IAMOnDBError, ValueError) as error:
        print("error: %s" % " ".join(str(error).split()), file=sys.stderr)
        return 1
    if not any(sets.values()):
        print("error: no words (--pages and --pen-words are 0, or the trees hold none)", file=sys.stderr)
        return 1
    cache_recognizer(pipeline.recognizer)
    spec = pipeline.recognizer.card.input
    scores = {}
    for weight in tqdm(grid, desc="weights"):
        spec.word_lm_weight = weight
        scores[weight] = [100 * cer([" ".join(read(pipeline, image)) for image, _ in items],
                                    [text for _, text in items]) for items in sets.values()]
    print("greedy CER %% of words read alone (level auto); %s"
          % ", ".join("%s: %d" % (name, len(items)) for name, items in sets.items()))
    print("%-8s" % "weight" + "".join(" %26s" % name for name in sets))
    for weight, cells in scores.items():
        print("%-8g" % weight + "".join(" %26.2f" % c for c in cells))
    if args.split != "validation":
        return 0
    chosen = min(grid, key=lambda w: (np.mean(scores[w]), w))
    print("chosen: %g (%s; weight 0: %s)" % (chosen, ", ".join("%.2f%%" % c for c in scores[chosen]),
                                             ", ".join("%.2f%%" % c for c in scores.get(0.0, [float("nan")]))))
    if args.save:
        path = resolve_model(args.model)[1]
        card = read_card(path)
        card.input.word_lm_weight = chosen
        write_card(path, card)
        print("saved to %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
