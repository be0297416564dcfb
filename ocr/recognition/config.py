"""The line recogniser's network config defaults, its stage widths and the time-step width they give, without
MXNet: the predictor needs the step width whichever engine runs the net; ocr.recognition.net builds the Gluon net
from a config (and utils/gpu/train_recognizer.py its PyTorch mirror)."""
from ocr.core.alphabet import NUM_CLASSES

# Channels of the four conv stages per unit of ``width``: width 4 (the default) -> 16, 32, 64, 96.
STAGE_CHANNELS = (4, 8, 16, 24)

DEFAULT_CONFIG = {"width": 4, "num_downsamples": 2, "rnn_hidden": 256, "rnn_layers": 2, "dropout": 0.2,
                  "num_classes": NUM_CLASSES}


def step_width(config: dict) -> int:
    """Pixels of input width per CTC time step (2**num_downsamples: 4 with the defaults)."""
    return 2 ** {**DEFAULT_CONFIG, **config}["num_downsamples"]
