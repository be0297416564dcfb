"""Recognition stage: line image -> T x C character probabilities (CNN-biLSTM-CTC net, predictor, trainer,
augmentation, ONNX graph)."""
