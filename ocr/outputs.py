"""Writers for a transcribed page (``ocr.pipeline.PageResult``): plain text, JSON, PAGE XML 2019, ALTO v4 and a
PNG with the boxes and the recognised text drawn on the page.

Every box here is (x, y, w, h) in integer pixels of the page as it was read (origin top left); confidences are
in [0, 1]. Writers return str or bytes; the CLI writes them atomically (``ocr.paths``).
"""
import datetime
import json

import cv2
import numpy as np
from lxml import etree

PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
PAGE_XSD = PAGE_NS + "/pagecontent.xsd"
ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"
ALTO_XSD = "http://www.loc.gov/alto/v4/alto-4-2.xsd"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
CREATOR = "ocr.pipeline (handwriting OCR with MXNet Gluon)"
BOX_UNITS = "boxes are [x, y, width, height] in pixels of the page, origin top left; confidences in [0, 1]"

# Drawing colours (BGR): region blue, lines green, words orange, text dark red on white.
REGION_COLOUR, LINE_COLOUR, WORD_COLOUR, TEXT_COLOUR = (200, 90, 0), (0, 160, 0), (0, 140, 255), (0, 0, 170)


def to_text(result):
    """The page's transcription: one line of text per handwritten line, each ending in a newline ('' if none)."""
    return "".join(line.text + "\n" for line in result.lines)


def to_dict(result, file=None):
    """A JSON-ready dict of a PageResult: file, width, height (pixels), level, decoder, units, text, region (box or
    None), lines: [{box, text, confidence, words: [{box, text, confidence}]}] in reading order."""
    def box(b):
        return [int(v) for v in b]
    return {
        "file": file, "width": result.width, "height": result.height, "level": result.level,
        "decoder": result.decoder, "units": BOX_UNITS, "text": result.text,
        "region": None if result.region is None else box(result.region),
        "lines": [{"box": box(line.box), "text": line.text, "confidence": round(line.confidence, 4),
                   "words": [{"box": box(word.box), "text": word.text, "confidence": round(word.confidence, 4)}
                             for word in line.words]}
                  for line in result.lines],
    }


def to_json(result, file=None, indent=1):
    """to_dict as a JSON string (``indent`` None: one line)."""
    return json.dumps(to_dict(result, file), indent=indent, ensure_ascii=False)


def _points(box):
    """(x, y, w, h) pixels -> PAGE Coords points 'x1,y1 x2,y1 x2,y2 x1,y2' (clockwise from top left)."""
    x, y, w, h = (int(v) for v in box)
    return "%d,%d %d,%d %d,%d %d,%d" % (x, y, x + w, y, x + w, y + h, x, y + h)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def _serialise(root):
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True).decode("utf-8")


def to_page_xml(result, image_filename):
    """PAGE XML (2019-07-15 schema) of a PageResult: one TextRegion (when a region was found) holding TextLines
    holding Words, each with Coords and TextEquiv (conf, Unicode). ``image_filename``: the Page's imageFilename."""
    def sub(parent, tag, **attributes):
        return etree.SubElement(parent, "{%s}%s" % (PAGE_NS, tag), {k: str(v) for k, v in attributes.items()})

    def text_equiv(parent, text, confidence=None):
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
    if result.region is not None:
        region = sub(page, "TextRegion", id="r1", type="paragraph")
        sub(region, "Coords", points=_points(result.region))
        for i, line in enumerate(result.lines, 1):
            text_line = sub(region, "TextLine", id="r1_l%d" % i)
            sub(text_line, "Coords", points=_points(line.box))
            for j, word in enumerate(line.words, 1):
                element = sub(text_line, "Word", id="r1_l%d_w%d" % (i, j))
                sub(element, "Coords", points=_points(word.box))
                text_equiv(element, word.text, word.confidence)
            text_equiv(text_line, line.text, line.confidence)
        text_equiv(region, result.text)
    return _serialise(root)


