"""Writers for a transcribed page (the result model of ``ocr.pipeline.results``: PageResult -> Region -> Line ->
Word): plain text, JSON, PAGE XML 2019, ALTO v4 and a PNG with the boxes and the recognised text drawn on the page.

Every box here is (x, y, w, h) in integer pixels of the page as it was read (origin top left); confidences are
in [0, 1]. Writers return str or bytes; the CLI writes them atomically (``ocr.core.paths``).
"""
import datetime
import json
from typing import Any

import cv2
import numpy as np
from lxml import etree

from ocr.pipeline.results import Box, PageResult

PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
PAGE_XSD = PAGE_NS + "/pagecontent.xsd"
ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"
ALTO_XSD = "http://www.loc.gov/alto/v4/alto-4-2.xsd"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
CREATOR = "ocr.pipeline (handwriting OCR with MXNet Gluon)"
BOX_UNITS = "boxes are [x, y, width, height] in pixels of the page, origin top left; confidences in [0, 1]"

# Drawing colours (BGR): region blue, lines green, words orange, text dark red on white.
REGION_COLOUR, LINE_COLOUR, WORD_COLOUR, TEXT_COLOUR = (200, 90, 0), (0, 160, 0), (0, 140, 255), (0, 0, 170)


def to_text(result: PageResult) -> str:
    """The page's transcription: one line of text per handwritten line, each ending in a newline ('' if none)."""
    return "".join(line.text + "\n" for line in result.lines)


