"""The result model every output writer takes: a transcribed page holds regions, a region holds lines, a line
holds words (Page -> Region -> Line -> Word).

Every box is (x, y, w, h) in integer pixels of the image as given to the pipeline (origin top left); every
confidence is in [0, 1].
"""
from dataclasses import dataclass, field

Box = tuple[int, int, int, int]     # (x, y, w, h) pixels of the page, origin top left


@dataclass
class Word:
    """A recognised word: ``text``, ``box`` (x, y, w, h) page pixels, ``confidence`` in [0, 1]."""
    text: str
    box: Box
    confidence: float


@dataclass
class Line:
    """A recognised line: ``text``, ``box`` (x, y, w, h) page pixels, ``confidence`` in [0, 1], its ``words`` left
    to right."""
    text: str
    box: Box
    confidence: float
    words: list[Word] = field(default_factory=list)


@dataclass
class Region:
    """A block of handwriting: ``box`` (x, y, w, h) page pixels, the area transcribed, and its ``lines`` in reading
    order (lines decoded to nothing are left out; a region may have none)."""
    box: Box
    lines: list[Line] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The region's transcription, one line of text per handwritten line, joined by newlines."""
        return "\n".join(line.text for line in self.lines)


@dataclass
class PageResult:
    """One transcribed image: ``width``, ``height`` (pixels), ``level`` (page, region, line or word: what the image
    was read as), ``decoder`` (name) and its ``regions`` in reading order (none when the image is blank or the
    paragraph stage found no handwriting)."""
    width: int
    height: int
    level: str
    decoder: str
    regions: list[Region] = field(default_factory=list)

    @property
    def region(self) -> Box | None:
        """The first region's box (x, y, w, h) page pixels, None when there is no region."""
        return self.regions[0].box if self.regions else None

    @property
    def lines(self) -> list[Line]:
        """Every line of the page in reading order (the regions' lines one region after the other); a new list."""
        return [line for region in self.regions for line in region.lines]

    @property
    def text(self) -> str:
        """The transcription, one line of text per handwritten line, joined by newlines."""
        return "\n".join(line.text for line in self.lines)