def to_alto(result, image_filename):
    """ALTO v4 of a PageResult (pixel units): Page > PrintSpace > one TextBlock (when a region was found) >
    TextLines of Strings (CONTENT, WC = confidence) with SP between them."""
    def sub(parent, tag, box=None, **attributes):
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
    if result.region is not None:
        block = sub(space, "TextBlock", box=result.region, ID="BLOCK_1")
        for i, line in enumerate(result.lines, 1):
            text_line = sub(block, "TextLine", box=line.box, ID="LINE_%d" % i)
            for j, word in enumerate(line.words, 1):
                if j > 1:
                    previous = line.words[j - 2].box
                    gap = max(0, int(word.box[0]) - int(previous[0] + previous[2]))
                    sub(text_line, "SP", WIDTH=gap, HPOS=int(previous[0] + previous[2]), VPOS=int(line.box[1]))
                sub(text_line, "String", box=word.box, ID="WORD_%d_%d" % (i, j), CONTENT=word.text,
                    WC="%.4f" % word.confidence)
    return _serialise(root)


def _fit_font_scale(texts, width, height):
    """Largest HERSHEY_SIMPLEX scale (0.3..3) at which every text fits ``width`` pixels and ``height`` pixels."""
    scale = 3.0
    for text in texts:
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 2)
        scale = min(scale, width / max(tw, 1), height / max(th + base, 1))
    return max(0.3, scale)


def draw_result(page, result, max_side=4000):
    """uint8 gray page (H, W) + its PageResult -> uint8 BGR picture (H', 2 W', 3): on the left the page with the
    region, line and word boxes and each line's number, on the right each line's number and text at the height
    of its line, in one font size. Pages larger than ``max_side`` pixels are drawn reduced."""
    scale = min(1.0, max_side / max(page.shape[:2]))
    if scale < 1.0:
        page = cv2.resize(page, (max(1, round(page.shape[1] * scale)), max(1, round(page.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
    image = cv2.cvtColor(page, cv2.COLOR_GRAY2BGR)
    panel = np.full_like(image, 255)
    thickness = max(1, int(round(max(image.shape[:2]) / 1000)))

    def px(box):
        x, y, w, h = (int(round(v * scale)) for v in box)
        return x, y, w, h

    def rectangle(box, colour, width):
        x, y, w, h = px(box)
        cv2.rectangle(image, (x, y), (x + max(w - 1, 0), y + max(h - 1, 0)), colour, width)

    if result.region is not None:
        rectangle(result.region, REGION_COLOUR, 2 * thickness)
    for line in result.lines:
        for word in line.words:
            rectangle(word.box, WORD_COLOUR, thickness)
        rectangle(line.box, LINE_COLOUR, thickness)
    if not result.lines:
        return np.hstack([image, panel])
    labels = ["%d  %s" % (i + 1, line.text.encode("ascii", "replace").decode("ascii"))
              for i, line in enumerate(result.lines)]
    pitch = min([px(b.box)[3] for b in result.lines] +
                [abs(px(b.box)[1] - px(a.box)[1]) for a, b in zip(result.lines, result.lines[1:])] or [40])
    font_scale = _fit_font_scale(labels, panel.shape[1] - 20, 0.8 * max(pitch, 12))
    font_thickness = max(1, int(round(font_scale * 1.5)))
    for i, (line, label) in enumerate(zip(result.lines, labels)):
        x, y, w, h = px(line.box)
        (_, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, font_thickness)
        cv2.putText(panel, label, (10, y + (h + th) // 2), cv2.FONT_HERSHEY_SIMPLEX, font_scale, TEXT_COLOUR,
                    font_thickness, cv2.LINE_AA)
        cv2.putText(image, str(i + 1), (max(0, x - int(30 * font_scale)), y + (h + th) // 2),
                    cv2.FONT_HERSHEY_SIMPLEX, font_scale, LINE_COLOUR, font_thickness, cv2.LINE_AA)
    return np.hstack([image, panel])


def encode_png(image):
    """uint8 image array (H, W) or (H, W, 3) BGR -> PNG file bytes."""
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("PNG encoding failed for an image of shape %s" % (image.shape,))
    return data.tobytes()
