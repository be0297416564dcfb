"""Serial vs Dask in one run: ``python -m ocr.pipeline DIR --out OUT`` and the same with ``--workers N`` on one
folder of pages, timed end to end, with a check that both wrote the same files byte for byte.

    python utils/bench_workers.py [--pages 50] [--workers 2] [--decoder greedy] [--iam-root data/synth_v2]

The folder holds ``--pages`` page images: the test forms of ``--iam-root`` (``forms/<id>.png`` of the forms in
``testset.txt``), repeated when there are fewer, or ``samples/page.png`` when the tree is missing. Each run is a
fresh process (``sys.executable -m ocr.pipeline``), so its time includes start-up: model loading, and for Dask
the local cluster and each worker's models; the Dask run's own line (pages/s after start-up) is shown as well.
On a shared machine only the ratio of the two means much, so both run back to back in one call.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SAMPLE = "samples/page.png"


def parse_args(argv=None):
    """Command-line arguments (see the module doc)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=50, help="pages in the folder (default 50)")
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes (default 2)")
    parser.add_argument("--decoder", default="greedy", help="decoder of both runs (default greedy)")
    parser.add_argument("--iam-root", default="data/synth_v2", help="IAM-format tree whose test forms are used")
    return parser.parse_args(argv)


def split_forms(iam_root):
    """Paths of the test forms of an IAM-format tree (forms/<form id>.png), sorted; [] when there are none."""
    try:
        with open(os.path.join(iam_root, "testset.txt")) as f:
            ids = sorted({line.strip().rsplit("-", 1)[0] for line in f if line.strip()})
    except OSError:
        return []
    return [p for p in (os.path.join(iam_root, "forms", i + ".png") for i in ids) if os.path.exists(p)]


def make_folder(folder, sources, pages):
    """Copy ``pages`` images into ``folder`` as page000.png ..., cycling through ``sources``."""
    os.makedirs(folder)
    for i in range(pages):
        shutil.copyfile(sources[i % len(sources)], os.path.join(folder, "page%03d.png" % i))


def run_pipeline(folder, out, decoder, extra=()):
    """(seconds, stderr) of ``python -m ocr.pipeline folder --out out --decoder decoder extra...``; exits on failure."""
    command = [sys.executable, "-m", "ocr.pipeline", folder, "--out", out, "--decoder", decoder, *extra]
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit("error: %s failed (exit %d): %s" % (" ".join(command[1:]), done.returncode,
                                                     done.stderr.strip().splitlines()[-1:]))
    return seconds, done.stderr


def files_of(folder):
    """{name: bytes} of the files in ``folder``."""
    return {name: open(os.path.join(folder, name), "rb").read() for name in sorted(os.listdir(folder))}


def main(argv=None):
    args = parse_args(argv)
    sources = split_forms(args.iam_root) or [SAMPLE]
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        folder = os.path.join(tmp, "pages")
        make_folder(folder, sources, args.pages)
        serial_s, _ = run_pipeline(folder, os.path.join(tmp, "serial"), args.decoder)
        dask_s, err = run_pipeline(folder, os.path.join(tmp, "dask"), args.decoder, ("--workers", str(args.workers)))
        serial, dask = files_of(os.path.join(tmp, "serial")), files_of(os.path.join(tmp, "dask"))
        differ = sorted(n for n in set(serial) | set(dask) if serial.get(n) != dask.get(n))
    summary = [line for line in re.split(r"[\r\n]", err) if "pages/s" in line]
    print("%d pages (%d distinct, from %s), --decoder %s, %s" % (args.pages, min(len(sources), args.pages),
                                                                 args.iam_root if sources != [SAMPLE] else SAMPLE,
                                                                 args.decoder, time.strftime("%Y-%m-%d %H:%M")))
    print("serial:      %6.1f s  %5.2f pages/s (end to end)" % (serial_s, args.pages / serial_s))
    print("--workers %d: %6.1f s  %5.2f pages/s (end to end)  ratio %.2fx" % (args.workers, dask_s,
                                                                             args.pages / dask_s, serial_s / dask_s))
    print("  its own line: %s" % (summary[-1] if summary else "(none)"))
    print("same outputs: %s (%d files serial, %d --workers)%s" % ("NO" if differ else "yes", len(serial), len(dask),
                                                                ": " + " ".join(differ[:10]) if differ else ""))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
