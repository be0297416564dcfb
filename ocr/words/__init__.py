"""Word stage: handwritten region -> word boxes (SSD net, box maths, predictor, trainer, augmentation) -> lines in
reading order (layout)."""
