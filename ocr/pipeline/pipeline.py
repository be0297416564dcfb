"""Full-page handwriting transcription: the ``Pipeline`` class (its command line is ocr.pipeline.cli).

    from ocr.pipeline import Pipeline
    pipeline = Pipeline.load()                             # shipped models, beam search with the character LM
    result = pipeline.transcribe("page.png")            # or a numpy image; level="auto" | "page" | ...
    print(result.text)                                  # result.regions[k].box / .lines; result.lines[i].words

Stages: gray, polarity + illumination normalisation -> upright, deskewed, margins (``ocr.pipeline.preprocess``; a blank or
all-dark image stops here with no region and no lines) -> paragraph box (``ocr.paragraph.predictor``) -> region crop -> word
boxes (``ocr.words.predictor``) -> lines in reading order (``ocr.words.layout``) -> line recogniser (``ocr.recognition.predictor``) ->
decoder (``ocr.decode``). ``level`` says what the image is: 'page' (a printed form: all stages), 'region' (a block
of handwriting: no paragraph stage), 'line' or 'word' (the recogniser only; a word is read at several sizes and
the reading the sizes agree on kept), or 'auto' (the default: decided from the image,
``ocr.pipeline.preprocess.detect_level``; the result's ``level`` says which). Every box in a result is (x, y, w, h)
in integer pixels of the image as given.
"""
import functools
import os

import numpy as np

from ocr.core.geometry import box_to_xywh_px, expand_box
from ocr.core.images import read_image, to_gray
from ocr.core.ink import normalise_illumination
from ocr.core.paths import MODELS_DIR
from ocr.decode import get_decoder, load_lm
from ocr.decode.lm import DEFAULT_LM_PATH
from ocr.paragraph.predictor import ParagraphSegmenter
from ocr.pipeline import preprocess
from ocr.pipeline.results import Line, PageResult, Region, Word
from ocr.pipeline.word_boxes import aligned_word_boxes
from ocr.recognition.predictor import Recognizer, agreed_reading, character_tops
from ocr.words.layout import group_words_into_lines
from ocr.words.predictor import WordDetector


LEVELS = ("auto",) + preprocess.LEVELS      # auto: decided from the image (preprocess.detect_level)
DEFAULT_DECODER = "beam"
# A line-level image the reader reads with at most this many spaces is a long word or two, read again as a word
# (Pipeline._read_word): a word alone does not show how tall its letters are. On validation word crops taken for
# lines (too wide for few_words), greedy CER: synth_v2 25.9 -> 1.2% (7 words), rendered IAM-OnDB 9.3 -> 9.3% (8).
LONG_WORD_SPACES = 1
# stage -> (model file stem in the models folder, what it is, the levels that need it)
STAGES = {
    "paragraph": ("paragraph_segmentation", "paragraph segmentation", ("auto", "page")),
    "detector": ("word_segmentation", "word detector", ("auto", "page", "region")),
    "recognizer": ("handwriting_line", "line recogniser", LEVELS),
}


class MissingModelError(FileNotFoundError):
    """A model the requested level needs is not in the models folder; the message is one line naming it."""


def _to_page(box, frame):
    """(x, y, w, h) fractions of the image at ``frame`` = (x, y, w, h) page pixels -> (x, y, w, h) page pixels."""
    x, y, w, h = box_to_xywh_px(box, (frame[3], frame[2]))
    return frame[0] + x, frame[1] + y, w, h


def _check_level(level):
    if level not in LEVELS:
        raise ValueError("unknown level %r (choose from %s)" % (level, ", ".join(LEVELS)))


def make_decoder(name):
    """A decoder name -> ``f(probs T x C) -> Decoded`` (ocr.decode); 'beam' uses the shipped character LM."""
    return get_decoder(name, lm="default") if name == "beam" else get_decoder(name)


