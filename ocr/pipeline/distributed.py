"""Folders of pages on a Dask cluster: ``python -m ocr.pipeline DIR --out OUT --workers N`` (a local cluster of N
worker processes, one thread each) or ``--scheduler ADDRESS`` (an existing cluster).

Who does what:

* the client (the CLI's process) lists the pages, skips those done before with the same checks as a serial run
  (``ocr.pipeline.cli._Run.targets``), submits one task per page, writes each page's files as its result comes back
  (``ocr.pipeline.cli.publish_page``: all or nothing, the JSON last) and prints the pages' text and errors in input
  order, so stdout, stderr and --out are those of a serial run; a progress bar counts pages as they finish;
* a worker reads its page image by path (on a real cluster the workers must see the inputs and --models at the
  same paths: a shared filesystem), transcribes it with a Pipeline loaded once per worker process
  (``worker_pipeline``, cached by its options) and returns the page's files as bytes. It writes nothing.

Why the client writes: a task's result reaches the client once however many times the task ran (the scheduler
reruns the tasks of a worker that died; a worker wrongly thought dead may even finish a copy), so each page is
published once, by one process, never by two workers racing on the same files, and a worker killed mid-page
leaves nothing half-written. Workers need no write access to --out. The cost is each page's files (text, JSON,
boxed PNG: some hundred KB) crossing the network once. If the client itself is killed, the next run resumes as
a serial one does: finished pages are skipped, a page caught mid-publish is redone.
"""
import argparse
import contextlib
import io
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distributed import Client, LocalCluster, as_completed
from tqdm import tqdm

from ocr.core.images import ImageError, page_count, read_image
from ocr.pipeline.cli import PageError, _Run, describe, load_pipeline, page_name, page_outputs, publish_page, render
from ocr.pipeline.page_files import safe_name
from ocr.pipeline.pipeline import Pipeline

CONNECT_TIMEOUT_S = 10       # --scheduler: how long to try to reach it
WORKERS_TIMEOUT_S = 60       # --scheduler: how long to wait for a first worker


class ClusterError(Exception):
    """The cluster cannot be used (unreachable scheduler, no workers, models fail to load); one line."""


@dataclass(frozen=True)
class PipelineOptions:
    """What a worker needs to load the CLI's Pipeline: the attributes ``ocr.pipeline.cli.load_pipeline`` reads."""
    decoder: str
    gpu: int
    level: str
    models: str
    engine: str
    batch_size: int
    widths: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "PipelineOptions":
        """The options of parsed CLI arguments (--models made absolute: workers may run elsewhere)."""
        return cls(args.decoder, args.gpu, args.level, os.path.abspath(args.models), args.engine, args.batch_size,
                   args.widths)


@dataclass(frozen=True)
class PageTask:
    """One page to transcribe: its place in the run (``index``), file, 0-based ``page``, the --out ``files`` it
    gets ({kind: path}, ocr.pipeline.page_files.output_files), the --format, the JSON's ``extra`` and whether its
    printed text has a ``==> file <==`` header."""
    index: int
    path: str
    page: int
    files: dict[str, str]
    fmt: str
    extra: dict[str, Any]
    header: bool


@dataclass
class PageDone:
    """A worker's answer for one page: the files' bytes ({kind: bytes}) and the text to print, or ``error`` (the
    reason, one line) when the page failed."""
    contents: dict[str, bytes] | None = None
    printed: str = ""
    error: str | None = None


_PIPELINES: dict[PipelineOptions, Pipeline] = {}     # per worker process
_LOCK = threading.Lock()


def worker_pipeline(options: PipelineOptions) -> Pipeline:
    """The Pipeline of ``options``, loaded on the first call in this process and kept; raises ClusterError with
    load_pipeline's one-line message when the models cannot be loaded."""
    with _LOCK:
        if options not in _PIPELINES:
            message = io.StringIO()
            with contextlib.redirect_stderr(message):
                pipeline = load_pipeline(options)
            if pipeline is None:
                raise ClusterError(message.getvalue().strip().removeprefix("error: "))
            _PIPELINES[options] = pipeline
        return _PIPELINES[options]


def warm_up(options: PipelineOptions) -> str | None:
    """Load the models on this worker; None, or the reason they cannot be loaded (one line)."""
    try:
        worker_pipeline(options)
    except ClusterError as error:
        return str(error)
    return None


def transcribe_page(options: PipelineOptions, task: PageTask) -> PageDone:
    """On a worker: read, transcribe and render one page into its files' bytes; never raises for a bad page."""
    try:
        gray = read_image(task.path, page=task.page)
        result = worker_pipeline(options).transcribe(gray, options.level)
        contents = page_outputs(result, task.path, task.files, task.fmt, gray, task.extra)
        return PageDone(contents, render(result, task.path, "text", task.header, task.extra))
    except Exception as error:          # whatever goes wrong on one page, the others still run
        return PageDone(error=describe(error))


class _Printer:
    """Prints each page's stdout text and stderr lines in input order, whatever order the pages finish in."""

    def __init__(self):
        self.waiting: dict[int, tuple[str, str]] = {}     # page index -> (stdout text, stderr line)
        self.next = 0

    def add(self, index: int, printed: str = "", error: str = "") -> None:
        """Queue page ``index``'s text and error line, then print every page that is next in order."""
        self.waiting[index] = (printed, error)
        while self.next in self.waiting:
            printed, error = self.waiting.pop(self.next)
            if printed:
                tqdm.write(printed, file=sys.stdout, end="")
            if error:
                tqdm.write(error, file=sys.stderr)
            self.next += 1


