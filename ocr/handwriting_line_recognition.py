"""The reference's entry point for training the CNN-biLSTM-CTC line recogniser: ``python -m ocr.handwriting_line_recognition`` (see ocr.recognition.train)."""
from ocr.core.training import run_cli
from ocr.recognition.train import main

if __name__ == "__main__":
    run_cli(main)
