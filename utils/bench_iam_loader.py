"""Time a first (cold cache) and a second (cached) pass over an IAM-format tree, and print its split counts.

    python utils/bench_iam_loader.py --iam-root DIR [--parse-method line form form_bb ...]
"""
import argparse
import shutil
import sys
import tempfile
import time

from tqdm import tqdm


from ocr.data.iam import IAMDataset, IAMNotFoundError, SPLITS


def timed_pass(root, parse_method, cache_dir):
    """Seconds to build the dataset and read every item of every split once."""
    start = time.perf_counter()
    for split in ("train", "test"):
        dataset = IAMDataset(root, parse_method, split=split, cache_dir=cache_dir)
        for i in tqdm(range(len(dataset)), desc="%s %s" % (parse_method, split), leave=False):
            dataset[i]
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iam-root", required=True)
    parser.add_argument("--parse-method", nargs="+", default=["line", "form", "form_bb"])
    args = parser.parse_args(argv)
    try:
        for split in SPLITS:
            print("%-10s %s" % (split, IAMDataset(args.iam_root, "line", split=split).split_counts()))
        cache_dir = tempfile.mkdtemp(prefix="iam-cache-")
        try:
            for method in args.parse_method:
                first = timed_pass(args.iam_root, method, cache_dir)
                second = timed_pass(args.iam_root, method, cache_dir)
                print("%-8s first pass %.1f s, cached pass %.1f s" % (method, first, second))
        finally:
            shutil.rmtree(cache_dir)
    except IAMNotFoundError as err:
        sys.exit("error: %s" % err)


if __name__ == "__main__":
    main()
