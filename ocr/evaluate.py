"""SClite-style evaluation of the line recogniser (line level) or the pipeline (region and page levels).

    python -m ocr.evaluate --iam-root DIR [--split test] [--level line|region|page] [options]
    python -m ocr.evaluate --folder DIR [--level line|region|page] [options]
    options: --decoder greedy [beam lexicon]  --model NAME  --out DIR [--overwrite]  --max-items N
             --batch-size N  --engine mxnet|onnx|onnx-int8  --sclite-ignore-case  --no-progress

Inputs: IAM 'line' items (line level), the handwritten block of each 'form_original' page grown by
FORM_BB_EXPAND (region level: word/line segmentation + recogniser, no paragraph stage) or the whole page (page
level: all three stages), with the form's text; or a folder of images, each with ``<name>.gt.txt`` beside it
holding one line of text per handwritten line (at line level the lines of a file are joined with spaces: the
image is one line; at region level an image is a block of handwriting with no printed form around it). Several
decoders are scored on one recognition.

Figures (``ocr.metrics``): CER/WER *pooled* (total edits / total reference length, spaces count in CER) and
*mean per item* (mean of per-item rates, whitespace removed in CER: the reference's sclite convention). At region
and page level both *free* (alignment-free: a page's lines joined and compared as one text) and *paired*
(predicted lines paired to reference lines by alignment, ``ocr.metrics.pair_lines``). When sclite is found
(``ocr.sclite``) its Mean row (mean over items, each item a sclite speaker) and Sum/Avg row (pooled, whitespace
not scored in character mode) are shown beside ours; it runs case-sensitive (-s) unless --sclite-ignore-case
(the reference's setting).

--out DIR receives per decoder and scoring: ``<decoder>.<scoring>.hyp.trn`` / ``.ref.trn`` (``ocr.sclite`` trn
format), ``<decoder>.<scoring>.pra`` (per-utterance alignments; line and paired scorings), and ``summary.txt`` /
``summary.json``. Existing files are never overwritten without --overwrite.

Exit status: 0 done; 1 bad input or a model that cannot be loaded (one line on stderr).
"""
import argparse
import dataclasses
import functools
import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ocr.core.geometry import FORM_BB_EXPAND, crop_image, expand_box
from ocr.core.images import IMAGE_EXTENSIONS, ImageError, read_image
from ocr.core.loading import DEFAULT_CPU_ENGINE, ENGINES, ModelLoadError
from ocr.core.paths import atomic_write_text
from ocr.decode import DECODERS, get_decoder
from ocr.metrics import Summary, page_score, score_item
from ocr.pipeline import Pipeline
from ocr.recognition.predictor import Recognizer
from ocr.sclite import (ScliteError, ScliteResult, Utterance, find_sclite, format_alignment_report, score_trn_pair,
                        utterance_id, write_trn_pair)

# evaluation level (what an item is: an IAM line read by the recogniser alone, or a block of handwriting or a form
# page read by the pipeline) -> how its outputs are scored
SCORINGS = {"line": ("lines",), "region": ("free", "paired"), "page": ("free", "paired")}
WITH_REPORT = ("lines", "paired")   # scorings with a .pra (pages as one text are too long to be worth aligning)

Reference = str | list[str]         # a line's text, or the line texts of a region or page in reading order
# images (numpy arrays) -> per image {decoder name: its text (line level) or line texts (region and page levels)}
Transcriber = Callable[[list[np.ndarray]], list[dict[str, Reference]]]


class EvaluationError(Exception):
    """A problem with the user's input, reported as one line."""


@dataclass
class Sample:
    """One item to transcribe: its ``id`` and ``load()`` -> (image as a numpy array, reference), the reference
    a str for a line, a list of line texts for a region or page."""
    id: str
    load: Callable[[], tuple[np.ndarray, Reference]]


def _read_gt(path: str) -> list[str]:
    """The non-blank lines of a ground-truth text file, stripped."""
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f.read().splitlines() if line.strip()]


