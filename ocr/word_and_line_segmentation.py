"""The reference's entry point for training the word (or line) SSD: ``python -m ocr.word_and_line_segmentation`` (see ocr.words.train)."""
from ocr.core.training import run_cli
from ocr.words.train import main

if __name__ == "__main__":
    run_cli(main)
