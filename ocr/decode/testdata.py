"""Loader for the real CTC matrices in ``../shared/testdata/ctc`` (see its README): for tests and benchmarks.

Each ``mat_N.csv`` holds one row of raw logits per time step, ';'-separated with a trailing ';'; the columns
are the characters of the folder's ``chars.txt`` then the blank (last). ``gt_N.txt`` is the ground truth.
"""
import glob
import os
import re

import numpy as np

from ocr.decode.ctc import log_softmax
from ocr.core.paths import REPO_ROOT

TESTDATA_DIR = os.environ.get("OCR_TESTDATA_DIR", os.path.join(os.path.dirname(REPO_ROOT), "shared", "testdata"))
CTC_DIR = os.path.join(TESTDATA_DIR, "ctc")


def load_logits(path: str) -> np.ndarray:
    """A ``mat_N.csv`` file -> T x C float64 raw logits (the empty column after the trailing ';' dropped)."""
    with open(path, encoding="utf-8") as f:
        rows = [line.rstrip("\n").rstrip(";").split(";") for line in f if line.strip()]
    return np.array(rows, dtype=np.float64)


def load_sample(folder: str, index: int) -> tuple[np.ndarray, str, str]:
    """(log_probs T x C, alphabet, ground truth) of ``<CTC_DIR>/<folder>/mat_<index>.csv``; log-probs are the
    per-row log-softmax of the stored logits, the blank is the last column."""
    base = os.path.join(CTC_DIR, folder)
    with open(os.path.join(base, "chars.txt"), encoding="utf-8") as f:
        alphabet = f.read()
    with open(os.path.join(base, "gt_%d.txt" % index), encoding="utf-8") as f:
        truth = f.read()
    return log_softmax(load_logits(os.path.join(base, "mat_%d.csv" % index))), alphabet, truth


def all_samples() -> list[tuple[str, np.ndarray, str, str]]:
    """[(name, log_probs, alphabet, truth)] for every matrix under CTC_DIR, e.g. name 'iam/0'."""
    samples = []
    for path in sorted(glob.glob(os.path.join(CTC_DIR, "*", "mat_*.csv"))):
        folder = os.path.basename(os.path.dirname(path))
        index = int(re.search(r"mat_(\d+)\.csv$", path).group(1))
        samples.append(("%s/%d" % (folder, index),) + load_sample(folder, index))
    return samples
