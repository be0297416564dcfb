"""Build the decoders' character n-gram LM from the corpus train part (see ocr/decode/lm.py for the method).

Writes models/decoding/char_lm.tsv.gz and char_lm.json (settings, n-gram counts, held-out bits per character
on the corpus validation part, which is only measured, never trained on). Needs the text corpus
(``python -m ocr.data.corpus build``). Same corpus, same file.

Usage: python utils/build_char_lm.py [--order 6] [--min-counts 1,1,2,3,3,3] [-o PATH]
"""


from ocr.decode.lm import main

if __name__ == "__main__":
    main()
