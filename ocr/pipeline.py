"""Full-page handwriting transcription: the ``Pipeline`` class and ``python -m ocr.pipeline``.

    from ocr.pipeline import Pipeline
    pipeline = Pipeline.load()                          # shipped models, beam search with the character LM
    result = pipeline.transcribe("page.png")            # or a numpy image; level="auto" | "page" | ...
    print(result.text)                                  # result.region, result.lines[i].box / .words / .confidence

Stages: gray, polarity + illumination normalisation -> upright, deskewed, margins (``ocr.preprocess``; a blank or
all-dark image stops here with no region and no lines) -> paragraph box (``ocr.paragraph``) -> region crop -> word
boxes (``ocr.detector``) -> lines in reading order (``ocr.layout``) -> line recogniser (``ocr.recognizer``) ->
decoder (``ocr.decode``). ``level`` says what the image is: 'page' (a printed form: all stages), 'region' (a block
of handwriting: no paragraph stage), 'line' or 'word' (the recogniser only), or 'auto' (the default: decided from
the image, ``ocr.preprocess.detect_level``; the result's ``level`` says which). Every box in a result is
(x, y, w, h) in integer pixels of the image as given.

CLI:
    python -m ocr.pipeline IMAGES_OR_FOLDERS... [--decoder beam|greedy|lexicon] [--level auto|page|region|line|word]
        [--format text|json|page-xml|alto] [--out DIR] [--overwrite] [--batch-size N] [-g GPU] [--models DIR]
        [--engine mxnet|onnx] [--workers N | --scheduler ADDRESS]

prints each page's transcription, one line of text per handwritten line (a ``==> file <==`` header before each
page when there are several); without --out, --format json prints one JSON object per page per line and
page-xml / alto print the XML (one image only). Every page of a multi-page file (TIFF) is transcribed. A folder
gives its images (PNG, JPEG, TIFF, BMP, GIF, WebP, ...; ocr.io.IMAGE_EXTENSIONS); image files in formats that are
not read (HEIC, PDF, ...) are named in one warning line.

--out DIR (checked before any work) writes per page ``<stem>.txt``, ``<stem>.json``, ``<stem>_boxed.png`` and,
with --format page-xml or alto, ``<stem>.xml``; ``<stem>`` is the file's name in a safe form (ocr.page_files;
``_p2``, ``_p3`` ... for later pages). A page's files appear together, its JSON last; a rerun skips the pages
that are done, redoes those a killed run left unfinished, and never reads its own ``_boxed.png`` files as pages.
Files of the same names that an earlier run did not write are kept unless --overwrite (which also redoes done
pages). A page that cannot be read or transcribed prints ``error: <file>: <reason>`` on stderr and the others go
on. Exit status: 0 all pages done; 1 some page failed; 2 bad arguments, an unusable --out, or a model the level
needs is missing.

--workers N (a local Dask cluster of N processes) or --scheduler ADDRESS (an existing one) runs the pages of an
--out run in parallel, with the same outputs and printed text as a serial run (``ocr.distributed``).
"""
import argparse
import os
import sys
from dataclasses import dataclass, field

import cv2
import numpy as np
from tqdm import tqdm

from ocr import outputs, preprocess
from ocr.alphabet import ALPHABET
from ocr.data.transforms import box_to_px, expand_box, to_gray
from ocr.decode import get_decoder
from ocr.decode.ctc import column_labels, text_to_columns, to_log_probs, viterbi_alignment
from ocr.detector import WordDetector
from ocr.io import ImageError, find_images, page_count, read_image
from ocr.layout import group_words_into_lines
from ocr.models import ENGINES, ModelLoadError, pick_context
from ocr.paragraph import ParagraphSegmenter
from ocr.page_files import (OutDirError, check_out_dir, is_output, output_files, page_stem, page_state, publish,
                            safe_name)
from ocr.paths import MODELS_DIR
from ocr.recognizer import Recognizer