def _load(path: str, reference: Reference) -> tuple[np.ndarray, Reference]:
    """(uint8 gray image (H, W) of the file ``path`` (ocr.core.images.read_image), ``reference``); raises
    EvaluationError naming the file when it cannot be read."""
    try:
        return read_image(path), reference
    except ImageError as error:
        raise EvaluationError("cannot read image %s: %s" % (path, error)) from None


def folder_samples(folder: str, level: str) -> list[Sample]:
    """Samples of the images in ``folder`` (ocr.core.images.IMAGE_EXTENSIONS, sorted by name), each with
    ``<stem>.gt.txt`` beside it; at line level the reference is its lines joined by spaces, else the lines."""
    if not os.path.isdir(folder):
        raise EvaluationError("no such folder: %s" % folder)
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
        raise EvaluationError("no images (%s) in %s" % (" ".join(IMAGE_EXTENSIONS), folder))
    samples = []
    for name in names:
        path = os.path.join(folder, name)
        gt = os.path.splitext(path)[0] + ".gt.txt"
        if not os.path.isfile(gt):
            raise EvaluationError("image %s has no ground truth %s beside it" % (path, os.path.basename(gt)))
        lines = _read_gt(gt)
        reference = " ".join(lines) if level == "line" else lines
        samples.append(Sample(name, functools.partial(_load, path, reference)))
    return samples


def iam_samples(root: str, split: str, level: str) -> list[Sample]:
    """Samples of an IAM-format tree: 'line' items at their own size (line level), the handwritten block of each
    'form_original' page grown by FORM_BB_EXPAND (region level; the whole page when it has no block) or the page
    (page level)."""
    from ocr.data.iam import IAMDataset
    try:
        dataset = IAMDataset(root, "line" if level == "line" else "form_original", split=split,
                             **({"output_data": "bb", "output_parse_method": "form"} if level == "region" else {}))
    except (OSError, ValueError) as error:
        raise EvaluationError("cannot read the IAM tree %s: %s" % (root, error)) from None

    def load(i: int) -> tuple[np.ndarray, Reference]:
        if level == "line":             # unfitted: the recogniser fits it into its own input size
            return dataset.original_image(i), dataset.text(i)
        image, target = dataset[i]
        if level == "region" and len(target):
            image = crop_image(image, expand_box(target[0], FORM_BB_EXPAND, FORM_BB_EXPAND))
        return image, dataset.text(i).split("\n")
    return [Sample(dataset.item_id(i), lambda i=i: load(i)) for i in range(len(dataset))]


def make_transcriber(level: str, decoders: list[str], model: str | None = None, batch_size: int = 16,
                     lm: str | None = "default", engine: str = "mxnet", prepare: bool = False,
                     widths: bool = False) -> Transcriber:
    """A function ``images -> [{decoder: text}]`` (line level) or ``pages -> [{decoder: [line texts]}]`` (region
    and page levels). Lines: ``ocr.recognition.predictor.Recognizer.load(model).read_lines`` then each
    ``ocr.decode.get_decoder``. Regions and pages: ``ocr.pipeline.Pipeline.load(level=level, recognizer=model)``
    whose ``transcribe_lines(image, level)`` gives the lines in reading order as ``(text, probs)`` like
    ``Recognizer.recognize``; each line's probs are decoded by each decoder.
    ``lm``: the character language model of the beam decoder ('default': the shipped one; None: no LM).
    ``engine``: what runs the nets, one of ocr.core.loading.ENGINES. ``prepare``: line images go
    through the pipeline's preprocessing first (polarity, illumination, orientation, deskew, cut to the ink with
    margins: what ``python -m ocr.pipeline --level line`` reads) instead of straight to the recogniser. ``widths``:
    lines the recogniser is unsure of are read at its card's stretches too (Recognizer.read_lines)."""
    decode = {name: get_decoder(name, lm=lm) if name == "beam" else get_decoder(name) for name in decoders}
    try:
        if level == "line" and not prepare:
            recognizer = Recognizer.load(model, engine=engine, widths=widths)
        else:
            pipeline = Pipeline.load(level=level, recognizer=model, engine=engine, widths=widths)
    except (FileNotFoundError, ModelLoadError) as error:
        raise EvaluationError(str(error)) from None

    def transcribe_lines(images: list[np.ndarray]) -> list[dict[str, Reference]]:
        return [{name: f(probs).text for name, f in decode.items()}
                for _, probs, _ in recognizer.read_lines(images, batch_size)]

    def transcribe_pages(pages: list[np.ndarray]) -> list[dict[str, Reference]]:
        results = []
        for page in pages:
            lines = pipeline.transcribe_lines(page, level)
            results.append({name: [f(probs).text for _, probs in lines] for name, f in decode.items()})
        return results

    def transcribe_prepared_lines(images: list[np.ndarray]) -> list[dict[str, Reference]]:
        results = []
        for image in images:
            lines = [probs for _, probs in pipeline.transcribe_lines(image, "line")]     # one; none when blank
            results.append({name: " ".join(f(probs).text for probs in lines) for name, f in decode.items()})
        return results

    if level == "line":
        return transcribe_prepared_lines if prepare else transcribe_lines
    return transcribe_pages


