"""What every stage shares: the alphabet, paths and atomic writes, geometry, model cards, model loading, image
reading, the training loop and the trainer skeleton."""
