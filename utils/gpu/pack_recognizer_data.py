"""Pack what a GPU fine-tuning run of the line recogniser needs into one folder small enough to travel (~30 MB).

    python utils/gpu/pack_recognizer_data.py --iamondb data/iamondb --iam-root data/synth_v2 --out .gpu

Writes, into --out:
* ``pen.npz``: the IAM-OnDB training and validation lines of ``ocr.data.line_mix.pen_splits`` (split by recording
  session, reserved forms left out, validation the same seeded 400 lines the MXNet trainer validates on), their
  strokes stored exactly (x, y doubled to integers, time in whole seconds as read; delta-coded, lzma), with the
  word groups of ``word_bank``;
* ``font.npz``: a seeded sample of the font tree's training lines (fitted LINE_SIZE, JPEG) and word crops (as
  stored, JPEG) with their texts, and of its validation lines for monitoring.
``utils/gpu/train_recognizer.py`` reads them back with ``read_pen`` / ``read_font`` (numpy and OpenCV only).
"""
from __future__ import annotations

import argparse
import json
import lzma
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from ocr.data.iamondb import OnlineLine  # noqa: E402
from ocr.data.line_mix import word_bank  # noqa: E402

JPEG_QUALITY = 80


def encode_strokes(lines: list[OnlineLine]) -> tuple[bytes, np.ndarray, np.ndarray]:
    """(lzma bytes of the delta-coded int64 rows (3, N): 2x, 2y and the float32 bit pattern of time; stroke
    lengths; strokes per line). Exact: x and y are whole or half tablet units."""
    points = np.concatenate([np.concatenate(line.strokes) for line in lines]).astype(np.float32)
    doubled = points[:, :2].astype(np.float64) * 2
    if not np.array_equal(doubled, np.rint(doubled)):
        raise ValueError("x or y is not on the half-unit grid: cannot pack exactly")
    rows = np.stack([doubled[:, 0].astype(np.int64), doubled[:, 1].astype(np.int64),
                     points[:, 2].view(np.uint32).astype(np.int64)])
    lengths = np.array([len(s) for line in lines for s in line.strokes], np.int32)
    counts = np.array([len(line.strokes) for line in lines], np.int32)
    return lzma.compress(np.diff(rows, axis=1, prepend=0).tobytes()), lengths, counts


def decode_strokes(blob: bytes, lengths: np.ndarray, counts: np.ndarray) -> list[list[np.ndarray]]:
    """The inverse of encode_strokes: per line, its strokes as float32 (n, 3) arrays of x, y, time."""
    rows = np.cumsum(np.frombuffer(lzma.decompress(blob), np.int64).reshape(3, -1), axis=1)
    time = rows[2].astype(np.uint32).view(np.float32)
    points = np.stack([(rows[0] / 2).astype(np.float32), (rows[1] / 2).astype(np.float32), time], axis=1)
    strokes = np.split(points, np.cumsum(lengths)[:-1])
    bounds = np.concatenate([[0], np.cumsum(counts)])
    return [strokes[bounds[i]:bounds[i + 1]] for i in range(len(counts))]


def pack_pen(lines: dict[str, list[OnlineLine]], groups: dict[int, list[list[int]]]) -> dict[str, np.ndarray]:
    """npz fields of the IAM-OnDB training and validation lines (``lines``: role -> lines) and the training lines'
    word groups (line index -> stroke indices per word)."""
    fields = {}
    for role, role_lines in lines.items():
        blob, lengths, counts = encode_strokes(role_lines)
        fields.update({role + "_points": np.frombuffer(blob, np.uint8), role + "_lengths": lengths,
                       role + "_counts": counts,
                       role + "_meta": np.array(json.dumps([[l.line_id, l.form_id, l.text] for l in role_lines]))})
    fields["train_groups"] = np.array(json.dumps({str(k): v for k, v in groups.items()}))
    return fields


def read_pen(path: str) -> tuple[dict[str, list[OnlineLine]], dict]:
    """``pen.npz`` -> ({role: [OnlineLine]}, the training lines' ``ocr.data.line_mix.word_bank``)."""
    data = np.load(path)
    lines = {}
    for role in ("train", "validation"):
        strokes = decode_strokes(data[role + "_points"].tobytes(), data[role + "_lengths"], data[role + "_counts"])
        meta = json.loads(str(data[role + "_meta"]))
        lines[role] = [OnlineLine(line_id, form_id, text, s) for (line_id, form_id, text), s in zip(meta, strokes)]
    groups = {int(k): v for k, v in json.loads(str(data["train_groups"])).items()}
    return lines, word_bank(lines["train"], groups)


