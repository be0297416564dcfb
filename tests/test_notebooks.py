"""The notebooks in notebooks/ run top to bottom (each in a fresh kernel of this interpreter, every cell within a
time limit) on the shipped models, write nothing beside themselves, and are stored with their outputs stripped."""
import glob
import os
import sys

import nbformat
import pytest
from jupyter_client import AsyncKernelManager
from nbclient import NotebookClient

from ocr.data import corpus, fonts
from tests.conftest import require, require_testdata

NOTEBOOK_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks")
NOTEBOOKS = sorted(glob.glob(os.path.join(NOTEBOOK_DIR, "*.ipynb")))
STAGES = ("0_", "1_", "2_", "3_", "4_", "5_")   # end to end, paragraph, words/lines, recogniser, decoders, costs
CELL_TIMEOUT = 300                              # seconds any one cell may take


class ThisInterpreterKernel(AsyncKernelManager):
    """Starts the kernel with the Python running the tests (the venv's), whatever kernel specs are installed."""

    def format_kernel_cmd(self, extra_arguments=None):
        return [sys.executable, "-m", "ipykernel_launcher", "-f", os.path.realpath(self.connection_file)] + \
            list(extra_arguments or [])


def test_one_notebook_per_stage():
    names = [os.path.basename(path) for path in NOTEBOOKS]
    assert len(names) >= 6, names
    assert all(any(name.startswith(stage) for name in names) for stage in STAGES), names


def test_notebooks_are_stored_without_outputs():
    dirty = []
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "python3", path
        if "widgets" in nb.metadata or any(cell.cell_type == "code" and (cell.outputs or cell.execution_count)
                                           for cell in nb.cells):
            dirty.append(os.path.basename(path))
    assert not dirty, "notebooks stored with outputs, execution counts or widget state: %s" % dirty


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs(path):
    require(os.path.exists(fonts.MANIFEST), "fonts not installed: run make data")
    require(os.path.exists(corpus.CORPUS_FILE), "text corpus not built: run make data")
    if "testdata" in open(path, encoding="utf-8").read():
        require_testdata("ctc")
    before = sorted(os.listdir(NOTEBOOK_DIR))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", kernel_manager_class=ThisInterpreterKernel,
                            resources={"metadata": {"path": NOTEBOOK_DIR}})
    # A failing cell raises nbclient's CellExecutionError with the cell's source and traceback.
    client.execute(env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    assert sorted(os.listdir(NOTEBOOK_DIR)) == before, "the notebook wrote files beside itself"
