"""IAMDataset: the IAM Handwriting Database (or a synthetic tree in the same layout) read from a local folder.

Expected layout (as IAM distributes it; the reference's singular folder names are accepted too)::

    ROOT/forms/<form id>.png                      page images (formsA-D.tgz, formsE-H.tgz, formsI-Z.tgz)
    ROOT/lines/n04/n04-361/n04-361-00.png       line images (lines.tgz)
    ROOT/words/n04/n04-361/n04-361-00-00.png    word images (words.tgz)
    ROOT/xml/<form id>.xml                        transcriptions and geometry (xml.tgz): the only text source
    ROOT/trainset.txt, validationset1.txt, validationset2.txt, testset.txt
                                                  writer-independent line split lists (also found under
                                                  ROOT/task/, ROOT/subject/ or
                                                  ROOT/largeWriterIndependentTextLineRecognitionTask/)

Text and boxes come from the xml: an element's box is the union of its ``<cmp>`` boxes; entities are
un-escaped once, here. Images are streamed from disk; processed (fitted/cropped) images and the parsed xml
index are cached on disk so a second pass is fast. The cache is keyed by the xml files' names and modification
times: a regenerated tree gets a fresh cache (replacing images alone, keeping the xml, needs cache=False).
"""
import hashlib
import html
import json
import os
import shutil
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np
from lxml import etree
from mxnet.gluon.data import Dataset

from ocr.core.geometry import FORM_BB_EXPAND, FORM_SIZE, LINE_SIZE, REGION_SIZE, WORD_SIZE
from ocr.core.geometry import box_to_px, crop_image, expand_box, fit_geometry, resize_image, union_box_px
from ocr.core.paths import CACHE_DIR, atomic_write_bytes, atomic_write_text

PARSE_METHODS = ("form", "form_original", "form_bb", "line", "word")
SPLITS = ("train", "trainset", "validation", "test", "all")
SPLIT_FILES = {"trainset": ("trainset.txt",), "validation": ("validationset1.txt", "validationset2.txt"),
               "test": ("testset.txt",)}
SPLIT_DIRS = ("", "task", "subject", "largeWriterIndependentTextLineRecognitionTask")
INDEX_VERSION = 1
FITTED_SIZES = {"form": FORM_SIZE, "form_bb": REGION_SIZE, "line": LINE_SIZE, "word": WORD_SIZE}   # (H, W)


class IAMNotFoundError(FileNotFoundError):
    """Raised when a folder does not hold an IAM-format tree; the message says what to put where."""


@dataclass
class Word:
    """One word of a form's xml: ``id`` (e.g. n04-361-00-00), ``text``, ``box_px`` = (x, y, w, h) in page pixels
    (the union of its <cmp> boxes; None when the word has no <cmp>)."""
    id: str
    text: str
    box_px: tuple[float, float, float, float] | None = None


@dataclass
class Line:
    """One line of a form's xml: ``id`` (e.g. n04-361-00), ``text``, ``box_px`` = (x, y, w, h) in page pixels (the
    union of its words' boxes; None when none has one) and its ``words``."""
    id: str
    text: str
    box_px: tuple[float, float, float, float] | None = None
    words: list[Word] = field(default_factory=list)


@dataclass
class Form:
    """One form's xml: ``id`` (e.g. n04-361), ``writer`` id, page ``width`` x ``height`` in pixels, its ``lines``."""
    id: str
    writer: str
    width: int
    height: int
    lines: list[Line] = field(default_factory=list)

    @property
    def text(self) -> str:
        """All line texts of the form, one per row (no trailing newline)."""
        return "\n".join(line.text for line in self.lines)

    @property
    def box_px(self) -> tuple[float, float, float, float] | None:
        """The handwritten block: union of all line boxes, (x, y, w, h) page pixels."""
        boxes = [line.box_px for line in self.lines if line.box_px is not None]
        return union_box_px(boxes) if boxes else None


def unescape(text: str) -> str:
    """IAM text attributes may keep entity spellings (&quot; &amp; &apos;) after xml parsing: resolve them once."""
    return html.unescape(text) if "&" in text else text


