"""Robustness of the pipeline to what users bring: CER of each image variant next to the unchanged image.

    python utils/bench_robustness.py [--real DIR] [--iam-root DIR] [--pages 4] [--words 8] [--word-pages N]
                                     [--decoder greedy]
                                     [--seed 0] [--ink-lines 0] [--pen-words 0 --iamondb DIR]

Items: the real images of ``--real`` (default ../shared/testdata/real_visible; each with ``<name>.gt.txt``, one
line of text per handwritten line) and ``--pages`` random test-split pages of the synthetic IAM-format tree
``--iam-root`` (default data/synth_v2). Every item goes through ``Pipeline.transcribe`` at level auto, unchanged
and as each variant: inverted; turned 90/180/270 degrees; skewed 2/5/10 degrees. Also: tight crops (cut to the
ink, no margin) of the real images and ``--words`` tight word crops per synthetic page (words of two letters or
more, cut by the tree's word boxes; from ``--word-pages`` other random test pages when given, for a larger sample
than the variants need) next to the same words as read inside their lines (word-aligned); each one-line
real item and the lines of those words scaled to 28 px high next to the same lines unscaled; with ``--pen-words N``, N
words of the IAM-OnDB test forms (real hands, ``--iamondb``) rendered alone next to the same words inside their
lines; a blank and a black page (characters read: should be 0); and the share of multi-line
items whose unchanged transcription has as many lines as the reference. CER is pooled (lines joined by spaces,
spaces included), in %. Targets (issue 20): variants within 3 points of 'unchanged', word crops no worse than
their lines, no text on blank/black, line counts equal on >= 90% of multi-line items.

``--ink-lines N`` also prints the line recogniser's greedy CER on N random test lines under ink and paper changes
(thicker/thinner ink, blur, faint ink, grey paper, contrast stretch) applied to the fitted 60x1200 lines.
"""
import argparse
import os
import sys

import cv2
import numpy as np

from ocr.data.iam import IAMDataset
from ocr.decode.testdata import TESTDATA_DIR
from ocr.evaluate import EvaluationError, folder_samples
from ocr.metrics import align, cer
from ocr.pipeline.pipeline import Pipeline
from ocr.core.ink import ink_box, ink_mask, warp
from ocr.pipeline.preprocess import rotation_matrix

REAL_DIR = os.path.join(TESTDATA_DIR, "real_visible")
SKEWS = (2, 5, 10)
THIN_HEIGHT = 28          # px: the height a line is scaled to for the 'thin strip' variant


def skewed(gray, degrees):
    """uint8 gray (H, W) rotated ``degrees`` counter-clockwise on a canvas that holds all of it."""
    matrix, shape = rotation_matrix(gray.shape, 0, degrees)
    return warp(gray, matrix, shape)


VARIANTS = {"unchanged": lambda g: g, "inverted": lambda g: 255 - g,
            **{"turned %d" % (90 * k): (lambda g, k=k: np.ascontiguousarray(np.rot90(g, k))) for k in (1, 2, 3)},
            **{"skewed %d deg" % d: (lambda g, d=d: skewed(g, d)) for d in SKEWS}}


def tight(gray):
    """uint8 gray (H, W) cut to its ink (ocr.core.ink.ink_mask), no margin."""
    x, y, w, h = ink_box(ink_mask(gray)) or (0, 0, gray.shape[1], gray.shape[0])
    return gray[y:y + h, x:x + w]


def thin(gray):
    """uint8 gray (H, W) scaled to THIN_HEIGHT px high, aspect kept."""
    width = max(1, round(gray.shape[1] * THIN_HEIGHT / gray.shape[0]))
    return cv2.resize(gray, (width, THIN_HEIGHT), interpolation=cv2.INTER_AREA)


def crop(page, box):
    """The (x, y, w, h) page-pixel ``box`` of uint8 ``page``."""
    x, y, w, h = (int(round(v)) for v in box)
    return page[y:y + h, x:x + w]


def real_items(folder):
    """[(name, uint8 gray (H, W), reference lines)] of the images in ``folder`` with a .gt.txt."""
    from ocr.core.images import to_gray
    items = []
    for sample in folder_samples(folder, "region"):
        image, lines = sample.load()
        items.append((sample.id, to_gray(image), lines))
    return items