LEVELS = ("auto",) + preprocess.LEVELS      # auto: decided from the image (preprocess.detect_level)
DECODERS = ("beam", "greedy", "lexicon")
DEFAULT_DECODER = "beam"
FORMATS = ("text", "json", "page-xml", "alto")
MIN_DISC = 9                 # px: the smallest disc normalise_illumination closes with (wider than strokes)
REGION_EXPAND = 0.03         # the paragraph box is grown by 3% of its width and height before cropping (reference)
# stage -> (model file stem in the models folder, what it is, the levels that need it)
STAGES = {
    "paragraph": ("paragraph_segmentation", "paragraph segmentation", ("auto", "page")),
    "detector": ("word_segmentation", "word detector", ("auto", "page", "region")),
    "recognizer": ("handwriting_line", "line recogniser", LEVELS),
}


class MissingModelError(FileNotFoundError):
    """A model the requested level needs is not in the models folder; the message is one line naming it."""


@dataclass
class Word:
    """A recognised word: ``text``, ``box`` (x, y, w, h) page pixels, ``confidence`` in [0, 1]."""
    text: str
    box: tuple
    confidence: float


@dataclass
class Line:
    """A recognised line: ``text``, ``box`` (x, y, w, h) page pixels, ``confidence`` in [0, 1], ``words``."""
    text: str
    box: tuple
    confidence: float
    words: list = field(default_factory=list)


@dataclass
class PageResult:
    """One transcribed image: ``width``, ``height`` (pixels), ``level``, ``decoder`` (name), ``region``: the area
    transcribed (x, y, w, h) page pixels, None when the paragraph stage found no handwriting; ``lines`` in reading
    order (lines decoded to nothing are left out)."""
    width: int
    height: int
    level: str
    decoder: str
    region: tuple = None
    lines: list = field(default_factory=list)

    @property
    def text(self):
        """The transcription, one line of text per handwritten line, joined by newlines."""
        return "\n".join(line.text for line in self.lines)


def normalise_illumination(gray, background_side=512, min_paper=220):
    """uint8 gray (H, W) -> uint8 gray (H, W) with even paper (scans and phone photos alike).

    The background (paper and lighting) is estimated on a copy reduced to at most ``background_side`` pixels: a
    grey closing with a disc of 1/30 of that side (at least MIN_DISC px, so that the strokes of a small crop are
    erased too) erases the ink strokes, a blur smooths it. The page is divided
    by it, which removes shading and colour casts, and scaled so that the paper takes its median grey level, at
    least ``min_paper`` (a dim photo is brightened). Ink keeps its contrast to the paper, as in the training
    pages: also stretching the ink to black hurt the first checkpoints on synthetic test pages (paragraph IoU
    0.84 -> 0.81, line CER 40.1% -> 41.6%), while this leaves both unchanged."""
    height, width = gray.shape
    scale = min(1.0, background_side / max(height, width))
    small = cv2.resize(gray, (max(1, round(width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_AREA)
    side = max(MIN_DISC, round(max(small.shape) / 30)) | 1
    background = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side)))
    background = cv2.GaussianBlur(background, (0, 0), side / 2)
    paper = max(float(np.median(background)), min_paper)
    background = cv2.resize(background, (width, height), interpolation=cv2.INTER_LINEAR)
    flat = gray.astype(np.float32) * (paper / np.maximum(background, 1).astype(np.float32))
    return np.clip(flat + 0.5, 0, 255).astype(np.uint8)


def _to_page(box, frame):
    """(x, y, w, h) fractions of the image at ``frame`` = (x, y, w, h) page pixels -> (x, y, w, h) page pixels."""
    x1, y1, x2, y2 = box_to_px(box, (frame[3], frame[2]))
    return frame[0] + x1, frame[1] + y1, x2 - x1, y2 - y1


