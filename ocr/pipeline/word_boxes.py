"""Word boxes of a recognised line from the CTC alignment of its decoded text (when the detector's boxes of that
line do not match the decoded words one to one)."""
import numpy as np

from ocr.core.alphabet import ALPHABET
from ocr.decode.ctc import column_labels, text_to_columns, to_log_probs, viterbi_alignment


def aligned_word_boxes(text, probs, line_box, content, path=None):
    """Word boxes from the CTC alignment: for each space-separated word of ``text`` (the decoded text of a line),
    (x, y, w, h) page pixels spanning the time steps its characters occupy (one step of margin each side), the full
    height of ``line_box`` (x, y, w, h page pixels).

    ``probs``: the line's T x C softmax; ``content``: (left, width, input width), pixels, where the line lies in the
    input the recogniser ran it at (T steps over that width; Recognizer.content_span); ``path``: the text's alignment
    to the T steps when the decoder has it (Decoded.path), else found here (viterbi_alignment). Where the text has no
    alignment, words share the width by character count."""
    x, y, w, h = line_box
    left, content_w, input_w = content
    labels, blank = column_labels(ALPHABET, probs.shape[1])
    if path is None:
        path = viterbi_alignment(to_log_probs(probs, log_probs=False), text_to_columns(text, labels), blank)
    step = input_w / len(probs)
    boxes, start = [], 0
    for word in text.split(" "):
        if word:
            if path is not None:
                steps = np.flatnonzero((path >= start) & (path < start + len(word)))
                a, b = (steps[0] - 1) * step - left, (steps[-1] + 2) * step - left     # pixels of the content
            else:
                a, b = start / len(text) * content_w, (start + len(word)) / len(text) * content_w
            x1, x2 = (int(np.clip(round(v * w / content_w), 0, w)) for v in (a, b))
            boxes.append((x + x1, y, max(x2 - x1, 1 if x1 < w else 0), h))
        start += len(word) + 1
    return boxes
