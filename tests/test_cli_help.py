"""Every command-line entry point answers --help with its usage and exit 0 (a help string with a stray '%' makes
argparse crash only when help is printed)."""
import glob
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES = ["ocr.pipeline", "ocr.evaluate", "ocr.export", "ocr.sclite", "ocr.handwriting_line_recognition",
           "ocr.paragraph_segmentation_dcnn", "ocr.word_and_line_segmentation", "ocr.data.synthetic",
           "ocr.data.iamondb", "ocr.data.prose", "ocr.data.fonts", "ocr.data.corpus"]
SCRIPTS = sorted(glob.glob(os.path.join(ROOT, "utils", "*.py")))


def help_failure(command: list[str]) -> str | None:
    """None when ``command`` prints a usage and exits 0, else what went wrong (one line)."""
    try:
        done = subprocess.run(command, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True,
                              text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return "%s: no answer in 300 s" % " ".join(command[1:])
    if done.returncode != 0 or "usage:" not in done.stdout:
        return "%s: exit %d %s" % (" ".join(command[1:]), done.returncode, done.stderr.strip()[-300:])
    return None


def test_every_command_prints_its_help():
    commands = [[sys.executable, "-m", module, "--help"] for module in MODULES]
    commands += [[sys.executable, script, "--help"] for script in SCRIPTS]
    with ThreadPoolExecutor(max_workers=4) as pool:
        failed = [failure for failure in pool.map(help_failure, commands) if failure]
    assert len(SCRIPTS) >= 20
    assert not failed, "\n".join(failed)