def aligned_word_boxes(text, probs, line_box, content):
    """Word boxes from the CTC alignment: for each space-separated word of ``text`` (the decoded text of a line),
    (x, y, w, h) page pixels spanning the time steps its characters occupy (one step of margin each side), the full
    height of ``line_box`` (x, y, w, h page pixels).

    ``probs``: the line's T x C softmax; ``content``: (left, width, input width), pixels, where the line lies in the
    input the recogniser ran it at (T steps over that width; Recognizer.content_span). Where the text has no
    alignment, words share the width by character count."""
    x, y, w, h = line_box
    left, content_w, input_w = content
    labels, blank = column_labels(ALPHABET, probs.shape[1])
    path = viterbi_alignment(to_log_probs(probs, log_probs=False), text_to_columns(text, labels), blank)
    step = input_w / len(probs)
    boxes, start = [], 0
    for word in text.split(" "):
        if word:
            if path is not None:
                steps = np.flatnonzero((path >= start) & (path < start + len(word)))
                a, b = (steps[0] - 1) * step - left, (steps[-1] + 2) * step - left     # pixels of the content
            else:
                a, b = start / len(text) * content_w, (start + len(word)) / len(text) * content_w
            x1, x2 = (int(np.clip(round(v * w / content_w), 0, w)) for v in (a, b))
            boxes.append((x + x1, y, max(x2 - x1, 1 if x1 < w else 0), h))
        start += len(word) + 1
    return boxes


def _check_level(level):
    if level not in LEVELS:
        raise ValueError("unknown level %r (choose from %s)" % (level, ", ".join(LEVELS)))


def make_decoder(name):
    """A decoder name -> ``f(probs T x C) -> Decoded`` (ocr.decode); 'beam' uses the shipped character LM."""
    return get_decoder(name, lm="default") if name == "beam" else get_decoder(name)