class Pipeline:
    """The chained stages. ``paragraph`` (ParagraphSegmenter) and ``detector`` (WordDetector) may be None when the
    levels used do not need them; ``recognizer`` (Recognizer); ``decode`` (probs T x C -> Decoded) and its name
    ``decoder``; ``normalise``: apply ocr.core.ink.normalise_illumination; ``batch_size``: lines per recogniser batch."""

    def __init__(self, recognizer, decode, decoder="custom", detector=None, paragraph=None, normalise=True,
                 batch_size=16):
        self.recognizer, self.decode, self.decoder = recognizer, decode, decoder
        self.detector, self.paragraph = detector, paragraph
        self.normalise, self.batch_size = normalise, batch_size
        self._word_lm = None

    @classmethod
    def load(cls, decoder=DEFAULT_DECODER, ctx=None, level="auto", models_dir=MODELS_DIR, recognizer=None,
             engine="mxnet", widths=False, **options):
        """Load, once, the models ``level`` needs (auto, page: all three; region: detector + recogniser; line,
        word: recogniser) from ``models_dir`` on ``ctx`` (default CPU); ``recognizer``: a recogniser name or path to
        use instead of the one in ``models_dir``. ``decoder``: a name of ocr.decode.DECODERS or a callable probs -> Decoded.
        ``engine``: what runs the nets, one of ocr.core.loading.ENGINES (the command line's default on the CPU is
        onnx-int8, this API's mxnet). ``widths``: a line the recogniser is unsure of is read at each of its card's
        stretches too, the readings voting (Recognizer.read_lines); without, each line is read once. ``options``:
        normalise, batch_size. Raises MissingModelError naming a missing model."""
        _check_level(level)
        loaders = {"paragraph": ParagraphSegmenter.load, "detector": WordDetector.load,
                   "recognizer": functools.partial(Recognizer.load, widths=widths)}
        models = {}
        for stage, (stem, what, levels) in STAGES.items():
            if level not in levels:
                continue
            if stage == "recognizer" and recognizer:
                models[stage] = Recognizer.load(recognizer, ctx=ctx, engine=engine, widths=widths)
                continue
            path = os.path.join(models_dir, stem)
            missing = [path + ext for ext in (".params", ".json") if not os.path.isfile(path + ext)]
            if missing:
                raise MissingModelError("missing %s model %s (needed for level '%s')"
                                        % (what, " and ".join(missing), level))
            models[stage] = loaders[stage](path, ctx=ctx, engine=engine)
        decode = decoder if callable(decoder) else make_decoder(decoder)
        name = decoder if isinstance(decoder, str) else getattr(decoder, "__name__", "custom")
        return cls(models["recognizer"], decode, name, models.get("detector"), models.get("paragraph"), **options)

    def _require(self, level):
        _check_level(level)
        for stage, (stem, what, levels) in STAGES.items():
            if level in levels and getattr(self, stage) is None:
                raise MissingModelError("no %s model loaded (%s), needed for level '%s'" % (what, stem, level))

    def prepare(self, image):
        """A file path or any image array -> uint8 gray page (H, W), dark ink on light paper (preprocess.fix_polarity),
        illumination normalised when ``normalise``."""
        gray = read_image(image) if isinstance(image, (str, os.PathLike)) else to_gray(image)
        gray, _ = preprocess.fix_polarity(gray)
        return normalise_illumination(gray) if self.normalise else gray

    def reading_confidence(self, crops):
        """Line crops (uint8 arrays) -> the recogniser's mean top probability over the time steps it reads a
        character at (not the blank), over all crops; 0 when it reads nothing. Upright text scores higher than the
        same text upside down."""
        tops = np.concatenate([character_tops(probs) for _, probs in self.recognizer.recognize(crops, self.batch_size)])
        return float(tops.mean()) if len(tops) else 0.0

    def prepare_page(self, image, level="auto"):
        """A file path or any image array -> preprocess.Prepared: gray, polarity, illumination (prepare), then
        upright (the recogniser tells upright from upside down), deskewed, the level decided when 'auto', margins
        and size for lines and words; its ``box_to_source`` maps boxes back to the image as given."""
        _check_level(level)
        return preprocess.normalise_page(self.prepare(image), level, confidence=self.reading_confidence)

    def layout(self, page, level="page"):
        """uint8 gray page (H, W) -> (region, lines): region (x, y, w, h) page pixels or None when the paragraph
        stage finds no block; lines in reading order as (line box, [word boxes]), all (x, y, w, h) page pixels: the
        detected words grouped along the text bands of the region's ink (ocr.words.layout, preprocess.line_bands); printed
        rules in the region are erased first (preprocess.erase_rules). ``level``: page, region, line or word (a line
        or word is one line, the whole image; 'auto' is decided by prepare_page first)."""
        region, lines, _ = self._layout(page, level)
        return region, lines

    def _layout(self, page, level):
        """layout, and the page its lines are to be read from: rules erased (preprocess.erase_rules) in the region
        (page, region) or in the whole image (line, word)."""
        if level == "auto":
            raise ValueError("layout needs a decided level (page, region, line or word): see prepare_page")
        self._require(level)
        height, width = page.shape[:2]
        if level in ("line", "word"):
            return (0, 0, width, height), [((0, 0, width, height), [])], preprocess.erase_rules(page)
        region = (0, 0, width, height)
        if level == "page":
            x, y, w, h = box_to_xywh_px(self.paragraph.predict(page), page.shape)     # whole pixels, as cropped
            if w == 0 or h == 0:
                return None, [], page
            growth = self.paragraph.region_growth
            grown = expand_box((x / width, y / height, w / width, h / height), growth, growth)
            region = _to_page(grown, region)          # as ocr.core.geometry.crop_region, keeping the offset
        rx, ry, rw, rh = region
        given = page[ry:ry + rh, rx:rx + rw]
        crop, mask = preprocess.erase_rules_and_mask(given)
        if crop is not given:                         # rules erased: the lines are read without them too
            page = page.copy()
            page[ry:ry + rh, rx:rx + rw] = crop
        word_boxes, _ = self.detector.predict(crop)
        bands = np.array(preprocess.line_bands(mask), dtype=np.float64).reshape(-1, 4) / rh
        lines = []
        for line in group_words_into_lines(word_boxes, bands=bands):
            box = _to_page(line.box, region)
            if box[2] > 0 and box[3] > 0:
                lines.append((box, [_to_page(word_boxes[i], region) for i in line.word_indices]))
        return region, lines, page

    def _recognise(self, page, lines, level):
        """[(text, probs, (H, W) of the image read)] of the line crops of ``page`` (_layout's, rules erased) at the
        ``lines`` boxes. A word, or a line that is a word or a few (preprocess.few_words: a long word, or one with a
        gap between its letters), is read at several sizes (_read_word); so is a line the reader reads as one or two
        words (LONG_WORD_SPACES). Other lines: Recognizer.read_lines."""
        crops = [page[y:y + h, x:x + w] for (x, y, w, h), _ in lines]
        if level == "word" or (level == "line" and crops and preprocess.few_words(preprocess.ink_mask(crops[0]))):
            return [self._read_word(crop) for crop in crops]
        readings = self.recognizer.read_lines(crops, self.batch_size)
        if level == "line" and readings and readings[0][0].strip().count(" ") <= LONG_WORD_SPACES:
            return [self._read_word(crops[0])]
        return readings

    def _read_word(self, crop):
        """(text, probs, (H, W) read) of a word crop: of its preprocess.word_sizes, the reading the sizes agree on
        (agreed_reading), helped by the character LM as the recogniser's card says (word_text_prior). Each size
        keeps the crop's columns, so its probs map to the crop's x as a line's do."""
        sizes = preprocess.word_sizes(crop)
        readings = self.recognizer.recognize(sizes, self.batch_size)
        best = agreed_reading(readings, prior=self.word_text_prior())
        return (*readings[best], sizes[best].shape)

    def word_text_prior(self):
        """``text -> weighted log-probability`` of a lone word's text under the shipped character LM (as a word
        between spaces), weighted by the recogniser card's ``input.word_lm_weight``; None when that is 0 or no LM
        is shipped. A word alone does not show its neighbours' letters: 'With' or 'with', 'ham' or 'him'. The LM
        is loaded at the first word."""
        weight = self.recognizer.card.input.word_lm_weight
        if weight and self._word_lm is None and os.path.exists(DEFAULT_LM_PATH):
            self._word_lm = load_lm("default")
        if not weight or self._word_lm is None:
            return None
        lm = self._word_lm
        return lambda text: weight * lm.score(text + " ", " ")

    def transcribe_lines(self, page, level="auto"):
        """Any page image (see prepare_page) -> [(greedy text, probs T x C float32 softmax)] per line in reading order,
        like ``Recognizer.recognize`` (what ``ocr.evaluate`` decodes); none for a blank page."""
        prepared = self.prepare_page(page, level)
        if prepared.blank:
            return []
        _, lines, source = self._layout(prepared.image, prepared.level)
        return [(text, probs) for text, probs, _ in self._recognise(source, lines, prepared.level)]

    def transcribe(self, image: str | os.PathLike | np.ndarray, level: str = "auto") -> PageResult:
        """A file path or any image array -> PageResult (boxes in pixels of the image as given; see the module doc)
        holding one Region, the area transcribed, with its lines in reading order. A blank or all-dark image, or a
        page where the paragraph stage finds no handwriting, gives no region.

        Words take the detected word boxes of their line when the decoded text has as many words as were detected
        there, else boxes from the CTC alignment (aligned_word_boxes)."""
        prepared = self.prepare_page(image, level)
        height, width = prepared.source_shape
        result = PageResult(width, height, prepared.level, self.decoder)
        if prepared.blank:
            return result
        page, to_source = prepared.image, prepared.box_to_source
        region, lines, source = self._layout(page, prepared.level)
        if region is None:
            return result
        transcribed = Region(to_source(region))
        result.regions.append(transcribed)
        for (box, detected), (_, probs, shape_read) in zip(lines, self._recognise(source, lines, prepared.level)):
            decoded = self.decode(probs)
            if not decoded.text.strip():
                continue
            words = decoded.word_confidences
            if len(detected) == len(words):
                word_boxes = detected
            else:
                content = self.recognizer.content_span(shape_read, len(probs))
                word_boxes = aligned_word_boxes(decoded.text, probs, box, content, decoded.path)
            transcribed.lines.append(Line(decoded.text.strip(), to_source(box), decoded.confidence,
                                          [Word(text, to_source(b), confidence)
                                           for (text, confidence), b in zip(words, word_boxes)]))
        return result