def transcribe_all(samples: list[Sample], transcribe: Transcriber, batch_size: int = 16,
                   progress: bool = True) -> tuple[list[Reference], list[dict[str, Reference]]]:
    """Run ``transcribe`` over the samples' images in batches -> (references, outputs): per sample its reference
    and its {decoder: text or lines}."""
    from tqdm import tqdm
    references, outputs = [], []
    with tqdm(total=len(samples), desc="transcribing", unit="item", disable=not progress) as bar:
        for start in range(0, len(samples), batch_size):
            images, batch_references = zip(*(sample.load() for sample in samples[start:start + batch_size]))
            outputs += transcribe(list(images))
            references += batch_references
            bar.update(len(images))
    return references, outputs


@dataclass
class Scoring:
    """One decoder under one scoring: our ``summary`` and the ``utterances`` (for trn files and reports)."""
    summary: Summary
    utterances: list[Utterance]


Results = dict[str, dict[str, Scoring]]                              # decoder -> scoring name -> Scoring
ScliteFigures = dict[str, dict[str, dict[str, ScliteResult]]]        # decoder -> scoring -> 'words'|'chars' -> result


def score(ids: list[str], references: list[Reference], outputs: list[dict[str, Reference]], decoder: str,
          level: str) -> dict[str, Scoring]:
    """{scoring name: Scoring} of one decoder's outputs: 'lines' at line level, 'free' and 'paired' at page level
    (see the module docstring). Speakers are the items (``spk<i>``), in order."""
    items = list(zip(ids, references, outputs, strict=True))
    if level == "line":
        utterances = [Utterance(utterance_id(i + 1), item, out[decoder], reference)
                      for i, (item, reference, out) in enumerate(items)]
        return {"lines": Scoring(Summary.of(score_item(u.hypothesis, u.reference) for u in utterances), utterances)}
    free, paired, free_utterances, paired_utterances = [], [], [], []
    for i, (item, reference, out) in enumerate(items):
        page_free, page_paired, pairs = page_score(out[decoder], reference)
        free.append(page_free)
        paired.append(page_paired)
        free_utterances.append(Utterance(utterance_id(i + 1), item, " ".join(h for h, _ in pairs if h),
                                         " ".join(r for _, r in pairs if r)))
        paired_utterances += [Utterance(utterance_id(i + 1, j + 1), item, h, r)
                              for j, (h, r) in enumerate(pairs)]
    return {"free": Scoring(Summary.of(free), free_utterances),
            "paired": Scoring(Summary.of(paired), paired_utterances)}


def output_names(decoders: list[str], level: str) -> list[str]:
    """The files ``--out`` receives for these decoders at this level."""
    names = ["summary.txt", "summary.json"]
    for decoder in decoders:
        for scoring in SCORINGS[level]:
            names += ["%s.%s.hyp.trn" % (decoder, scoring), "%s.%s.ref.trn" % (decoder, scoring)]
            if scoring in WITH_REPORT:
                names.append("%s.%s.pra" % (decoder, scoring))
    return names