class Pipeline:
    """The chained stages. ``paragraph`` (ParagraphSegmenter) and ``detector`` (WordDetector) may be None when the
    levels used do not need them; ``recognizer`` (Recognizer); ``decode`` (probs T x C -> Decoded) and its name
    ``decoder``; ``normalise``: apply normalise_illumination; ``batch_size``: lines per recogniser batch."""

    def __init__(self, recognizer, decode, decoder="custom", detector=None, paragraph=None, normalise=True,
                 batch_size=16):
        self.recognizer, self.decode, self.decoder = recognizer, decode, decoder
        self.detector, self.paragraph = detector, paragraph
        self.normalise, self.batch_size = normalise, batch_size

    @classmethod
    def load(cls, decoder=DEFAULT_DECODER, ctx=None, level="auto", models_dir=MODELS_DIR, recognizer=None,
             engine="mxnet", **options):
        """Load, once, the models ``level`` needs (auto, page: all three; region: detector + recogniser; line,
        word: recogniser) from ``models_dir`` on ``ctx`` (default CPU); ``recognizer``: a recogniser name or path to
        use instead of the one in ``models_dir``. ``decoder``: a name of DECODERS or a callable probs -> Decoded.
        ``engine``: what runs the nets, 'mxnet' or 'onnx' (models.ENGINES). ``options``: normalise, batch_size.
        Raises MissingModelError naming a missing model."""
        _check_level(level)
        loaders = {"paragraph": ParagraphSegmenter.load, "detector": WordDetector.load, "recognizer": Recognizer.load}
        models = {}
        for stage, (stem, what, levels) in STAGES.items():
            if level not in levels:
                continue
            if stage == "recognizer" and recognizer:
                models[stage] = Recognizer.load(recognizer, ctx=ctx, engine=engine)
                continue
            path = os.path.join(models_dir, stem)
            missing = [path + ext for ext in (".params", ".json") if not os.path.isfile(path + ext)]
            if missing:
                raise MissingModelError("missing %s model %s (needed for level '%s')"
                                        % (what, " and ".join(missing), level))
            models[stage] = loaders[stage](path, ctx=ctx, engine=engine)
        decode = decoder if callable(decoder) else make_decoder(decoder)
        name = decoder if isinstance(decoder, str) else getattr(decoder, "__name__", "custom")
        return cls(models["recognizer"], decode, name, models.get("detector"), models.get("paragraph"), **options)

    def _require(self, level):
        _check_level(level)
        for stage, (stem, what, levels) in STAGES.items():
            if level in levels and getattr(self, stage) is None:
                raise MissingModelError("no %s model loaded (%s), needed for level '%s'" % (what, stem, level))

    def prepare(self, image):
        """A file path or any image array -> uint8 gray page (H, W), dark ink on light paper (preprocess.fix_polarity),
        illumination normalised when ``normalise``."""
        gray = read_image(image) if isinstance(image, (str, os.PathLike)) else to_gray(image)
        gray, _ = preprocess.fix_polarity(gray)
        return normalise_illumination(gray) if self.normalise else gray

    def reading_confidence(self, crops):
        """Line crops (uint8 arrays) -> the recogniser's mean top probability over the time steps it reads a
        character at (not the blank), over all crops; 0 when it reads nothing. Upright text scores higher than the
        same text upside down."""
        tops = [probs.max(axis=1)[probs.argmax(axis=1) != probs.shape[1] - 1]
                for _, probs in self.recognizer.recognize(crops, self.batch_size)]
        tops = np.concatenate(tops)
        return float(tops.mean()) if len(tops) else 0.0

    def prepare_page(self, image, level="auto"):
        """A file path or any image array -> preprocess.Prepared: gray, polarity, illumination (prepare), then
        upright (the recogniser tells upright from upside down), deskewed, the level decided when 'auto', margins
        and size for lines and words; its ``box_to_source`` maps boxes back to the image as given."""
        _check_level(level)
        return preprocess.normalise_page(self.prepare(image), level, confidence=self.reading_confidence)

    def layout(self, page, level="page"):
        """uint8 gray page (H, W) -> (region, lines): region (x, y, w, h) page pixels or None when the paragraph
        stage finds no block; lines in reading order as (line box, [word boxes]), all (x, y, w, h) page pixels: the
        detected words grouped along the text bands of the region's ink (ocr.layout, preprocess.line_bands); printed
        rules in the region are erased first (preprocess.erase_rules). ``level``: page, region, line or word (a line
        or word is one line, the whole image; 'auto' is decided by prepare_page first)."""
        if level == "auto":
            raise ValueError("layout needs a decided level (page, region, line or word): see prepare_page")
        self._require(level)
        height, width = page.shape[:2]
        if level in ("line", "word"):
            return (0, 0, width, height), [((0, 0, width, height), [])]
        region = (0, 0, width, height)
        if level == "page":
            x, y, w, h = self.paragraph.predict(page)
            if w == 0 or h == 0:
                return None, []
            grown = expand_box((x / width, y / height, w / width, h / height), REGION_EXPAND, REGION_EXPAND)
            region = _to_page(grown, region)          # as ocr.paragraph.crop_region, keeping the offset
        rx, ry, rw, rh = region
        crop = preprocess.erase_rules(page[ry:ry + rh, rx:rx + rw])
        word_boxes, _ = self.detector.predict(crop)
        bands = np.array(preprocess.line_bands(preprocess.ink_mask(crop)), dtype=np.float64).reshape(-1, 4) / rh
        lines = []
        for line in group_words_into_lines(word_boxes, bands=bands):
            box = _to_page(line.box, region)
            if box[2] > 0 and box[3] > 0:
                lines.append((box, [_to_page(word_boxes[i], region) for i in line.word_indices]))
        return region, lines

    def _recognise(self, page, lines):
        """[(text, probs)] of the line crops of ``page`` (printed rules erased) at the ``lines`` boxes (layout)."""
        page = preprocess.erase_rules(page) if lines else page
        crops = [page[y:y + h, x:x + w] for (x, y, w, h), _ in lines]
        return self.recognizer.recognize(crops, self.batch_size) if crops else []

    def transcribe_lines(self, page, level="auto"):
        """Any page image (see prepare_page) -> [(greedy text, probs T x C float32 softmax)] per line in reading order,
        like ``Recognizer.recognize`` (what ``ocr.evaluate`` decodes); none for a blank page."""
        prepared = self.prepare_page(page, level)
        if prepared.blank:
            return []
        return self._recognise(prepared.image, self.layout(prepared.image, prepared.level)[1])

    def transcribe(self, image, level="auto"):
        """A file path or any image array -> PageResult (boxes in pixels of the image as given; see the module doc).
        A blank or all-dark image gives no region and no lines.

        Words take the detected word boxes of their line when the decoded text has as many words as were detected
        there, else boxes from the CTC alignment (aligned_word_boxes)."""
        prepared = self.prepare_page(image, level)
        height, width = prepared.source_shape
        result = PageResult(width, height, prepared.level, self.decoder)
        if prepared.blank:
            return result
        page, to_source = prepared.image, prepared.box_to_source
        region, lines = self.layout(page, prepared.level)
        result.region = to_source(region) if region else None
        for (box, detected), (_, probs) in zip(lines, self._recognise(page, lines)):
            decoded = self.decode(probs)
            if not decoded.text.strip():
                continue
            words = decoded.word_confidences
            if len(detected) == len(words):
                word_boxes = detected
            else:
                content = self.recognizer.content_span((box[3], box[2]), len(probs))
                word_boxes = aligned_word_boxes(decoded.text, probs, box, content)
            result.lines.append(Line(decoded.text.strip(), to_source(box), decoded.confidence,
                                     [Word(text, to_source(b), confidence)
                                      for (text, confidence), b in zip(words, word_boxes)]))
        return result


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, "error: %s\n" % message)


