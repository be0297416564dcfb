"""The README's first command: generate one synthetic IAM-format form and draw its line and word boxes.

(Until the full pipeline ships, this shows the data engine; `make demo` runs it after installing everything.)
"""
import os
import sys
import tempfile

from ocr.data.synthetic import draw_form_boxes, generate
from ocr.paths import DATA_DIR


def main():
    out_dir = os.path.join(DATA_DIR, "demo")
    with tempfile.TemporaryDirectory() as tmp:
        tree = os.path.join(tmp, "tree")
        generate(tree, num_forms=1, seed=0, progress=False)
        form_id = sorted(os.listdir(os.path.join(tree, "xml")))[0][:-4]
        boxed = os.path.join(out_dir, form_id + "_boxed.png")
        draw_form_boxes(os.path.join(tree, "forms", form_id + ".png"), os.path.join(tree, "xml", form_id + ".xml"),
                        boxed)
        with open(os.path.join(tree, "ascii", "lines.txt"), encoding="utf-8") as f:
            lines = [row.split(" ", 8)[-1].strip().replace("|", " ") for row in f if not row.startswith("#")]
    print("Synthetic form %s, handwritten lines:" % form_id)
    for line in lines:
        print("  " + line)
    print("Page with line (red) and word (green) boxes: %s" % boxed)


if __name__ == "__main__":
    sys.exit(main())