def write_and_score(results: Results, folder: str, sclite: str | None,
                    case_sensitive: bool) -> tuple[ScliteFigures, str | None]:
    """Write every decoder's and scoring's trn pair in ``folder``; when ``sclite`` (a path) is given, score them
    -> ({decoder: {scoring: {'words'|'chars': ScliteResult}}}, None), or ({}, the reason sclite was not used)."""
    figures, failure = {}, None if sclite else "not found (python -m ocr.sclite install)"
    for decoder, scorings in results.items():
        for name, scoring in scorings.items():
            hyp, ref = write_trn_pair(os.path.join(folder, "%s.%s" % (decoder, name)), scoring.utterances)
            if sclite and not failure:
                try:
                    figures.setdefault(decoder, {})[name] = score_trn_pair(hyp, ref, case_sensitive, sclite)
                except ScliteError as error:
                    failure = str(error)
    return ({}, failure) if failure else (figures, None)


def format_table(results: Results, sclite_results: ScliteFigures, level: str, items: int, notes: list[str]) -> str:
    """The summary table (error rates in percent) of ``items`` items, a legend of the conventions, then the
    ``notes`` lines."""
    header = ["decoder", "scoring", "CER pooled", "WER pooled", "CER mean", "WER mean"]
    if sclite_results:
        header += ["sclite CER mean", "sclite WER mean", "sclite CER sum", "sclite WER sum"]
    rows = [header]
    for decoder, scorings in results.items():
        for name, scoring in scorings.items():
            s = scoring.summary
            row = [decoder, name] + ["%.2f" % (100 * v) for v in (s.cer, s.wer, s.cer_mean, s.wer_mean)]
            if sclite_results:
                sc = sclite_results[decoder][name]
                row += ["%.1f" % v for v in (sc["chars"].mean.err, sc["words"].mean.err,
                                             sc["chars"].sum.err, sc["words"].sum.err)]
            rows.append(row)
    widths = [max(len(r[k]) for r in rows) for k in range(len(header))]
    table = ["  ".join(cell.rjust(w) if k > 1 else cell.ljust(w) for k, (cell, w) in enumerate(zip(r, widths)))
             for r in rows]
    legend = ["%s level, %d item(s); error rates in %%." % (level, items),
              "pooled: total edits / total reference length (CER: spaces count).",
              "mean: mean over items of per-item rates (CER: whitespace removed; empty references skipped) "
              "= the reference's sclite convention."]
    if level != "line":
        legend.append("free: a page's lines joined into one text (alignment-free); paired: predicted lines paired "
                      "to reference lines by alignment, missed/extra lines cost their length.")
    if sclite_results:
        legend.append("sclite mean: its Mean row Err (mean over items = speakers); sclite sum: its Sum/Avg row Err "
                      "(pooled; CER without whitespace).")
    return "\n".join(table + [""] + legend + notes) + "\n"


