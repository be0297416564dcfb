"""The reference's entry point for training the paragraph segmentation DCNN: ``python -m ocr.paragraph_segmentation_dcnn`` (see ocr.paragraph.train)."""
from ocr.core.training import run_cli
from ocr.paragraph.train import main

if __name__ == "__main__":
    run_cli(main)