def parse_form_xml(path: str) -> Form:
    """Parse one IAM form xml file into a Form (boxes in page pixels, text un-escaped)."""
    root = etree.parse(path).getroot()
    form = Form(id=root.get("id"), writer=root.get("writer-id", ""),
                width=int(root.get("width")), height=int(root.get("height")))
    for line_el in root.iter("line"):
        line = Line(id=line_el.get("id"), text=unescape(line_el.get("text", "")))
        for word_el in line_el.iter("word"):
            cmps = [[float(c.get(k)) for k in ("x", "y", "width", "height")] for c in word_el.iter("cmp")]
            line.words.append(Word(id=word_el.get("id"), text=unescape(word_el.get("text", "")),
                                   box_px=union_box_px(cmps) if cmps else None))
        word_boxes = [w.box_px for w in line.words if w.box_px is not None]
        line.box_px = union_box_px(word_boxes) if word_boxes else None
        form.lines.append(line)
    return form


def read_split_list(path: str) -> list[str]:
    """Ids listed in a split file, one per row; every row counts (the reference dropped the first)."""
    with open(path, encoding="utf-8") as f:
        return [row.strip() for row in f if row.strip() and not row.startswith("#")]


def _first_dir(root, names):
    for name in names:
        if os.path.isdir(os.path.join(root, name)):
            return os.path.join(root, name)
    return None


def _read_image(path):
    image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise IOError("cannot read image %s" % path)
    return image


class IAMTree:
    """The folders of one IAM-format tree and its parsed xml index (cached on disk)."""

    def __init__(self, root: str | os.PathLike, cache_dir: str | None = None) -> None:
        self.root = os.path.abspath(os.path.expanduser(str(root)))
        self.xml_dir = _first_dir(self.root, ["xml"])
        if self.xml_dir is None:
            raise IAMNotFoundError(
                "no IAM database at %s: put the xml files in %s/xml/, page images in forms/, line images in "
                "lines/, word images in words/ and trainset.txt, validationset1.txt, validationset2.txt and "
                "testset.txt in %s/" % (self.root, self.root, self.root))
        self.forms_dir = _first_dir(self.root, ["forms", "form"])
        self.lines_dir = _first_dir(self.root, ["lines", "line"])
        self.words_dir = _first_dir(self.root, ["words", "word"])
        self.cache_dir = cache_dir or os.path.join(
            CACHE_DIR, "iam-" + hashlib.sha1(self.root.encode()).hexdigest()[:12])
        self.forms, self.stamp = self._load_index()
        self.split_of_line = self._load_splits()

    def _load_index(self):
        xml_files = sorted(f for f in os.listdir(self.xml_dir) if f.endswith(".xml"))
        if not xml_files:
            raise IAMNotFoundError("no IAM database at %s: %s holds no .xml files" % (self.root, self.xml_dir))
        stamp = hashlib.sha1(json.dumps([INDEX_VERSION] + [
            (f, os.stat(os.path.join(self.xml_dir, f)).st_mtime_ns) for f in xml_files]).encode()).hexdigest()
        index_path = os.path.join(self.cache_dir, "index.json")
        if os.path.exists(index_path):
            with open(index_path, encoding="utf-8") as f:
                cached = json.load(f)
            if cached.get("stamp") == stamp:
                return [_form_from_dict(d) for d in cached["forms"]], stamp
        forms = [parse_form_xml(os.path.join(self.xml_dir, f)) for f in xml_files]
        if os.path.isdir(self.cache_dir):   # images cached for an older version of the tree are stale
            for entry in os.listdir(self.cache_dir):
                if os.path.isdir(os.path.join(self.cache_dir, entry)):
                    shutil.rmtree(os.path.join(self.cache_dir, entry), ignore_errors=True)
        atomic_write_text(index_path, json.dumps({"stamp": stamp, "forms": [asdict(f) for f in forms]}))
        return forms, stamp

    def _load_splits(self):
        split_of_line = {}
        for split, names in SPLIT_FILES.items():
            for name in names:
                path = next((os.path.join(self.root, d, name) for d in SPLIT_DIRS
                             if os.path.exists(os.path.join(self.root, d, name))), None)
                if path is None:
                    raise IAMNotFoundError("no IAM split list %s under %s: put trainset.txt, validationset1.txt, "
                                           "validationset2.txt and testset.txt in %s/" % (name, self.root, self.root))
                for line_id in read_split_list(path):
                    split_of_line[line_id] = split
        return split_of_line

    def in_split(self, line_id: str, split: str) -> bool:
        """True when a line id belongs to ``split`` (train = trainset + validation, as the reference)."""
        member = self.split_of_line.get(line_id)
        if split == "all":
            return True
        if split == "train":
            return member in ("trainset", "validation")
        return member == split

    def line_image_path(self, item_id: str, words: bool = False) -> str:
        """Path of a line (or word) image: <lines|words>/<n04>/<n04-361>/<id>.png."""
        parts = item_id.split("-")
        folder = self.words_dir if words else self.lines_dir
        if folder is None:
            raise IAMNotFoundError("no %s/ folder in %s" % ("words" if words else "lines", self.root))
        return os.path.join(folder, parts[0], parts[0] + "-" + parts[1], item_id + ".png")

    def form_image_path(self, form_id: str) -> str:
        """Path of a page image: forms/<form id>.png."""
        if self.forms_dir is None:
            raise IAMNotFoundError("no forms/ folder with page images in %s" % self.root)
        return os.path.join(self.forms_dir, form_id + ".png")