def parse_args(argv=None):
    """Command-line arguments (see the module doc)."""
    parser = _Parser(prog="python -m ocr.pipeline", description="Transcribe handwritten pages.")
    parser.add_argument("images", nargs="+", help="image files (PNG, JPEG, TIFF, BMP, GIF, WebP, ...) or folders")
    parser.add_argument("--decoder", choices=DECODERS, default=DEFAULT_DECODER,
                        help="beam: CTC beam search with the character LM (default); greedy: best path; "
                             "lexicon: words corrected against an English word list")
    parser.add_argument("--level", choices=LEVELS, default="auto",
                        help="auto (default): decided from the image; page: a printed form; region: a block of "
                             "handwriting; line: one text line; word: one word")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="what is printed (without --out) and, for page-xml/alto, written as <stem>.xml")
    parser.add_argument("--out", metavar="DIR", help="write <stem>.txt, .json, _boxed.png (and .xml) per page")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace files that already exist in --out and redo pages done before")
    parser.add_argument("--batch-size", type=int, default=16, help="lines per recogniser batch (default 16)")
    parser.add_argument("-g", "--gpu", type=int, default=-1, help="GPU id (default -1: CPU)")
    parser.add_argument("--engine", choices=ENGINES, default="mxnet",
                        help="what runs the nets: mxnet (default) or onnx (onnxruntime on their ONNX export, "
                             "built once into data/cache/onnx)")
    parser.add_argument("--models", default=MODELS_DIR, metavar="DIR",
                        help="folder of paragraph_segmentation, word_segmentation and handwriting_line "
                             ".params/.json (default: the shipped models/)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="run the pages on a local Dask cluster of N worker processes (needs --out)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run the pages on the Dask cluster of this scheduler, e.g. tcp://host:8786 "
                             "(needs --out; the workers must see the images and --models at the same paths)")
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.workers is not None and args.scheduler:
        parser.error("give --workers (a local cluster) or --scheduler (an existing one), not both")
    if (args.workers is not None or args.scheduler) and not args.out:
        parser.error("--%s needs --out DIR" % ("workers" if args.workers is not None else "scheduler"))
    return args


class PageError(Exception):
    """A page that cannot be done for a reason other than its image (an output name clash, existing files)."""


