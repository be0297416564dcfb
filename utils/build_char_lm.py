"""Build the decoders' character n-gram LM from the corpus train part (see ocr/decode/lm.py for the method).

Writes models/decoding/char_lm.tsv.gz and char_lm.json (settings, n-gram counts, held-out bits per character
on the corpus validation part, which is only measured, never trained on). Needs the text corpus
(``python -m ocr.data.corpus build``). Same corpus, same file.

Usage: python utils/build_char_lm.py [--order 6] [--min-counts 1,1,2,3,3,3] [-o PATH]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ocr.decode.lm import main  # noqa: E402

if __name__ == "__main__":
    main()