def synthetic_items(root, pages, seed, split="test"):
    """``pages`` random pages of an IAM-format tree's ``split``: [(id, uint8 gray page, reference lines, Form)]."""
    dataset = IAMDataset(root, "form_original", split=split)
    forms = {form.id: form for form in dataset.tree.forms}
    picks = np.random.default_rng(seed).choice(len(dataset), min(pages, len(dataset)), replace=False)
    return [(dataset.item_id(int(i)), dataset[int(i)][0], dataset.text(int(i)).split("\n"),
             forms[dataset.item_id(int(i))]) for i in sorted(picks)]


def read(pipeline, image):
    """The pipeline's lines for ``image`` (level auto)."""
    return [line.text for line in pipeline.transcribe(image).lines]


def pooled(pairs):
    """CER % of [(hypothesis lines, reference lines)], each item's lines joined by spaces; None for no pairs."""
    if not pairs:
        return None
    return 100 * cer([" ".join(h) for h, _ in pairs], [" ".join(r) for _, r in pairs])


def row(name, *values):
    """One printed row: a name and CER/figure columns (None prints '-')."""
    print("%-30s" % name + "".join("%12s" % ("-" if v is None else "%.1f" % v if isinstance(v, float) else v)
                                   for v in values), flush=True)


def page_variants(pipeline, reals, synths):
    """Print CER per variant (real, synthetic) and the line-count share; returns {variant: (real, synth)} and
    the unchanged readings {item id: lines}."""
    results, unchanged = {}, {}
    for name, change in VARIANTS.items():
        cers = []
        for items in (reals, synths):
            pairs = []
            for item_id, gray, reference, *_ in items:
                lines = read(pipeline, change(gray))
                if name == "unchanged":
                    unchanged[item_id] = lines
                pairs.append((lines, reference))
            cers.append(pooled(pairs))
        results[name] = tuple(cers)
        row(name, *cers, *(("",) * 2 if name == "unchanged" else
                           ["%+.1f" % (c - u) if c is not None else None for c, u in zip(cers, results["unchanged"])]))
    return results, unchanged


def word_in_line(line_hypothesis, line_text, index):
    """How the ``index``-th space-separated word of ``line_text`` was read inside its line: the hypothesis word
    the word-level alignment (ocr.metrics.align) pairs it with, '' when it was deleted."""
    k = -1
    for op, reference, hypothesis in align(line_text.split(), " ".join(line_hypothesis).split()):
        k += op != "I"
        if k == index:
            return hypothesis or ""
    return ""


def pick_words(form, count, rng):
    """Up to ``count`` random (Line, word index) of a synthetic ``form``: words of two letters or more with a box,
    in lines whose boxes and words match their text."""
    chosen = [(ln, k) for ln in form.lines if ln.box_px and len(ln.words) == len(ln.text.split())
              for k, w in enumerate(ln.words) if w.box_px and sum(c.isalnum() for c in w.text) >= 2]
    return [chosen[int(pick)] for pick in rng.choice(len(chosen), min(count, len(chosen)), replace=False)]


def pen_word_items(root, count, seed, split="test"):
    """``count`` random words of the IAM-OnDB ``split`` forms of ``root`` (real hands): [(the word rendered alone and
    cut to its ink as the reader cuts a word crop (WORD_MARGIN), its line rendered with the same seed, the line's
    text, the word's index in it)]."""
    from ocr.data.line_mix import LineSpec, pen_splits, render_spec, word_bank
    lines = pen_splits(root)[split]
    bank = word_bank(lines)
    words = [(index, k) for form in sorted(bank["words"]) for index, k, word in bank["words"][form]
             if sum(c.isalnum() for c in word) >= 2]
    items = []
    for n, pick in enumerate(np.random.default_rng(seed).choice(len(words), min(count, len(words)), replace=False)):
        index, k = words[int(pick)]
        items.append((render_spec(LineSpec("composed", ((index, k),), seed + n), lines, bank, None),
                      render_spec(LineSpec("pen", index, seed + n), lines, bank, None), lines[index].text, k))
    return items


