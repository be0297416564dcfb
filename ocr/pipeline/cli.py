"""The command line of the pipeline: ``python -m ocr.pipeline`` (the Python API is ocr.pipeline.Pipeline).

python -m ocr.pipeline IMAGES_OR_FOLDERS... [--decoder beam|greedy|lexicon] [--level auto|page|region|line|word]
        [--format text|json|page-xml|alto] [--out DIR] [--overwrite] [--batch-size N] [--widths] [-g GPU]
        [--models DIR] [--engine mxnet|onnx|onnx-int8] [--workers N | --scheduler ADDRESS]

prints each page's transcription, one line of text per handwritten line (a ``==> file <==`` header before each
page when there are several); without --out, --format json prints one JSON object per page per line and
page-xml / alto print the XML (one image only). Every page of a multi-page file (TIFF) is transcribed. A folder
gives its images (PNG, JPEG, TIFF, BMP, GIF, WebP, ...; ocr.core.images.IMAGE_EXTENSIONS); image files in formats that are
not read (HEIC, PDF, ...) are named in one warning line.

--out DIR (checked before any work) writes per page ``<stem>.txt``, ``<stem>.json``, ``<stem>_boxed.png`` and,
with --format page-xml or alto, ``<stem>.xml``; ``<stem>`` is the file's name in a safe form (ocr.pipeline.page_files;
``_p2``, ``_p3`` ... for later pages). A page's files appear together, its JSON last; a rerun skips the pages
that are done, redoes those a killed run left unfinished, and never reads its own ``_boxed.png`` files as pages.
Files of the same names that an earlier run did not write are kept unless --overwrite (which also redoes done
pages). A page that cannot be read or transcribed prints ``error: <file>: <reason>`` on stderr and the others go
on. Exit status: 0 all pages done; 1 some page failed; 2 bad arguments, an unusable --out, or a model the level
needs is missing.

--workers N (a local Dask cluster of N processes) or --scheduler ADDRESS (an existing one) runs the pages of an
--out run in parallel, with the same outputs and printed text as a serial run (``ocr.pipeline.distributed``).
"""
import argparse
import os
import sys
from typing import Any, NoReturn

import numpy as np
from tqdm import tqdm

from ocr.core.images import ImageError, Inputs, find_images, page_count, read_image
from ocr.core.loading import DEFAULT_CPU_ENGINE, ENGINES, ModelLoadError, pick_context
from ocr.core.paths import MODELS_DIR
from ocr.pipeline import outputs
from ocr.pipeline.page_files import (OutDirError, check_out_dir, is_output, output_files, page_stem, page_state,
                                     publish, safe_name)
from ocr.decode import DECODERS
from ocr.pipeline.pipeline import DEFAULT_DECODER, LEVELS, MissingModelError, Pipeline
from ocr.pipeline.results import PageResult

FORMATS = ("text", "json", "page-xml", "alto")   # what --format prints (or, for page-xml and alto, writes)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one ``error:`` line (exit status 2), no usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, "error: %s\n" % message)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (see the module doc); ``argv`` None: sys.argv[1:]."""
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
    parser.add_argument("--widths", action="store_true",
                        help="read a line the recogniser is unsure of at several widths too (its card's "
                             "input.stretches) and keep the reading they agree on: slower; better on IAM-OnDB "
                             "test lines and real blocks, worse on real single lines (models/README.md)")
    parser.add_argument("-g", "--gpu", type=int, default=-1, help="GPU id (default -1: CPU)")
    parser.add_argument("--engine", choices=ENGINES,
                        help="what runs the nets: onnx-int8 (the default on the CPU: onnxruntime on their ONNX "
                             "export, built once into data/cache/onnx, with the recogniser's LSTMs in int8: CER "
                             "within 0.1 point of MXNet's, 1.2x as fast as onnx), onnx (float32: the same text as "
                             "MXNet, about twice as fast) or mxnet (the default with -g, which onnx does not use)")
    parser.add_argument("--models", default=MODELS_DIR, metavar="DIR",
                        help="folder of paragraph_segmentation, word_segmentation and handwriting_line "
                             ".params/.json (default: the shipped models/)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="run the pages on a local Dask cluster of N worker processes (needs --out)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run the pages on the Dask cluster of this scheduler, e.g. tcp://host:8786 "
                             "(needs --out; the workers must see the images and --models at the same paths)")
    args = parser.parse_args(argv)
    args.engine = args.engine or ("mxnet" if args.gpu >= 0 else DEFAULT_CPU_ENGINE)
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


