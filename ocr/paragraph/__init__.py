"""Paragraph stage: page -> the box of the handwritten block (net, predictor, trainer, page augmentation)."""
