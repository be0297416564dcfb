"""The result model every output writer takes: a transcribed page, its lines and words."""
from dataclasses import dataclass, field


@dataclass
class Word:
    """A recognised word: ``text``, ``box`` (x, y, w, h) page pixels, ``confidence`` in [0, 1]."""
    text: str
    box: tuple
    confidence: float


@dataclass
class Line:
    """A recognised line: ``text``, ``box`` (x, y, w, h) page pixels, ``confidence`` in [0, 1], ``words``."""
    text: str
    box: tuple
    confidence: float
    words: list = field(default_factory=list)


@dataclass
class PageResult:
    """One transcribed image: ``width``, ``height`` (pixels), ``level``, ``decoder`` (name), ``region``: the area
    transcribed (x, y, w, h) page pixels, None when the paragraph stage found no handwriting; ``lines`` in reading
    order (lines decoded to nothing are left out)."""
    width: int
    height: int
    level: str
    decoder: str
    region: tuple = None
    lines: list = field(default_factory=list)

    @property
    def text(self):
        """The transcription, one line of text per handwritten line, joined by newlines."""
        return "\n".join(line.text for line in self.lines)