def crops_and_strips(pipeline, reals, synths, words, seed):
    """Print tight crops and 28 px strips next to their sources (real, synthetic)."""
    rng = np.random.default_rng(seed)
    word_pairs, in_line_pairs, line_pairs, thin_pairs = [], [], [], []
    for _, page, _, form in synths:
        for line, k in pick_words(form, words, rng):
            in_line = read(pipeline, crop(page, line.box_px))
            word_pairs.append((read(pipeline, crop(page, line.words[k].box_px)), [line.words[k].text]))
            in_line_pairs.append(([word_in_line(in_line, line.text, k)], [line.words[k].text]))
            line_pairs.append((in_line, [line.text]))
            thin_pairs.append((read(pipeline, thin(crop(page, line.box_px))), [line.text]))
    real_tight = [(read(pipeline, tight(gray)), reference) for _, gray, reference in reals]
    real_plain = [(read(pipeline, gray), reference) for _, gray, reference in reals]
    singles = [(gray, reference) for _, gray, reference in reals if len(reference) == 1]
    real_thin = [(read(pipeline, thin(tight(gray))), reference) for gray, reference in singles]
    real_single = [(read(pipeline, gray), reference) for gray, reference in singles]
    row("tight crops (real: ink box)", pooled(real_tight), None, "vs", pooled(real_plain), None)
    row("tight word crops (synthetic)", None, pooled(word_pairs), "vs in line", None, pooled(in_line_pairs))
    row("line scaled to %d px high" % THIN_HEIGHT, pooled(real_thin), pooled(thin_pairs),
        "vs", pooled(real_single), pooled(line_pairs))


def pen_words(pipeline, root, count, seed):
    """Print ``count`` random words of the IAM-OnDB test forms of ``root`` (real hands), each rendered alone and cut
    to its ink as the reader cuts a word crop, next to the same words read inside their lines (pen_word_items;
    word-aligned as for the synthetic crops)."""
    word_pairs, in_line_pairs = [], []
    for alone, line, text, k in pen_word_items(root, count, seed):
        word = text.split()[k]
        word_pairs.append((read(pipeline, alone), [word]))
        in_line_pairs.append(([word_in_line(read(pipeline, line), text, k)], [word]))
    row("IAM-OnDB test words", pooled(word_pairs), None, "vs in line", pooled(in_line_pairs), None)


def empty_pages(pipeline):
    """Print the characters read on blank and black pages (should be 0)."""
    rng = np.random.default_rng(0)
    paper = np.clip(rng.normal(235, 4, (1754, 1240)), 0, 255).astype(np.uint8)
    for name, page in (("blank page", paper), ("black page", np.zeros((1754, 1240), np.uint8)),
                       ("black page, noisy", 255 - paper)):
        row(name + " (chars read)", len("".join(read(pipeline, page))))


def line_counts(unchanged, items):
    """Print the share of multi-line items whose unchanged reading has as many lines as the reference."""
    multi = [(item_id, reference) for item_id, _, reference, *_ in items if len(reference) > 1]
    equal = sum(len(unchanged[item_id]) == len(reference) for item_id, reference in multi)
    misses = ["%s %d/%d" % (i, len(unchanged[i]), len(r)) for i, r in multi if len(unchanged[i]) != len(r)]
    row("line count = reference", "%d/%d" % (equal, len(multi)))
    if misses:
        print("  differing (hypothesis/reference lines): " + ", ".join(misses))