def to_dict(result: PageResult, file: str | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON-ready dict of a PageResult: file, width, height (pixels), level, decoder, units, text, region (the
    first region's box or None), lines: [{box, text, confidence, words: [{box, text, confidence}]}], every line
    of the page in reading order; then the items of ``extra`` (e.g. page, outputs). Boxes are [x, y, w, h] pixels,
    confidences rounded to 4 decimals."""
    def box(b: Box) -> list[int]:
        return [int(v) for v in b]
    return {
        "file": file, "width": result.width, "height": result.height, "level": result.level,
        "decoder": result.decoder, "units": BOX_UNITS, "text": result.text,
        "region": None if result.region is None else box(result.region),
        "lines": [{"box": box(line.box), "text": line.text, "confidence": round(line.confidence, 4),
                   "words": [{"box": box(word.box), "text": word.text, "confidence": round(word.confidence, 4)}
                             for word in line.words]}
                  for line in result.lines],
        **(extra or {}),
    }


def to_json(result: PageResult, file: str | None = None, indent: int | None = 1,
            extra: dict[str, Any] | None = None) -> str:
    """to_dict as a JSON string (``indent`` None: one line)."""
    return json.dumps(to_dict(result, file, extra), indent=indent, ensure_ascii=False)


def _points(box: Box) -> str:
    """(x, y, w, h) pixels -> PAGE Coords points 'x1,y1 x2,y1 x2,y2 x1,y2' (clockwise from top left)."""
    x, y, w, h = (int(v) for v in box)
    return "%d,%d %d,%d %d,%d %d,%d" % (x, y, x + w, y, x + w, y + h, x, y + h)


def _now() -> str:
    """The current UTC time to the second, ISO 8601."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def _serialise(root: etree._Element) -> str:
    """An XML tree -> its UTF-8 document text with an XML declaration, indented."""
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True).decode("utf-8")


def to_page_xml(result: PageResult, image_filename: str) -> str:
    """PAGE XML (2019-07-15 schema) of a PageResult: a TextRegion per region (ids r1, r2, ...) holding TextLines
    (r1_l1, ...) holding Words (r1_l1_w1, ...), each with Coords (pixels) and TextEquiv (conf, Unicode).
    ``image_filename``: the Page's imageFilename."""
    def sub(parent: etree._Element, tag: str, **attributes: Any) -> etree._Element:
        return etree.SubElement(parent, "{%s}%s" % (PAGE_NS, tag), {k: str(v) for k, v in attributes.items()})

    def text_equiv(parent: etree._Element, text: str, confidence: float | None = None):
        equiv = sub(parent, "TextEquiv", **({} if confidence is None else {"conf": "%.4f" % confidence}))
        sub(equiv, "Unicode").text = text

    root = etree.Element("{%s}PcGts" % PAGE_NS, nsmap={None: PAGE_NS, "xsi": XSI_NS})
    root.set("{%s}schemaLocation" % XSI_NS, "%s %s" % (PAGE_NS, PAGE_XSD))
    metadata = sub(root, "Metadata")
    sub(metadata, "Creator").text = CREATOR
    now = _now()
    sub(metadata, "Created").text = now
    sub(metadata, "LastChange").text = now
    page = sub(root, "Page", imageFilename=image_filename, imageWidth=result.width, imageHeight=result.height)
    for k, region in enumerate(result.regions, 1):
        text_region = sub(page, "TextRegion", id="r%d" % k, type="paragraph")
        sub(text_region, "Coords", points=_points(region.box))
        for i, line in enumerate(region.lines, 1):
            line_id = "r%d_l%d" % (k, i)
            text_line = sub(text_region, "TextLine", id=line_id)
            sub(text_line, "Coords", points=_points(line.box))
            for j, word in enumerate(line.words, 1):
                element = sub(text_line, "Word", id="%s_w%d" % (line_id, j))
                sub(element, "Coords", points=_points(word.box))
                text_equiv(element, word.text, word.confidence)
            text_equiv(text_line, line.text, line.confidence)
        text_equiv(text_region, region.text)
    return _serialise(root)


def to_alto(result: PageResult, image_filename: str) -> str:
    """ALTO v4 of a PageResult (pixel units): Page > PrintSpace > a TextBlock per region (BLOCK_1, ...) > TextLines
    (LINE_1, ... numbered over the page) of Strings (CONTENT, WC = confidence) with SP between them.
    ``image_filename``: the sourceImageInformation fileName."""
    def sub(parent: etree._Element, tag: str, box: Box | None = None, **attributes: Any) -> etree._Element:
        if box is not None:
            attributes.update(zip(("HPOS", "VPOS", "WIDTH", "HEIGHT"), (int(v) for v in box)))
        return etree.SubElement(parent, "{%s}%s" % (ALTO_NS, tag), {k: str(v) for k, v in attributes.items()})

    root = etree.Element("{%s}alto" % ALTO_NS, nsmap={None: ALTO_NS, "xsi": XSI_NS})
    root.set("{%s}schemaLocation" % XSI_NS, "%s %s" % (ALTO_NS, ALTO_XSD))
    description = sub(root, "Description")
    sub(description, "MeasurementUnit").text = "pixel"
    sub(sub(description, "sourceImageInformation"), "fileName").text = image_filename
    step = sub(sub(description, "OCRProcessing", ID="OCR_1"), "ocrProcessingStep")
    sub(step, "processingDateTime").text = _now()
    sub(sub(step, "processingSoftware"), "softwareName").text = CREATOR
    page = sub(sub(root, "Layout"), "Page", ID="PAGE_1", PHYSICAL_IMG_NR=1, WIDTH=result.width,
               HEIGHT=result.height)
    space = sub(page, "PrintSpace", box=(0, 0, result.width, result.height))
    number = 0                              # of the line on the page
    for k, region in enumerate(result.regions, 1):
        block = sub(space, "TextBlock", box=region.box, ID="BLOCK_%d" % k)
        for line in region.lines:
            number += 1
            text_line = sub(block, "TextLine", box=line.box, ID="LINE_%d" % number)
            for j, word in enumerate(line.words, 1):
                if j > 1:
                    previous = line.words[j - 2].box
                    gap = max(0, int(word.box[0]) - int(previous[0] + previous[2]))
                    sub(text_line, "SP", WIDTH=gap, HPOS=int(previous[0] + previous[2]), VPOS=int(line.box[1]))
                sub(text_line, "String", box=word.box, ID="WORD_%d_%d" % (number, j), CONTENT=word.text,
                    WC="%.4f" % word.confidence)
    return _serialise(root)


FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_PX = 22                 # cap height (pixels) of FONT at scale 1
TEXT_PX_PER_SIDE = 1 / 120   # panel text cap height: at least this fraction of the page's longer side ...
MIN_TEXT_PX = 12             # ... and at least this many pixels: 29 px on a 2480x3500 scan, legible at 100% zoom


def _wrap(label: str, scale: float, thickness: int, width: int) -> list[str]:
    """``label`` split at spaces into rows that fit ``width`` pixels at FONT ``scale`` (a word wider than that
    gets a row of its own)."""
    rows = []
    for word in label.split(" "):
        if rows and cv2.getTextSize(rows[-1] + " " + word, FONT, scale, thickness)[0][0] <= width:
            rows[-1] += " " + word
        else:
            rows.append(word)
    return rows


def _panel_rows(labels: list[str], centres: list[float], scale: float, thickness: int,
                width: int) -> tuple[list[tuple[int, list[str]]], int]:
    """Where each label's rows go -> ([(top y of its first row, [rows])], row height), pixels: each label centred on
    its line's centre y when there is room, else just below the one before, so no two overlap."""
    row_px = int(round((FONT_PX + 10) * scale))
    placed, free = [], 0
    for label, centre in zip(labels, centres):
        rows = _wrap(label, scale, thickness, width)
        top = max(int(centre - len(rows) * row_px / 2), free)
        placed.append((top, rows))
        free = top + len(rows) * row_px
    return placed, row_px


def draw_result(page: np.ndarray, result: PageResult, max_side: int = 4000) -> np.ndarray:
    """uint8 gray page (H, W) + its PageResult -> uint8 BGR picture (H', 2 W', 3): on the left the page with the
    region, line and word boxes and each line's number, on the right each line's number and text beside its
    line, in one font size: the lines' height, but never below 1/120 of the page's longer side (legible at 100%
    zoom on a 2480x3500 scan), wrapped to the panel's width. Labels that would overlap move down; when they run
    past the page the picture grows at the bottom (H' > H). Pages larger than ``max_side`` pixels are drawn
    reduced."""
    scale = min(1.0, max_side / max(page.shape[:2]))
    if scale < 1.0:
        page = cv2.resize(page, (max(1, round(page.shape[1] * scale)), max(1, round(page.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
    image = cv2.cvtColor(page, cv2.COLOR_GRAY2BGR)
    thickness = max(1, int(round(max(image.shape[:2]) / 1000)))

    def px(box: Box) -> Box:
        x, y, w, h = (int(round(v * scale)) for v in box)
        return x, y, w, h

    def rectangle(box: Box, colour: tuple[int, int, int], width: int):
        x, y, w, h = px(box)
        cv2.rectangle(image, (x, y), (x + max(w - 1, 0), y + max(h - 1, 0)), colour, width)

    for region in result.regions:
        rectangle(region.box, REGION_COLOUR, 2 * thickness)
    lines = result.lines
    for line in lines:
        for word in line.words:
            rectangle(word.box, WORD_COLOUR, thickness)
        rectangle(line.box, LINE_COLOUR, thickness)
    if not lines:
        return np.hstack([image, np.full_like(image, 255)])
    labels = ["%d  %s" % (i + 1, line.text.encode("ascii", "replace").decode("ascii"))
              for i, line in enumerate(lines)]
    smallest = max(MIN_TEXT_PX, max(image.shape[:2]) * TEXT_PX_PER_SIDE)
    line_px = 0.6 * float(np.median([px(line.box)[3] for line in lines]))
    font_scale = min(max(smallest, line_px), 3 * smallest) / FONT_PX
    font_thickness = max(1, int(round(font_scale * 1.5)))
    centres = [px(line.box)[1] + px(line.box)[3] / 2 for line in lines]
    placed, row_px = _panel_rows(labels, centres, font_scale, font_thickness, image.shape[1] - 20)
    height = max(image.shape[0], placed[-1][0] + len(placed[-1][1]) * row_px)
    image = np.vstack([image, np.full((height - image.shape[0],) + image.shape[1:], 255, np.uint8)])
    panel = np.full_like(image, 255)
    baseline = int(round(FONT_PX * font_scale))
    for i, ((top, rows), centre) in enumerate(zip(placed, centres)):
        for k, row in enumerate(rows):
            cv2.putText(panel, row, (10, top + k * row_px + baseline), FONT, font_scale, TEXT_COLOUR,
                        font_thickness, cv2.LINE_AA)
        x = px(lines[i].box)[0]
        cv2.putText(image, str(i + 1), (max(0, x - int(30 * font_scale)), int(centre + baseline / 2)), FONT,
                    font_scale, LINE_COLOUR, font_thickness, cv2.LINE_AA)
    return np.hstack([image, panel])


def encode_png(image: np.ndarray) -> bytes:
    """uint8 image array (H, W) or (H, W, 3) BGR -> PNG file bytes."""
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("PNG encoding failed for an image of shape %s" % (image.shape,))
    return data.tobytes()
