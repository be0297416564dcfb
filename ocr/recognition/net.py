"""CNN-biLSTM-CTC line recogniser (Gluon blocks only).

Input: standardised gray lines, float32 (N, 1, H, W) (H, W = LINE_SIZE = 60 x 1200 for lines).
A narrow VGG/CRNN-style trunk (3x3 conv + BN + ReLU, max-pools) halves the height four times and the width
``num_downsamples`` times; each remaining column (C x H' values) is one time step, so the sequence is
column-aligned: T = W / 2**num_downsamples (300 steps for a 1200-wide line with the default 2).
A bidirectional LSTM reads the columns, then Dropout and a Dense layer give NUM_CLASSES scores per step.
Output: unnormalised scores (N, T, NUM_CLASSES); the CTC blank is the last class.
"""
from mxnet import gluon

from ocr.recognition.config import DEFAULT_CONFIG, STAGE_CHANNELS, step_width


def _conv_bn_relu(channels):
    block = gluon.nn.HybridSequential()
    block.add(gluon.nn.Conv2D(channels, 3, padding=1, use_bias=False),
              gluon.nn.BatchNorm(),
              gluon.nn.Activation("relu"))
    return block


class LineRecognizer(gluon.HybridBlock):
    """(N, 1, H, W) standardised lines -> (N, T, num_classes) CTC scores, T = W // 2**num_downsamples.

    width: trunk width unit (stage channels = STAGE_CHANNELS * width); num_downsamples: how many of the four
    pools also halve the width (1..4); rnn_hidden / rnn_layers: LSTM size per direction / depth;
    dropout: between LSTM layers and before the classifier. H must be at least 16 (four height halvings).
    Build it with build_recognizer, whose DEFAULT_CONFIG holds the defaults.
    """

    def __init__(self, *, width: int, num_downsamples: int, rnn_hidden: int, rnn_layers: int, dropout: float,
                 num_classes: int, **kwargs):
        super().__init__(**kwargs)
        if not 1 <= num_downsamples <= 4:
            raise ValueError("num_downsamples must be in 1..4, got %d" % num_downsamples)
        with self.name_scope():
            self.trunk = gluon.nn.HybridSequential()
            for stage, unit in enumerate(STAGE_CHANNELS):
                self.trunk.add(_conv_bn_relu(unit * width))
                if stage >= 2:      # deeper stages get a second convolution
                    self.trunk.add(_conv_bn_relu(unit * width))
                pool = (2, 2) if stage < num_downsamples else (2, 1)
                self.trunk.add(gluon.nn.MaxPool2D(pool_size=pool, strides=pool))
            self.rnn = gluon.rnn.LSTM(rnn_hidden, num_layers=rnn_layers, layout="TNC", bidirectional=True,
                                      dropout=dropout if rnn_layers > 1 else 0)
            self.dropout = gluon.nn.Dropout(dropout)
            self.classifier = gluon.nn.Dense(num_classes, flatten=False)

    def hybrid_forward(self, F, x):
        """x (N, 1, H, W) float32 standardised lines -> (N, T, num_classes) unnormalised CTC scores."""
        features = self.trunk(x)                                        # (N, C, H', T)
        columns = F.transpose(F.reshape(features, (0, -3, 0)), (2, 0, 1))   # (T, N, C*H')
        scores = self.classifier(self.dropout(self.rnn(columns)))      # (T, N, classes)
        return F.transpose(scores, (1, 0, 2))                           # (N, T, classes)


def build_recognizer(config: dict) -> LineRecognizer:
    """A LineRecognizer from a config dict (keys of DEFAULT_CONFIG; missing keys take their defaults)."""
    unknown = set(config) - set(DEFAULT_CONFIG)
    if unknown:
        raise ValueError("unknown recogniser config keys: %s" % sorted(unknown))
    return LineRecognizer(**{**DEFAULT_CONFIG, **config})


def sequence_length(config: dict, input_width: int) -> int:
    """Number of CTC time steps T the network emits for inputs ``input_width`` pixels wide."""
    return input_width // step_width(config)