def faint(image, level):
    """uint8 (H, W) with black ink lifted to grey ``level`` (0..1) and white paper kept."""
    grey = image.astype(np.float32) / 255.0
    return np.clip((level + grey * (1 - level)) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def stretch(image):
    """uint8 (H, W) with its 1st grey percentile mapped to black and its 90th to white."""
    ink, paper = np.percentile(image, 1), np.percentile(image, 90)
    return np.clip((image.astype(np.float32) - ink) / max(paper - ink, 10.0) * 255.0, 0, 255).astype(np.uint8)


INK_CHANGES = {
    "plain": lambda a: a,
    "thicker ink (3x3 erode)": lambda a: cv2.erode(a, np.ones((3, 3), np.uint8)),
    "thinner ink (2x2 dilate)": lambda a: cv2.dilate(a, np.ones((2, 2), np.uint8)),
    "blur sigma 1.5 px": lambda a: cv2.GaussianBlur(a, (0, 0), 1.5),
    "faint ink (grey 0.5)": lambda a: faint(a, 0.5),
    "grey paper (x0.8)": lambda a: (a.astype(np.float32) * 0.8).astype(np.uint8),
    "contrast stretch": stretch,
}


def ink_changes(recognizer, root, count, seed):
    """Print the recogniser's greedy CER on ``count`` random test lines under each of INK_CHANGES."""
    dataset = IAMDataset(root, "line", split="test")
    picks = np.random.default_rng(seed).choice(len(dataset), min(count, len(dataset)), replace=False)
    lines = [dataset[int(i)] for i in picks]
    fitted = [recognizer.prepare(image) for image, _ in lines]
    print("\nline recogniser, %d fitted test lines, greedy CER pooled (%%)" % len(lines))
    for name, change in INK_CHANGES.items():
        hypotheses = [text for text, _ in recognizer.recognize([change(image) for image in fitted])]
        row(name, 100 * cer(hypotheses, [text for _, text in lines]))


def main(argv=None):
    """Print the tables (see the module doc)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--real", default=REAL_DIR, help="folder of real images with .gt.txt (default %(default)s)")
    p.add_argument("--iam-root", default="data/synth_v2", help="synthetic IAM-format tree (default %(default)s)")
    p.add_argument("--pages", type=int, default=4, help="random synthetic test pages (default 4)")
    p.add_argument("--words", type=int, default=8, help="word crops and lines per synthetic page (default 8)")
    p.add_argument("--word-pages", type=int,
                   help="synthetic test pages to cut the word crops and lines from (default: the --pages pages)")
    p.add_argument("--decoder", default="greedy", choices=("greedy", "beam", "lexicon"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ink-lines", type=int, default=0, help="also the ink/paper table on this many lines")
    p.add_argument("--model", help="recogniser name or path (default: the shipped one)")
    p.add_argument("--iamondb", default="data/iamondb", help="IAM-OnDB tree for --pen-words (default %(default)s)")
    p.add_argument("--pen-words", type=int, default=0,
                   help="also this many IAM-OnDB test-form words read alone and in their lines (real hands)")
    args = p.parse_args(argv)
    try:
        reals = real_items(args.real) if os.path.isdir(args.real) else []
        synths = synthetic_items(args.iam_root, args.pages, args.seed) if args.pages > 0 else []
        word_synths = synths if args.word_pages is None else synthetic_items(args.iam_root, args.word_pages, args.seed)
        pipeline = Pipeline.load(decoder=args.decoder, recognizer=args.model)
    except (OSError, ValueError, EvaluationError) as error:
        sys.exit("error: %s" % " ".join(str(error).split()))
    if args.pen_words > 0 and not os.path.isdir(os.path.join(args.iamondb, "lineStrokes")):
        sys.exit("error: --pen-words needs IAM-OnDB: %s has no lineStrokes/ folder (README: Real hands)" % args.iamondb)
    if not reals and not synths:
        sys.exit("error: no items: neither %s nor synthetic pages of %s" % (args.real, args.iam_root))
    print("%d real images (%s), %d synthetic test pages (%s), %s decoder, level auto; CER pooled %%"
          % (len(reals), args.real, len(synths), args.iam_root, args.decoder))
    row("variant", "real", "synthetic", "real diff", "synth diff")
    _, unchanged = page_variants(pipeline, reals, synths)
    crops_and_strips(pipeline, reals, word_synths, args.words, args.seed)
    if args.pen_words > 0:
        pen_words(pipeline, args.iamondb, args.pen_words, args.seed)
    empty_pages(pipeline)
    line_counts(unchanged, [item[:3] for item in reals + synths])
    if args.ink_lines > 0:
        ink_changes(pipeline.recognizer, args.iam_root, args.ink_lines, args.seed)


if __name__ == "__main__":
    main()
