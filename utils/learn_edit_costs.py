"""Learn the lexicon search's edit-cost tables from recogniser output: (prediction, truth) pairs.

Input: a TSV file, one ``prediction<TAB>truth`` per row (a first row ``prediction<TAB>truth`` is skipped),
e.g. the greedy output of the recogniser on synthetic validation lines. Output: an EditCosts JSON
(default ``models/decoding/edit_costs.json``, which the lexicon decoder then loads instead of unit costs).

Method (a noisy-channel cost in units of an unseen edit). Each pair is aligned with a minimal Levenshtein
alignment (ocr.decode.distance.align); every non-match is one error operation: substitution a->b (read a,
b written), deletion of a (a spurious), insertion of b (b missed). With N error operations in all and K
possible operations over the characters seen (2|A| + |A|(|A|-1)), an operation seen n times has the
add-one smoothed probability (n + 1) / (N + K) and the cost

    cost = max(floor, log P(op) / log P(unseen op)) = max(floor, 1 - log(n + 1) / log(N + K))

so an unseen operation costs 1.0 (the default), frequent confusions cost less, never below ``floor`` (0.5).
With about 1,000 errors, an operation seen 4 times costs ~0.82 and one seen 24 times ~0.64, the range of the
reference's hand-set 0.9 / 0.8 costs. Only operations seen at least once are written.

Usage: python utils/learn_edit_costs.py PAIRS.tsv [-o models/decoding/edit_costs.json] [--floor 0.5]
"""
import argparse
import csv
import math
import os
import sys
from collections import Counter


from ocr.decode.distance import LEARNED_COSTS_PATH, EditCosts, align
from ocr.core.paths import refuse_overwrite


def read_pairs(path):
    """[(prediction, truth)] from a ``prediction<TAB>truth`` TSV file (an optional header row is skipped)."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = [row for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if row]
    if rows and [c.strip().lower() for c in rows[0]] == ["prediction", "truth"]:
        rows = rows[1:]
    for number, row in enumerate(rows, start=1):
        if len(row) != 2:
            raise ValueError("%s: row %d has %d fields, expected prediction<TAB>truth" % (path, number, len(row)))
    return [tuple(row) for row in rows]


def count_errors(pairs):
    """Counter of error operations ('sub', a, b) / ('del', a, None) / ('ins', None, b) over aligned pairs,
    and the set of characters seen."""
    errors, chars = Counter(), set()
    for prediction, truth in pairs:
        chars.update(prediction, truth)
        errors.update(op for op in align(prediction, truth) if op[0] != "match")
    return errors, chars


def learn_costs(pairs, floor=0.5):
    """EditCosts learned from (prediction, truth) pairs with the module's formula."""
    errors, chars = count_errors(pairs)
    total = sum(errors.values())
    possible = 2 * len(chars) + len(chars) * (len(chars) - 1)
    scale = math.log(total + possible) if total + possible > 1 else 1.0
    insertion, deletion, substitution = {}, {}, {}
    for (kind, a, b), n in sorted(errors.items(), key=lambda item: (item[0][0], str(item[0][1]), str(item[0][2]))):
        cost = round(max(floor, 1.0 - math.log(n + 1) / scale), 6)
        if kind == "ins":
            insertion[b] = cost
        elif kind == "del":
            deletion[a] = cost
        else:
            substitution.setdefault(a, {})[b] = cost
    info = {"method": "cost = max(floor, 1 - log(n + 1) / log(N + K)) over minimal Levenshtein alignments",
            "floor": floor, "pairs": len(pairs), "error_operations": total, "possible_operations": possible,
            "most_common": ["%s %r->%r x%d" % (k, a, b, n) for (k, a, b), n in errors.most_common(15)]}
    return EditCosts(insertion, deletion, substitution, 1.0, info)


def main(argv=None):
    """Learn the tables from a pairs file, write them, print the most common confusions."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pairs", help="TSV file of prediction<TAB>truth rows")
    parser.add_argument("-o", "--output", default=LEARNED_COSTS_PATH)
    parser.add_argument("--floor", type=float, default=0.5, help="lowest cost of any operation")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    args = parser.parse_args(argv)
    try:
        refuse_overwrite(args.output, args.overwrite)
    except FileExistsError as error:
        sys.exit("error: %s" % error)
    costs = learn_costs(read_pairs(args.pairs), args.floor)
    costs.info["source"] = os.path.basename(args.pairs)
    costs.save(args.output)
    print("%d pairs, %d error operations -> %s" % (costs.info["pairs"], costs.info["error_operations"], args.output))
    for line in costs.info["most_common"]:
        print("  " + line)


if __name__ == "__main__":
    main()
