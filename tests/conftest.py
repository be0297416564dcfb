"""Test-session settings: caches of the IAM loader go to a temporary folder (removed at exit), not data/cache."""
import atexit
import os
import shutil
import tempfile

if "OCR_CACHE_DIR" not in os.environ:
    os.environ["OCR_CACHE_DIR"] = tempfile.mkdtemp(prefix="ocr-test-cache-")
    atexit.register(shutil.rmtree, os.environ["OCR_CACHE_DIR"], True)


def require(condition, reason):
    """Skip the calling test when a prerequisite that `make data` installs is missing; under CI (CI=true),
    where `make test` has just installed it, fail instead so that a broken install cannot pass as a skip."""
    import pytest

    if not condition:
        if os.environ.get("CI"):
            pytest.fail("missing under CI: " + reason)
        pytest.skip(reason)
