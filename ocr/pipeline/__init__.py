"""Full-page transcription: ``from ocr.pipeline import Pipeline`` and ``python -m ocr.pipeline`` (see
ocr.pipeline.pipeline for the stages and ocr.pipeline.cli for the command line)."""
from ocr.pipeline.cli import main, parse_args
from ocr.pipeline.pipeline import MissingModelError, Pipeline
from ocr.pipeline.results import Line, PageResult, Region, Word

__all__ = ["Line", "MissingModelError", "PageResult", "Pipeline", "Region", "Word", "main", "parse_args"]
