"""Handwriting OCR toolkit on MXNet Gluon: paragraph box -> word/line boxes -> CTC line recogniser."""
import sys

if sys.version_info[:2] != (3, 11):
    raise SystemExit("ocr needs Python 3.11 (the pinned mxnet 1.9.1 stack); this is Python %d.%d."
                     % sys.version_info[:2])

__version__ = "0.1.0"
