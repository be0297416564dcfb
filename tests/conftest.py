"""Test-session settings: caches of the IAM loader go to a temporary folder (removed at exit), not data/cache."""
import atexit
import os
import shutil
import tempfile

if "OCR_CACHE_DIR" not in os.environ:
    os.environ["OCR_CACHE_DIR"] = tempfile.mkdtemp(prefix="ocr-test-cache-")
    atexit.register(shutil.rmtree, os.environ["OCR_CACHE_DIR"], True)
