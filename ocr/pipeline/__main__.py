"""``python -m ocr.pipeline``: see ocr.pipeline.cli."""
import sys

from ocr.pipeline.cli import main

sys.exit(main())
