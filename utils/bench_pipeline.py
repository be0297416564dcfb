"""Pages per second of the full pipeline (shipped models, models loaded once) for each decoder.

    python utils/bench_pipeline.py [PAGES ...]      (default: samples/page.png; images or folders)

Prints, per decoder, the seconds per page (mean over the pages, after one warm-up page) and pages per second.
"""
import argparse
import os
import sys
import time


from ocr.core.images import list_images, read_image
from ocr.core.paths import REPO_ROOT
from ocr.pipeline.pipeline import Pipeline


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", default=[os.path.join(REPO_ROOT, "samples", "page.png")])
    parser.add_argument("--decoder", nargs="+", default=["greedy", "beam"])
    parser.add_argument("--max-pages", type=int, default=20)
    args = parser.parse_args(argv)
    paths, errors = list_images(args.pages)
    if errors or not paths:
        sys.exit("error: %s" % ("; ".join("%s: %s" % e for e in errors) or "no pages"))
    pages = [read_image(p) for p in paths[:args.max_pages]]
    print("%d page(s), %d CPU core(s)" % (len(pages), os.cpu_count()))
    for decoder in args.decoder:
        pipeline = Pipeline.load(decoder=decoder)
        pipeline.transcribe(pages[0])                                  # warm-up: lazy allocations
        start = time.perf_counter()
        lines = sum(len(pipeline.transcribe(page).lines) for page in pages)
        seconds = (time.perf_counter() - start) / len(pages)
        print("%-8s %.2f s/page  %.2f pages/s  (%d lines)" % (decoder, seconds, 1 / seconds, lines))


if __name__ == "__main__":
    main()
