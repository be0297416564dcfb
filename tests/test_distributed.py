"""python -m ocr.pipeline DIR --out OUT --workers N / --scheduler ADDRESS (ocr.pipeline.distributed): on a local Dask cluster
(2 worker processes, 1 thread each) the same files, text and error lines as a serial run, a worker killed mid-run
has its page redone with every page published exactly once, a progress bar and a summary, one-line errors."""
import collections
import functools
import os

import pytest
from PIL import Image

from ocr.pipeline import cli, distributed, page_files
from ocr.pipeline.cli import parse_args
from tests.test_pipeline import fake_page, run_cli, save, write_models

FAST = ("--decoder", "greedy", "--level", "region")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return write_models(tmp_path_factory.mktemp("models"), stages=("detector", "recognizer"))


def pages(folder, count):
    """``count`` small synthetic pages p0.png ... in ``folder``; their paths."""
    folder.mkdir(exist_ok=True)
    return [save(folder / ("p%d.png" % i), fake_page(160, 200, seed=i)) for i in range(count)]


def contents(folder):
    """{file name: bytes} of everything in ``folder``, hidden .partial folders included (as names)."""
    return {name: (folder / name).read_bytes() if (folder / name).is_file() else None for name in os.listdir(folder)}


def messages(err):
    """stderr lines without the progress bar and the run summary."""
    return [line for line in err if not line.startswith("pages") and "pages/s" not in line and line.strip()]


def crash_once(options, task, marker):
    """transcribe_page, except that the worker process doing p2.png dies the first time (``marker`` remembers)."""
    if task.path.endswith("p2.png") and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return distributed.transcribe_page(options, task)


def test_two_workers_give_the_files_text_and_errors_of_a_serial_run(models, tmp_path, capsys):
    pages(tmp_path / "in", 5)
    save(tmp_path / "in" / "two.tif", fake_page(seed=9), save_all=True,
         append_images=[Image.fromarray(fake_page(seed=10))])
    (tmp_path / "in" / "notes.png").write_text("not a picture")
    common = ("--models", models, *FAST)
    status, printed, err = run_cli(capsys, tmp_path / "in", "--out", tmp_path / "serial", *common)
    assert status == 1 and printed.count("==> ") == 7

    status_d, printed_d, err_d = run_cli(capsys, tmp_path / "in", "--out", tmp_path / "dask", "--workers", 2, *common)
    assert (status_d, printed_d, messages(err_d)) == (status, printed, messages(err))
    assert contents(tmp_path / "dask") == contents(tmp_path / "serial")
    assert len(contents(tmp_path / "dask")) == 7 * 3
    assert any(line.startswith("pages: 100%") and "7/7" in line for line in err_d)          # the progress bar
    summary = [line for line in err_d if "pages/s" in line]
    assert len(summary) == 1 and summary[0].startswith("7 pages in ") and "local cluster of 2 workers" in summary[0]

    status, printed, err = run_cli(capsys, tmp_path / "in", "--out", tmp_path / "dask", "--workers", 2, *common)
    assert status == 1 and printed == "" and "7 pages already done in %s" % (tmp_path / "dask") in err[-1]


def test_a_killed_worker_has_its_page_redone_and_every_page_is_written_once(models, tmp_path, capsys,
                                                                           monkeypatch):
    pages(tmp_path / "in", 6)
    published, real_publish = collections.Counter(), cli.publish

    def counting_publish(files, data):
        published[os.path.basename(files["json"])] += 1
        real_publish(files, data)

    monkeypatch.setattr(cli, "publish", counting_publish)
    marker = tmp_path / "crashed"
    args = parse_args([str(tmp_path / "in"), "--out", str(tmp_path / "dask"), "--workers", "2", "--models",
                       models, *FAST])
    files = sorted(str(p) for p in (tmp_path / "in").iterdir())
    page_files.check_out_dir(args.out)                                       # as main does before any work
    run, ok = distributed.run_on_dask(args, files, True, functools.partial(crash_once, marker=str(marker)))
    assert ok and run.skipped == 0 and marker.exists()                      # the worker did die
    assert published == {"p%d.json" % i: 1 for i in range(6)}
    out = capsys.readouterr().out
    assert [out.count("p%d.png <==" % i) for i in range(6)] == [1] * 6

    run_cli(capsys, tmp_path / "in", "--out", tmp_path / "serial", "--models", models, *FAST)
    assert contents(tmp_path / "dask") == contents(tmp_path / "serial")      # complete, no .partial folder
    for i in range(6):
        files = page_files.output_files(str(tmp_path / "dask"), "p%d" % i, "text")
        assert page_files.page_state(files) == "done"


def test_cluster_problems_are_one_line_and_exit_2(models, tmp_path, capsys, monkeypatch):
    pages(tmp_path / "in", 1)
    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT_S", 1)
    status, _, err = run_cli(capsys, tmp_path / "in", "--out", tmp_path / "out", "--scheduler", "tcp://127.0.0.1:1",
                             "--models", models, *FAST)
    assert status == 2 and len(err) == 1 and err[0].startswith("error: --scheduler tcp://127.0.0.1:1: cannot connect")
    for argv in (("--workers", 2), ("--workers", 0, "--out", tmp_path / "out"),
                 ("--workers", 2, "--scheduler", "tcp://127.0.0.1:1", "--out", tmp_path / "out")):
        with pytest.raises(SystemExit) as stop:
            parse_args([str(a) for a in (tmp_path / "in", *argv)])
        err = capsys.readouterr().err.splitlines()
        assert stop.value.code == 2 and len(err) == 1 and err[0].startswith("error: ")
    only_detector = write_models(tmp_path / "models", stages=("detector",))     # no recogniser: every worker fails
    status, printed, err = run_cli(capsys, tmp_path / "in", "--out", tmp_path / "out", "--workers", 1,
                                   "--models", only_detector, *FAST)
    assert status == 2 and printed == "" and len(err) == 1 and "line recogniser" in err[0]
    assert os.listdir(tmp_path / "out") == []
