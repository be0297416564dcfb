"""Draw line boxes (red) and word boxes (green) of a few forms of an IAM-format tree onto their pages.

    python utils/draw_synthetic_forms.py --tree DIR [--forms 3] [--out boxes.png] [--scale 0.5]
    python utils/draw_synthetic_forms.py --generate 3 --seed 1 --out boxes.png   # generate into a temp dir first
    python utils/draw_synthetic_forms.py --generate 1 --iamondb data/iamondb --pen-share 1 --out form.png
                                          # a form written by a real IAM-OnDB hand (ocr.data.pen_forms)

Writes one PNG (the boxed pages side by side, atomically). The per-form drawing is
``ocr.data.synthetic.draw_form_boxes(form_png, form_xml, out_png)``.
"""
import argparse
import glob
import os
import sys
import tempfile

import cv2
import numpy as np

from ocr.data.iamondb import IAMOnDBError
from ocr.data.synthetic import UsageError, draw_form_boxes, generate, pen_options
from ocr.core.paths import atomic_write_bytes, refuse_overwrite


def draw_tree(tree, out_png, forms=3, scale=0.5):
    """Boxed pages of the first ``forms`` forms of ``tree`` side by side in ``out_png``; returns the paths used."""
    xmls = sorted(glob.glob(os.path.join(tree, "xml", "*.xml")))[:forms]
    if not xmls:
        raise FileNotFoundError("no xml files under %s/xml" % tree)
    tiles = []
    with tempfile.TemporaryDirectory() as tmp:
        for xml in xmls:
            fid = os.path.splitext(os.path.basename(xml))[0]
            img = draw_form_boxes(os.path.join(tree, "forms", fid + ".png"), xml, os.path.join(tmp, fid + ".png"))
            tiles.append(cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
    h = max(t.shape[0] for t in tiles)
    tiles = [cv2.copyMakeBorder(t, 0, h - t.shape[0], 0, 8, cv2.BORDER_CONSTANT, value=(255, 255, 255))
             for t in tiles]
    ok, buf = cv2.imencode(".png", np.hstack(tiles))
    atomic_write_bytes(out_png, buf.tobytes())
    return xmls


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", help="IAM-format tree (e.g. written by python -m ocr.data.synthetic)")
    parser.add_argument("--generate", type=int, default=0, help="generate this many forms into a temp dir instead")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--forms", type=int, default=3, help="forms to draw")
    parser.add_argument("--scale", type=float, default=0.5, help="scale of each page in the output")
    parser.add_argument("--out", default="synthetic_forms_boxes.png")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    parser.add_argument("--iamondb", help="with --generate: IAM-OnDB tree whose hands write some of the forms")
    parser.add_argument("--pen-share", type=float, default=None,
                        help="with --iamondb: fraction of forms written by IAM-OnDB hands (default 0.5)")
    args = parser.parse_args(argv)
    if not args.tree and not args.generate:
        parser.error("give --tree DIR or --generate N")
    try:
        refuse_overwrite(args.out, args.overwrite)
        if args.generate:
            pen_share, pen_forms = pen_options(args.iamondb, args.pen_share)
            with tempfile.TemporaryDirectory() as tmp:
                generate(tmp, args.generate, args.seed, workers=1, progress=False, pen_forms=pen_forms,
                         pen_share=pen_share)
                draw_tree(tmp, args.out, args.forms, args.scale)
        elif args.iamondb:
            raise UsageError("--iamondb needs --generate N")
        else:
            draw_tree(args.tree, args.out, args.forms, args.scale)
    except (FileNotFoundError, FileExistsError, ValueError, UsageError, IAMOnDBError) as err:
        print("error: %s" % err, file=sys.stderr)
        return 2
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