def page_outputs(result: PageResult, source: str, files: dict[str, str], fmt: str, page: np.ndarray,
                 extra: dict[str, Any]) -> dict[str, bytes]:
    """{kind: bytes} of one page's --out files (``files``: {kind: path}, page_files.output_files): the text, the
    JSON (which names every file, see ocr.pipeline.page_files; ``extra`` items added), the XML in ``fmt`` and the
    boxed PNG of ``page`` (uint8 gray (H, W), the image ``source`` as read)."""
    name = safe_name(os.path.basename(source))
    extra = dict(extra, outputs=[os.path.basename(p) for p in files.values()])
    contents = {"txt": outputs.to_text(result).encode("utf-8"),
                "json": (outputs.to_json(result, name, extra=extra) + "\n").encode("utf-8"),
                "png": outputs.encode_png(outputs.draw_result(page, result))}
    if "xml" in files:
        contents["xml"] = (outputs.to_page_xml if fmt == "page-xml" else outputs.to_alto)(result, name).encode("utf-8")
    return contents


def publish_page(files: dict[str, str], contents: dict[str, bytes]) -> None:
    """Write one page's files ({kind: path}, page_files.output_files) from their ``contents`` ({kind: bytes}) all at
    once or not at all (page_files.publish). Raises PageError naming the reason, never a temp file."""
    try:
        publish(files, contents)
    except OSError as error:
        raise PageError("cannot write its outputs in %s: %s"
                        % (safe_name(os.path.dirname(files["json"])), error.strerror or type(error).__name__))


def write_outputs(files: dict[str, str], source: str, page: np.ndarray, result: PageResult, fmt: str,
                  extra: dict[str, Any] | None = None) -> None:
    """Write one page's --out files (page_outputs) with publish_page."""
    publish_page(files, page_outputs(result, source, files, fmt, page, extra or {}))


def describe(error: Exception) -> str:
    """One line saying why a page failed: an unreadable image or a PageError says its reason, anything else
    'failed: <type>: <message>'."""
    if isinstance(error, (ImageError, PageError)):
        return str(error)
    reason = " ".join(safe_name(str(error)).split())
    return "failed: %s%s" % (type(error).__name__, ": " + reason if reason else "")


def page_name(path: str, page: int, pages: int) -> str:
    """How error lines name page ``page`` (0-based) of a file of ``pages`` pages: the file, plus 'page N' when
    there are several."""
    return safe_name(path) + (" page %d" % (page + 1) if pages > 1 else "")


def render(result: PageResult, path: str, fmt: str, header: bool, extra: dict[str, Any] | None = None) -> str:
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


def load_pipeline(args: argparse.Namespace) -> Pipeline | None:
    """The Pipeline the CLI arguments ask for (their decoder, gpu, level, models, engine, batch_size, widths), or None
    after a one-line error on stderr (a model is missing or damaged)."""
    try:
        ctx = pick_context(args.gpu) if args.gpu >= 0 else None       # None: the CPU, without importing MXNet
        return Pipeline.load(args.decoder, ctx, args.level, args.models, engine=args.engine,
                             batch_size=args.batch_size, widths=args.widths)
    except MissingModelError as error:
        hint = " (use --level region for an image of the handwritten block only)" if "paragraph" in str(error) else ""
        print("error: %s%s" % (error, hint), file=sys.stderr)
    except ModelLoadError as error:
        print("error: %s" % error, file=sys.stderr)
    except Exception as error:              # a damaged model file: one line, not a traceback
        print("error: cannot load the models in %s: %s: %s" % (args.models, type(error).__name__,
                                                              " ".join(str(error).split())), file=sys.stderr)
    return None


def find_inputs(args: argparse.Namespace) -> Inputs:
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

    def __init__(self, args: argparse.Namespace, pipeline: Pipeline | None, header: bool):
        self.args, self.pipeline, self.header = args, pipeline, header
        self.stems, self.skipped = {}, 0

    def targets(self, path: str, page: int) -> dict[str, str] | None:
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

    def page(self, path: str, page: int, pages: int) -> None:
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

    def file(self, path: str) -> bool:
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
            try:
                self.page(path, page, pages)
            except Exception as error:          # whatever goes wrong on one page, the others still run
                ok = False
                tqdm.write("error: %s: %s" % (page_name(path, page, pages), describe(error)), file=sys.stderr)
        return ok


def main(argv: list[str] | None = None) -> int:
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
        from ocr.pipeline.distributed import ClusterError, run_on_dask  # Dask is imported only when asked for
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
