"""Install the ``ocr`` package (dependencies are pinned in requirements.txt; ``make venv`` installs both)."""
import sys

from setuptools import find_packages, setup

if sys.version_info[:2] != (3, 11):
    sys.exit("ocr needs Python 3.11 (the pinned mxnet 1.9.1 stack).")

with open("requirements.txt") as f:
    requirements = [line.strip() for line in f if line.strip() and not line.startswith("#")]

setup(
    name="ocr",
    version="0.1.0",
    description="Handwriting OCR on MXNet Gluon: paragraph segmentation, word/line SSD, CNN-biLSTM-CTC",
    packages=find_packages(include=["ocr", "ocr.*"]),
    python_requires="==3.11.*",
    install_requires=requirements,
)
