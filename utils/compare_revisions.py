"""Behaviour of two revisions of the code side by side, in one run: the same commands, the same shipped models.

    python utils/compare_revisions.py --base REV [--synth data/synth_v2] [--lines 300] [--pages 20]

The code at ``REV`` is checked out into a temporary git worktree; both trees then run, with the same Python and the
same data folder (OCR_DATA_DIR), each command of COMMANDS through its public command line (the entry points a
restructuring must keep): the sample page transcribed (text and JSON with boxes and confidences) and
``ocr.evaluate`` on synth_v2's test lines and test pages. Prints, per command, whether the two outputs are
identical, the lines that differ, and the CER/WER tables of both. Exit status 1 when any output differs.
"""
import argparse
import contextlib
import difflib
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@contextlib.contextmanager
def checked_out(rev: str):
    """Context: the path of a temporary git worktree of this repository at ``rev``, removed afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        tree = os.path.join(folder, "base")
        subprocess.run(["git", "-C", REPO, "worktree", "add", "--detach", tree, rev], check=True, capture_output=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "-C", REPO, "worktree", "remove", "--force", tree], capture_output=True)


def tree_env(tree: str) -> dict:
    """The environment that runs the code of ``tree`` on the working tree's data (OCR_DATA_DIR)."""
    return dict(os.environ, PYTHONPATH=tree, OCR_DATA_DIR=os.environ.get("OCR_DATA_DIR", os.path.join(REPO, "data")))


def commands(synth: str, lines: int, pages: int) -> dict:
    """Name -> argv (after ``python -m``) of each compared command."""
    evaluate = ["ocr.evaluate", "--iam-root", synth, "--split", "test", "--no-progress"]
    return {
        "sample page, beam (text)": ["ocr.pipeline", "samples/page.png"],
        "sample page, greedy (JSON)": ["ocr.pipeline", "samples/page.png", "--decoder", "greedy", "--format", "json"],
        "synth test lines": evaluate + ["--level", "line", "--decoder", "greedy", "beam", "lexicon",
                                        "--max-items", str(lines)],
        "synth test pages": evaluate + ["--level", "page", "--decoder", "greedy", "beam", "--max-items", str(pages)],
    }


def run(tree: str, argv: list) -> tuple:
    """Run ``python -m argv`` in ``tree`` -> (exit status, stdout, seconds)."""
    started = time.time()
    done = subprocess.run([sys.executable, "-m"] + argv, cwd=tree, env=tree_env(tree), capture_output=True, text=True)
    if done.returncode:
        sys.stderr.write(done.stderr[-2000:])
    return done.returncode, done.stdout, time.time() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="git revision to compare the working tree with")
    parser.add_argument("--synth", default=os.path.join(REPO, "data", "synth_v2"), help="IAM-format test tree")
    parser.add_argument("--lines", type=int, default=300, help="test lines scored (the first N)")
    parser.add_argument("--pages", type=int, default=20, help="test pages scored (the first N)")
    args = parser.parse_args(argv)
    synth = os.path.abspath(args.synth)
    differ = 0
    with checked_out(args.base) as base_tree:
        for name, command in commands(synth, args.lines, args.pages).items():
            base, new = run(base_tree, command), run(REPO, command)
            same = base[:2] == new[:2]
            differ += not same
            print("== %s: %s (base %.0f s, now %.0f s; exit %d / %d)"
                  % (name, "identical" if same else "DIFFERENT", base[2], new[2], base[0], new[0]))
            if not same:
                sys.stdout.writelines(list(difflib.unified_diff(base[1].splitlines(True),
                                                                new[1].splitlines(True), "base", "now"))[:60])
            elif name.startswith("synth"):
                print(new[1].rstrip())
    print("%d of %d outputs differ" % (differ, len(commands(synth, args.lines, args.pages))))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