def save_npz(path: str, fields: dict[str, np.ndarray]) -> None:
    """Write ``fields`` as the npz file ``path`` atomically (a temporary file beside it, then renamed)."""
    np.savez(path + ".tmp.npz", **fields)
    os.replace(path + ".tmp.npz", path)


def _jpegs(images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(concatenated JPEG bytes, offsets) of uint8 gray images."""
    blobs = [cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1].tobytes() for image in images]
    return np.frombuffer(b"".join(blobs), np.uint8), np.cumsum([0] + [len(b) for b in blobs])


def unjpeg(data: np.ndarray, offsets: np.ndarray, i: int) -> np.ndarray:
    """Image ``i`` of ``_jpegs``' output, uint8 gray (H, W)."""
    return cv2.imdecode(data[offsets[i]:offsets[i + 1]], cv2.IMREAD_GRAYSCALE)


def read_font(path: str) -> dict[str, tuple[list[np.ndarray], list[str]]]:
    """``font.npz`` -> {"line" | "word" | "val_line": (uint8 images, texts)}."""
    data = np.load(path)
    out = {}
    for kind in ("line", "word", "val_line"):
        texts = json.loads(str(data[kind + "_texts"]))
        out[kind] = ([unjpeg(data[kind + "_jpeg"], data[kind + "_offsets"], i) for i in range(len(texts))], texts)
    return out


def pack(args: argparse.Namespace) -> None:
    """Write pen.npz and font.npz into ``args.out`` (see the module docstring)."""
    # imported here: they need MXNet, which the GPU machine (that only reads packs) does not have
    from ocr.core.card import read_card
    from ocr.core.ink import WORD_MARGIN, crop_to_ink
    from ocr.data.line_mix import pen_splits
    from ocr.recognition.net import sequence_length
    from ocr.recognition.train import MAX_LABEL, load_lines
    card = read_card(args.model + ".json")
    steps = sequence_length(card.network, card.input.fit_size[1])
    os.makedirs(args.out, exist_ok=True)
    pen = pen_splits(args.iamondb, 400, args.seed, MAX_LABEL["line"], steps)
    roles = {"train": pen["train"], "validation": pen["validation"]}
    bank = word_bank(pen["train"])
    save_npz(os.path.join(args.out, "pen.npz"), pack_pen(roles, bank["groups"]))
    rng = np.random.default_rng(args.seed)
    fields = {}
    for kind, split, count in (("line", "train", args.font_lines), ("word", "train", args.font_words),
                               ("val_line", "validation", args.val_lines)):
        unit = "word" if kind == "word" else "line"
        lines = load_lines(args.iam_root, unit, split, MAX_LABEL["line"], steps, None, args.seed)
        picks = np.sort(rng.permutation(len(lines.rows))[:count])
        if unit == "word":
            images = [crop_to_ink(lines.dataset.original_image(lines.rows[i]), WORD_MARGIN) for i in picks]
        else:
            images = [lines.dataset[lines.rows[i]][0] for i in picks]
        fields[kind + "_jpeg"], fields[kind + "_offsets"] = _jpegs(images)
        fields[kind + "_texts"] = np.array(json.dumps([lines.texts[i] for i in picks]))
    save_npz(os.path.join(args.out, "font.npz"), fields)
    for name in ("pen.npz", "font.npz"):
        print("%s: %.1f MB" % (name, os.path.getsize(os.path.join(args.out, name)) / 1e6))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iamondb", required=True)
    p.add_argument("--iam-root", required=True, help="font tree (IAM layout) whose lines and words are sampled")
    p.add_argument("--out", required=True)
    p.add_argument("--model", default="models/handwriting_line",
                   help="the recogniser to be fine-tuned (its card gives the CTC steps that labels must fit)")
    p.add_argument("--font-lines", type=int, default=1200)
    p.add_argument("--font-words", type=int, default=2000)
    p.add_argument("--val-lines", type=int, default=100)
    p.add_argument("--seed", type=int, default=14, help="the seed of the validation subset (as the trainer's)")
    args = p.parse_args(argv)
    from ocr.core.training import fail
    from ocr.data.iam import IAMNotFoundError
    from ocr.data.iamondb import IAMOnDBError
    try:
        pack(args)
    except (IAMNotFoundError, IAMOnDBError) as err:
        fail(str(err))


if __name__ == "__main__":
    main()