def page_outputs(result, source, files, fmt, page, extra):
    """{kind: bytes} of one page's --out files (``files``: page_files.output_files): the text, the JSON (which
    names every file, see ocr.page_files), the XML in ``fmt`` and the boxed PNG of ``page`` (uint8 gray)."""
    name = safe_name(os.path.basename(source))
    extra = dict(extra, outputs=[os.path.basename(p) for p in files.values()])
    contents = {"txt": outputs.to_text(result).encode("utf-8"),
                "json": (outputs.to_json(result, name, extra=extra) + "\n").encode("utf-8"),
                "png": outputs.encode_png(outputs.draw_result(page, result))}
    if "xml" in files:
        contents["xml"] = (outputs.to_page_xml if fmt == "page-xml" else outputs.to_alto)(result, name).encode("utf-8")
    return contents


def write_outputs(files, source, page, result, fmt, extra=None):
    """Write one page's files (``files``: page_files.output_files) all at once or not at all (page_files.publish).
    Raises PageError naming the reason, never a temp file."""
    try:
        publish(files, page_outputs(result, source, files, fmt, page, extra or {}))
    except OSError as error:
        raise PageError("cannot write its outputs in %s: %s"
                        % (safe_name(os.path.dirname(files["json"])), error.strerror or type(error).__name__))


def render(result, path, fmt, header, extra=None):
    """What stdout gets for one page: the text (after a ``==> path <==`` header if ``header``), or the page in
    ``fmt`` (json: one line). Names are shown in their safe form (page_files.safe_name): valid UTF-8."""
    shown = safe_name(path)
    if fmt == "json":
        return outputs.to_json(result, shown, indent=None, extra=extra) + "\n"
    if fmt in ("page-xml", "alto"):
        name = safe_name(os.path.basename(path))
        return outputs.to_page_xml(result, name) if fmt == "page-xml" else outputs.to_alto(result, name)
    page = extra.get("page") if extra else None
    title = shown + (" (page %d)" % page if page else "")
    return ("==> %s <==\n" % title if header else "") + outputs.to_text(result)


def load_pipeline(args):
    """The Pipeline the CLI arguments ask for, or None after a one-line error on stderr (a model is missing or
    damaged)."""
    try:
        return Pipeline.load(args.decoder, pick_context(args.gpu), args.level, args.models,
                             engine=args.engine, batch_size=args.batch_size)
    except MissingModelError as error:
        hint = " (use --level region for an image of the handwritten block only)" if "paragraph" in str(error) else ""
        print("error: %s%s" % (error, hint), file=sys.stderr)
    except ModelLoadError as error:
        print("error: %s" % error, file=sys.stderr)
    except Exception as error:              # a damaged model file: one line, not a traceback
        print("error: cannot load the models in %s: %s: %s" % (args.models, type(error).__name__,
                                                              " ".join(str(error).split())), file=sys.stderr)
    return None


def find_inputs(args):
    """The CLI's image files (find_images, leaving out what an earlier run wrote into --out) after printing one
    line per error and one warning line per folder holding images in formats this does not read."""
    found = find_images(args.images, is_output if args.out else None)
    for path, reason in found.errors:
        print("error: %s: %s" % (safe_name(path), reason), file=sys.stderr)
    for folder, names in found.unread.items():
        kinds = sorted({os.path.splitext(n)[1].lower().lstrip(".").upper() for n in names})
        print("warning: %s: skipped %d file%s in formats this does not read (%s): %s"
              % (safe_name(folder), len(names), "s" * (len(names) > 1), ", ".join(kinds),
                 ", ".join(safe_name(n) for n in names[:5]) + (" ..." if len(names) > 5 else "")), file=sys.stderr)
    return found


