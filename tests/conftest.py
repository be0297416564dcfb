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


def utils_script(name):
    """``utils/<name>.py`` imported as a module (the scripts there are not a package); ``name`` may hold a folder
    (``gpu/pack_recognizer_data``)."""
    import importlib.util

    from ocr.core.paths import REPO_ROOT

    spec = importlib.util.spec_from_file_location(os.path.basename(name),
                                                  os.path.join(REPO_ROOT, "utils", name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pytest_configure(config):
    config.addinivalue_line("markers", "testdata(*parts): needs ../shared/testdata/<parts> (skipped when absent)")


def require_testdata(*parts):
    """Skip the calling test (fail under CI) when ``../shared/testdata/<parts>`` is absent: the real test material
    that lives beside the repository, not in it (``OCR_TESTDATA_DIR`` moves it)."""
    from ocr.decode.testdata import TESTDATA_DIR

    path = os.path.join(TESTDATA_DIR, *parts)
    require(os.path.exists(path), "needs the real test data %s, which is not in the repository "
                                  "(put ../shared/testdata beside it or set OCR_TESTDATA_DIR)" % path)


def pytest_runtest_setup(item):
    """Tests marked ``@pytest.mark.testdata("ctc")`` run only where that part of the test data is."""
    for marker in item.iter_markers(name="testdata"):
        require_testdata(*marker.args)
