"""Every command-line entry point answers --help with its usage and exit 0 (a help string with a stray '%' makes
argparse crash only when help is printed)."""
import glob
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES = ["ocr.pipeline", "ocr.evaluate", "ocr.export", "ocr.sclite", "ocr.handwriting_line_recognition",
           "ocr.paragraph_segmentation_dcnn", "ocr.word_and_line_segmentation", "ocr.data.synthetic",
           "ocr.data.iamondb", "ocr.data.prose", "ocr.data.fonts", "ocr.data.corpus"]
SCRIPTS = sorted(glob.glob(os.path.join(ROOT, "utils", "*.py")))


def test_every_command_prints_its_help():
    commands = [[sys.executable, "-m", module, "--help"] for module in MODULES]
    commands += [[sys.executable, script, "--help"] for script in SCRIPTS]
    env = dict(os.environ, PYTHONPATH=ROOT)
    running = [(command, subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True)) for command in commands]
    failed = []
    for command, process in running:
        out, err = process.communicate(timeout=300)
        if process.returncode != 0 or "usage:" not in out:
            failed.append("%s: exit %d %s" % (" ".join(command[1:]), process.returncode, err.strip()[-300:]))
    assert len(SCRIPTS) >= 20
    assert not failed, "\n".join(failed)
