"""Words of the prose text (``ocr.data.prose``) that the lexicon's English list lacks -> models/decoding/prose_words.txt.

    python utils/build_word_list.py [--min-count 2]

A word (letters only, lower-cased, 3 letters or more; the lexicon corrects possessives by their stem) is added when it occurs at least ``--min-count`` times in
the prose (Austen, Reuters, the IAM-OnDB training forms) and is not in symspellpy's English list; the lexicon
loads them beside that list (``ocr.decode.lexicon.Lexicon.english``). One word per line, sorted.
"""
import argparse
import sys
from collections import Counter

from ocr.data.prose import load_prose
from ocr.decode.lexicon import ENGLISH_WORDS_PATH, PROSE_WORDS_PATH, WORD, read_word_counts
from ocr.core.paths import atomic_write_text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--min-count", type=int, default=2, help="occurrences in the prose needed")
    args = parser.parse_args(argv)
    try:
        sentences = load_prose()
    except FileNotFoundError as error:
        print("error: %s" % error, file=sys.stderr)
        return 2
    english = read_word_counts(ENGLISH_WORDS_PATH)
    counts = Counter(w.lower() for s in sentences for w in WORD.findall(s))
    new = sorted(w for w, c in counts.items() if c >= args.min_count and w not in english and len(w) > 2 and "'" not in w)
    atomic_write_text(PROSE_WORDS_PATH, "\n".join(new) + "\n")
    print("%s: %d words (of %d distinct prose words; English list: %d)"
          % (PROSE_WORDS_PATH, len(new), len(counts), len(english)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