class _Run:
    """One CLI run over its pages: the stems already used in --out, how many pages were skipped as done before."""

    def __init__(self, args, pipeline, header):
        self.args, self.pipeline, self.header = args, pipeline, header
        self.stems, self.skipped = {}, 0

    def targets(self, path, page):
        """--out files of page ``page`` (0-based) of ``path``, None when the page is done already; raises
        PageError on a name clash or files that are not ours (without --overwrite)."""
        stem = page_stem(path, page)
        if stem in self.stems:
            raise PageError("its output files would replace those of %s (same name)" % safe_name(self.stems[stem]))
        self.stems[stem] = path
        files = output_files(self.args.out, stem, self.args.format)
        state = "new" if self.args.overwrite else page_state(files)
        if state == "done":
            self.skipped += 1
            return None
        if state == "foreign":
            existing = next(p for p in files.values() if os.path.exists(p))
            raise PageError("%s already exists (use --overwrite to replace it)" % safe_name(existing))
        return files

    def page(self, path, page, pages):
        """Transcribe page ``page`` (0-based) of ``pages`` of ``path``, write its outputs and print it."""
        extra = {"page": page + 1} if pages > 1 else {}
        files = self.targets(path, page) if self.args.out else None
        if self.args.out and files is None:
            return
        gray = read_image(path, page=page)
        result = self.pipeline.transcribe(gray, self.args.level)
        if files:
            write_outputs(files, path, gray, result, self.args.format, extra)
        fmt = "text" if self.args.out else self.args.format
        tqdm.write(render(result, path, fmt, self.header or pages > 1, extra), file=sys.stdout, end="")

    def file(self, path):
        """Every page of one file; returns False when one failed (after one ``error:`` line each)."""
        ok = True
        try:
            pages = page_count(path)
        except ImageError as error:
            pages, ok = 0, False
            tqdm.write("error: %s: %s" % (safe_name(path), error), file=sys.stderr)
        if pages > 1 and not self.args.out and self.args.format in ("page-xml", "alto"):
            tqdm.write("error: %s: has %d pages, and --format %s prints one XML document: use --out DIR"
                       % (safe_name(path), pages, self.args.format), file=sys.stderr)
            return False
        for page in range(pages):
            where = safe_name(path) + (" page %d" % (page + 1) if pages > 1 else "")
            try:
                self.page(path, page, pages)
            except (ImageError, PageError) as error:
                ok = False
                tqdm.write("error: %s: %s" % (where, error), file=sys.stderr)
            except Exception as error:          # whatever goes wrong on one page, the others still run
                ok = False
                reason = " ".join(safe_name(str(error)).split())
                tqdm.write("error: %s: failed: %s%s" % (where, type(error).__name__, ": " + reason if reason else ""),
                           file=sys.stderr)
        return ok


def main(argv=None):
    """Run the CLI; returns the exit status (0 all pages done, 1 some page failed, 2 cannot start)."""
    args = parse_args(argv)
    if args.out:
        try:
            check_out_dir(args.out)
        except OutDirError as error:
            print("error: %s" % error, file=sys.stderr)
            return 2
    found = find_inputs(args)
    files = found.files
    if args.format in ("page-xml", "alto") and not args.out and len(files) > 1:
        print("error: --format %s prints one XML document: give one image or use --out DIR" % args.format,
              file=sys.stderr)
        return 2
    if not files:
        return 1 if found.errors else 0
    header = len(args.images) > 1 or len(files) > 1
    if args.workers is not None or args.scheduler:
        from ocr.distributed import ClusterError, run_on_dask      # Dask is imported only when asked for
        try:
            run, ok = run_on_dask(args, files, header)
        except ClusterError as error:
            print("error: %s" % error, file=sys.stderr)
            return 2
    else:
        pipeline = load_pipeline(args)
        if pipeline is None:
            return 2
        run, ok = _Run(args, pipeline, header), True
        for path in tqdm(files, desc="files", unit="file", disable=True if len(files) < 2 else None):
            ok = run.file(path) and ok
    if run.skipped:
        print("%d page%s already done in %s: skipped (--overwrite redoes them)"
              % (run.skipped, "s" * (run.skipped > 1), safe_name(args.out)), file=sys.stderr)
    return 0 if ok and not found.errors else 1


if __name__ == "__main__":
    sys.exit(main())