def _summary_json(results: Results, sclite_results: ScliteFigures, level: str, items: int, sclite_path: str | None,
                  case_sensitive: bool) -> str:
    """summary.json: the figures of format_table (fractions, ours and sclite's rows) as JSON text."""
    def rows(result: ScliteResult) -> dict:
        return {"sum": dataclasses.asdict(result.sum), "mean": dataclasses.asdict(result.mean)}
    data = {"level": level, "items": items, "sclite": sclite_path, "sclite_case_sensitive": case_sensitive,
            "decoders": {}}
    for decoder, scorings in results.items():
        data["decoders"][decoder] = {
            name: {"ours": dataclasses.asdict(s.summary),
                   "sclite": {m: rows(r) for m, r in sclite_results[decoder][name].items()} if sclite_results
                   else None}
            for name, s in scorings.items()}
    return json.dumps(data, indent=2) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (see the module docstring); ``argv`` None: sys.argv[1:]."""
    parser = argparse.ArgumentParser(prog="python -m ocr.evaluate", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--iam-root", help="an IAM-format tree")
    source.add_argument("--folder", help="images with <name>.gt.txt beside them")
    parser.add_argument("--split", default="test", help="IAM split (default %(default)s)")
    parser.add_argument("--level", choices=tuple(SCORINGS), default="line",
                        help="line: each item is one line (recogniser); region: a block of handwriting (word/line "
                             "segmentation + recogniser); page: a form page (all three stages)")
    parser.add_argument("--decoder", nargs="+", choices=DECODERS, default=["greedy"], help="one or more decoders")
    parser.add_argument("--model", help="recogniser model name or path (every level; default: the shipped one)")
    parser.add_argument("--no-lm", action="store_true", help="beam search without the character language model")
    parser.add_argument("--out", help="folder for trn files, alignment reports and the summary")
    parser.add_argument("--overwrite", action="store_true", help="replace existing files in --out")
    parser.add_argument("--max-items", type=int, help="score only the first N items")
    parser.add_argument("--batch-size", type=int, default=16, help="lines per recogniser batch")
    parser.add_argument("--widths", action="store_true",
                        help="lines the recogniser is unsure of are read at several widths too (as the pipeline's)")
    parser.add_argument("--engine", choices=ENGINES, default=DEFAULT_CPU_ENGINE,
                        help="what runs the nets: onnx-int8 (default: onnxruntime on their ONNX export, the "
                             "recogniser's LSTMs in int8), onnx (all float32: MXNet's text) or mxnet")
    parser.add_argument("--sclite-ignore-case", action="store_true",
                        help="run sclite without -s (case-insensitive, as the reference did)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def evaluate(args: argparse.Namespace) -> str:
    """Run the evaluation described by parsed ``args``; returns the summary table text."""
    decoders = list(dict.fromkeys(args.decoder))
    if args.max_items is not None and args.max_items < 1:
        raise EvaluationError("--max-items must be at least 1")
    if args.out and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise EvaluationError("--out %s is not a folder" % args.out)
    if args.out:
        existing = [n for n in output_names(decoders, args.level) if os.path.exists(os.path.join(args.out, n))]
        if existing and not args.overwrite:
            raise EvaluationError("%s already has %s (use --overwrite)" % (args.out, ", ".join(existing)))
    if args.folder:
        samples = folder_samples(args.folder, args.level)
    else:
        samples = iam_samples(args.iam_root, args.split, args.level)
        if not samples:
            raise EvaluationError("no %s items in split %r of %s" % (args.level, args.split, args.iam_root))
    samples = samples[:args.max_items]
    transcribe = make_transcriber(args.level, decoders, args.model, args.batch_size,
                                  lm=None if args.no_lm else "default", engine=args.engine, widths=args.widths)
    batch_size = args.batch_size if args.level == "line" else 1
    references, outputs = transcribe_all(samples, transcribe, batch_size, progress=not args.no_progress)
    ids = [sample.id for sample in samples]
    results = {decoder: score(ids, references, outputs, decoder, args.level) for decoder in decoders}

    sclite, case_sensitive = find_sclite(), not args.sclite_ignore_case
    with tempfile.TemporaryDirectory() as tmp:
        sclite_results, failure = write_and_score(results, args.out or tmp, sclite, case_sensitive)
    if sclite_results:
        note = "sclite: %s (%s)" % (sclite, "case-sensitive, -s" if case_sensitive else "ignoring case")
    else:
        note = "sclite: not run: %s" % failure
    table = format_table(results, sclite_results, args.level, len(samples), [note])
    if args.out:
        for decoder, scorings in results.items():
            for name in WITH_REPORT:
                if name in scorings:
                    atomic_write_text(os.path.join(args.out, "%s.%s.pra" % (decoder, name)), format_alignment_report(
                        scorings[name].utterances, "%s decoder, %s scoring" % (decoder, name)))
        atomic_write_text(os.path.join(args.out, "summary.txt"), table)
        atomic_write_text(os.path.join(args.out, "summary.json"), _summary_json(
            results, sclite_results, args.level, len(samples), sclite if sclite_results else None, case_sensitive))
    return table


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status (0 done, 1 bad input)."""
    args = parse_args(argv)
    try:
        print(evaluate(args), end="")
    except (EvaluationError, OSError) as error:
        print("error: %s" % error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
