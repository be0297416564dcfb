"""Geometry shared by every stage: image sizes are (height, width) in pixels, as in the reference.

Boxes everywhere are (x, y, w, h) as fractions of the image they refer to; code converts to pixels only
at the edges (cropping, drawing, writing files).
"""
FORM_SIZE = (1120, 800)      # a whole form page fitted into this (parse_method "form")
REGION_SIZE = (700, 700)     # the handwritten block crop fitted into this ("form_bb")
LINE_SIZE = (60, 1200)       # one text line fitted into this ("line"). The reference's 60x800 shrinks a long line
                             # until its letters are ~10 px apart; 1200 keeps them 1.5x larger (see models/README.md)
WORD_SIZE = (30, 140)        # one word fitted into this ("word")
FORM_BB_EXPAND = 0.05        # the handwritten-block box is widened/heightened by 5% before cropping (form_bb)
WHITE_THRESHOLD = 230        # resize_image pads with at least this grey level