def plan(run: _Run, files: list[str], printer: _Printer) -> tuple[list[PageTask], dict[int, int], bool]:
    """The PageTasks of the image ``files`` of ``run`` (its ``args``; pages done before are skipped and counted in
    ``run.skipped``; an unreadable file or a page whose files clash gets its error line, in order, through
    ``printer``) -> (tasks, {task index: its file's page count}, ok: False when a file or page failed here)."""
    args = run.args
    tasks, pages_of, ok, index = [], {}, True, 0
    for path in files:
        try:
            pages = page_count(path)
        except ImageError as error:
            printer.add(index, error="error: %s: %s" % (safe_name(path), error))
            index, ok = index + 1, False
            continue
        for page in range(pages):
            try:
                targets = run.targets(path, page)
            except PageError as error:
                printer.add(index, error="error: %s: %s" % (page_name(path, page, pages), error))
                targets, ok = None, False
            if targets is None:
                printer.add(index)
            else:
                extra = {"page": page + 1} if pages > 1 else {}
                tasks.append(PageTask(index, path, page, targets, args.format, extra, run.header or pages > 1))
                pages_of[index] = pages
            index += 1
    return tasks, pages_of, ok


def connect(args: argparse.Namespace) -> Client:
    """A dask.distributed Client: on a new local cluster of ``args.workers`` processes (one thread each), or on the
    scheduler at ``args.scheduler``; raises ClusterError (one line)."""
    if args.scheduler:
        try:
            client = Client(args.scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, ValueError, TypeError) as error:
            reason = " ".join(str(error).split()) or type(error).__name__
            raise ClusterError("--scheduler %s: cannot connect: %s" % (args.scheduler, reason)) from None
        try:
            client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
        except (OSError, TimeoutError):
            client.close()
            raise ClusterError("--scheduler %s: no worker joined in %d s" % (args.scheduler, WORKERS_TIMEOUT_S))
        return client
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.CRITICAL)
    return Client(cluster)


def load_everywhere(client: Client, options: PipelineOptions) -> None:
    """Load the models on every worker now (so a missing model is one error before any page, not one per page);
    raises ClusterError naming the first failure. Workers that join later load them on their first page."""
    workers = list(client.scheduler_info()["workers"])
    futures = [client.submit(warm_up, options, workers=[w], allow_other_workers=False, pure=False) for w in workers]
    for reason in client.gather(futures):
        if reason:
            raise ClusterError(reason)


def run_pages(client: Client, tasks: list[PageTask], options: PipelineOptions, printer: _Printer,
              pages_of: dict[int, int],
              transcribe: Callable[[PipelineOptions, PageTask], PageDone] = transcribe_page) -> bool:
    """Transcribe ``tasks`` on the cluster of ``client``, publishing each page once as its result arrives and
    printing in order; ``pages_of``: {task index: its file's page count} (plan). ``transcribe`` runs on the
    workers (a module-level function: it is pickled). Returns False when a page failed."""
    futures = {client.submit(transcribe, options, task, pure=False): task for task in tasks}
    ok = True
    with tqdm(total=len(tasks), desc="pages", unit="page", file=sys.stderr, mininterval=1.0) as bar:
        for future in as_completed(list(futures)):
            task = futures.pop(future)
            try:
                done = future.result()
                if done.error is None:
                    publish_page(task.files, done.contents)
            except Exception as error:      # a PageError, or the task died: its worker was killed too many times
                done = PageDone(error=describe(error))
            future.release()
            error = ""
            if done.error is not None:
                ok = False
                error = "error: %s: %s" % (page_name(task.path, task.page, pages_of[task.index]), done.error)
            printer.add(task.index, done.printed, error)
            bar.update()
    return ok


def run_on_dask(args: argparse.Namespace, files: list[str], header: bool,
                transcribe: Callable[[PipelineOptions, PageTask], PageDone] = transcribe_page) -> tuple[_Run, bool]:
    """The CLI's run over the image ``files`` on Dask (``args.workers`` or ``args.scheduler``, with ``args.out``;
    ``header``: print a ``==> file <==`` line before each page's text) -> (the _Run, with ``skipped``; ok: False
    when a page failed). Raises ClusterError when the cluster or the models cannot be used."""
    run, printer = _Run(args, None, header), _Printer()
    tasks, pages_of, ok = plan(run, files, printer)
    if not tasks:
        return run, ok
    options = PipelineOptions.from_args(args)
    client = connect(args)
    try:
        load_everywhere(client, options)
        workers = len(client.scheduler_info()["workers"])
        start = time.perf_counter()
        ok = run_pages(client, tasks, options, printer, pages_of, transcribe) and ok
        seconds = time.perf_counter() - start
    finally:
        cluster = None if args.scheduler else client.cluster
        client.close()
        if cluster is not None:
            cluster.close()
    print("%d page%s in %.1f s on %s of %d worker%s: %.2f pages/s"
          % (len(tasks), "s" * (len(tasks) != 1), seconds, args.scheduler or "a local cluster", workers,
             "s" * (workers != 1), len(tasks) / seconds), file=sys.stderr)
    return run, ok