def _form_from_dict(d):
    lines = [Line(id=ln["id"], text=ln["text"], box_px=tuple(ln["box_px"]) if ln["box_px"] else None,
                  words=[Word(id=w["id"], text=w["text"], box_px=tuple(w["box_px"]) if w["box_px"] else None)
                         for w in ln["words"]])
             for ln in d["lines"]]
    return Form(id=d["id"], writer=d["writer"], width=d["width"], height=d["height"], lines=lines)


class IAMDataset(Dataset):
    """Items ``(image, output)`` from a local IAM-format tree.

    parse_method:
      * ``form``: page fitted into FORM_SIZE (1120x800); ``form_original``: page at its own resolution;
      * ``form_bb``: the handwritten block (its box grown by 5%) cropped from the page and fitted into
        REGION_SIZE (700x700);
      * ``line`` / ``word``: the line / word image fitted into LINE_SIZE (60x1200; the reference used 60x800) /
        WORD_SIZE (30x140).
    Images are uint8 gray (H, W), ink dark. output_data ``text`` gives a str (forms: lines joined by newlines);
    ``bb`` (form methods only) gives a float32 (n, 4) array of (x, y, w, h) boxes of the ``output_parse_method``
    elements (form | line | word) as fractions of the returned image (letterbox padding accounted for).
    Split: ``train`` = trainset + validationset1 + validationset2 (as the reference), ``trainset``,
    ``validation`` = validationset1 + validationset2, ``test``, ``all``; ``split`` overrides ``train``.
    """

    def __init__(self, root: str | os.PathLike, parse_method: str, train: bool = True, output_data: str = "text",
                 output_parse_method: str | None = None, split: str | None = None, cache: bool = True,
                 cache_dir: str | None = None) -> None:
        if parse_method not in PARSE_METHODS:
            raise ValueError("parse_method must be one of %s, not %r" % (PARSE_METHODS, parse_method))
        split = split or ("train" if train else "test")
        if split not in SPLITS:
            raise ValueError("split must be one of %s, not %r" % (SPLITS, split))
        if output_data not in ("text", "bb"):
            raise ValueError("output_data must be 'text' or 'bb', not %r" % output_data)
        if output_data == "bb":
            if not parse_method.startswith("form"):
                raise ValueError("output_data='bb' needs a form parse_method, not %r" % parse_method)
            if output_parse_method not in ("form", "line", "word"):
                raise ValueError("output_data='bb' needs output_parse_method form, line or word")
        self.tree = IAMTree(root, cache_dir)
        self.parse_method, self.output_data, self.output_parse_method = parse_method, output_data, output_parse_method
        self.split, self.cache = split, cache
        self._items = self._select_items()

    def _select_items(self):
        tree, split = self.tree, self.split
        if self.parse_method == "line":
            return [(ln.id, ln.text) for form in tree.forms for ln in form.lines if tree.in_split(ln.id, split)]
        if self.parse_method == "word":
            return [(w.id, w.text) for form in tree.forms for ln in form.lines if tree.in_split(ln.id, split)
                    for w in ln.words if w.box_px is not None]
        return [(form, form.text) for form in tree.forms
                if any(tree.in_split(ln.id, split) for ln in form.lines)
                and (self.parse_method != "form_bb" or form.box_px is not None)]   # a crop needs ink boxes

    def __len__(self) -> int:
        return len(self._items)

    def text(self, index: int) -> str:
        """The transcription of item ``index`` without reading its image (forms: lines joined by newlines)."""
        return self._items[index][1]

    def item_id(self, index: int) -> str:
        """The IAM id (form, line or word id) of item ``index``."""
        item = self._items[index][0]
        return item.id if isinstance(item, Form) else item

    def original_image(self, index: int) -> np.ndarray:
        """Item ``index``'s image as stored in the tree, at its own size: uint8 gray (H, W), ink dark (the line or
        word PNG, or the form page). What a recogniser with an input size of its own should fit, once."""
        item = self._items[index][0]
        if self.parse_method in ("line", "word"):
            return _read_image(self.tree.line_image_path(item, words=self.parse_method == "word"))
        return _read_image(self.tree.form_image_path(item.id))

    def __getitem__(self, index: int) -> tuple[np.ndarray, str | np.ndarray]:
        item, text = self._items[index]
        if self.parse_method == "form_original":
            image = self.original_image(index)
        else:
            def fit():
                image = self.original_image(index)
                if self.parse_method == "form_bb":
                    image = crop_image(image, self._region_box(item))
                return resize_image(image, FITTED_SIZES[self.parse_method])[0]
            image = self._cached(self.item_id(index), fit)
        if self.output_data == "text":          # always for lines and words: 'bb' needs a form parse_method
            return image, text
        return image, self._boxes(item)

    def _region_box(self, form):
        """form_bb crop: the handwritten block grown by FORM_BB_EXPAND, fractions of the page."""
        x, y, w, h = form.box_px
        return expand_box((x / form.width, y / form.height, w / form.width, h / form.height),
                          FORM_BB_EXPAND, FORM_BB_EXPAND)

    def _boxes(self, form):
        """Boxes of the output elements as fractions of the image this item returns."""
        if self.output_parse_method == "form":
            px = [form.box_px] if form.box_px is not None else []
        elif self.output_parse_method == "line":
            px = [ln.box_px for ln in form.lines if ln.box_px is not None]
        else:
            px = [w.box_px for ln in form.lines for w in ln.words if w.box_px is not None]
        px = np.array(px, dtype=np.float64).reshape(-1, 4)
        if self.parse_method == "form_original":
            return (px / [form.width, form.height, form.width, form.height]).astype(np.float32)
        if self.parse_method == "form":
            size, (x1, y1, x2, y2) = FORM_SIZE, (0, 0, form.width, form.height)
        else:
            size, (x1, y1, x2, y2) = REGION_SIZE, box_to_px(self._region_box(form), (form.height, form.width))
        crop_w, crop_h = x2 - x1, y2 - y1
        relative = (px - [x1, y1, 0, 0]) / [crop_w, crop_h, crop_w, crop_h]
        left, top, new_w, new_h = fit_geometry((crop_h, crop_w), size)
        scale = [new_w / size[1], new_h / size[0]] * 2
        return (relative * scale + [left / size[1], top / size[0], 0, 0]).astype(np.float32)

    def _cached(self, key, compute):
        """The processed image for ``key``, from the on-disk cache (PNG) or computed and stored there."""
        if not self.cache:
            return compute()
        folder = "%s_%dx%d" % ((self.parse_method,) + FITTED_SIZES[self.parse_method])   # new size: no stale images
        path = os.path.join(self.tree.cache_dir, self.tree.stamp[:16], folder, key + ".png")
        if os.path.exists(path):
            image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
            if image is not None:
                return image
        image = compute()
        atomic_write_bytes(path, cv2.imencode(".png", image)[1].tobytes())
        return image

    def split_counts(self) -> dict[str, int]:
        """{'forms': n, 'lines': n, 'words': n} in this dataset's split."""
        lines = [ln for form in self.tree.forms for ln in form.lines if self.tree.in_split(ln.id, self.split)]
        forms = {ln.id.rsplit("-", 1)[0] for ln in lines}
        return {"forms": len(forms), "lines": len(lines), "words": sum(len(ln.words) for ln in lines)}
