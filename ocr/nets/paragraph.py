"""Paragraph segmentation DCNN: one box around the handwritten block of a page (Gluon blocks and losses only).

Input: a page fitted into FORM_SIZE (1120x800) and resized to ``input_size`` (default 372x266, the reference's
short side 266), standardised, float32 (N, 1, H, W). A narrow convnet (a strided 5x5 stem, then stages of
3x3 conv + BN + ReLU + 2x2 max-pool) brings it to stride 32; a 1x1 conv squeezes the channels, and the map is
flattened (it keeps where the ink is) into a small MLP ending in a sigmoid.
Output: float32 (N, 4), (x, y, w, h) of the block as fractions of the fitted 1120x800 page.

Losses (per sample, shape (N,)), for predicted and target boxes (N, 4) in fractions:
* ``mse_loss``: 0.5 * mean of the squared coordinate errors (the reference's gluon L2Loss);
* ``giou_loss``: 1 - GIoU (Rezatofighi et al. 2019, generalised IoU). Unlike the reference's -log(IoU), which is
  0 with no gradient when the boxes do not overlap, GIoU subtracts the share of the smallest enclosing box not
  covered by the union, so the loss is in [0, 2), exceeds 1 for disjoint boxes and still pulls them together.
"""
from mxnet import gluon

DEFAULT_CONFIG = {"input_size": [372, 266], "stem_channels": 16, "channels": [16, 32, 48, 64],
                  "squeeze_channels": 32, "hidden": 128, "dropout": 0.3}
EPS = 1e-7


def _conv_bn_relu(channels, kernel=3, stride=1):
    block = gluon.nn.HybridSequential()
    block.add(gluon.nn.Conv2D(channels, kernel, strides=stride, padding=kernel // 2, use_bias=False),
              gluon.nn.BatchNorm(),
              gluon.nn.Activation("relu"))
    return block


class ParagraphNet(gluon.HybridBlock):
    """(N, 1, H, W) standardised pages -> (N, 4) sigmoid (x, y, w, h), fractions of the fitted page.

    stem_channels: 5x5 stride-2 stem width; channels: one conv + 2x2 pool stage each (4 stages + the stem ->
    stride 32); squeeze_channels: 1x1 conv before flattening; hidden: MLP width; dropout: in the MLP.
    """

    def __init__(self, stem_channels=16, channels=(16, 32, 48, 64), squeeze_channels=32, hidden=128, dropout=0.3,
                 **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.trunk = gluon.nn.HybridSequential()
            self.trunk.add(_conv_bn_relu(stem_channels, kernel=5, stride=2))
            for width in channels:
                self.trunk.add(_conv_bn_relu(width), gluon.nn.MaxPool2D(pool_size=2, strides=2))
            self.trunk.add(_conv_bn_relu(squeeze_channels, kernel=1))
            self.head = gluon.nn.HybridSequential()
            self.head.add(gluon.nn.Flatten(),
                          gluon.nn.Dropout(dropout),
                          gluon.nn.Dense(hidden, activation="relu"),
                          gluon.nn.Dropout(dropout),
                          gluon.nn.Dense(4, activation="sigmoid"))

    def hybrid_forward(self, F, x):
        return self.head(self.trunk(x))


def build_paragraph_net(config):
    """A ParagraphNet from a config dict (keys of DEFAULT_CONFIG; missing keys take their defaults)."""
    unknown = set(config) - set(DEFAULT_CONFIG)
    if unknown:
        raise ValueError("unknown paragraph net config keys: %s" % sorted(unknown))
    config = {**DEFAULT_CONFIG, **config}
    return ParagraphNet(**{k: v for k, v in config.items() if k != "input_size"})


def mse_loss(F, pred, target):
    """0.5 * mean over (x, y, w, h) of the squared errors: boxes (N, 4) in fractions -> (N,)."""
    return 0.5 * F.mean(F.square(pred - target), axis=1)


def iou_and_giou(F, pred, target):
    """IoU and GIoU of boxes (N, 4) given as (x, y, w, h) (any one unit) -> two arrays (N,).

    GIoU = IoU - (C - U) / C with U the union and C the area of the smallest box enclosing both.
    """
    px, py, pw, ph = F.split(pred, num_outputs=4, axis=1, squeeze_axis=True)
    tx, ty, tw, th = F.split(target, num_outputs=4, axis=1, squeeze_axis=True)
    inter_w = F.relu(F.minimum(px + pw, tx + tw) - F.maximum(px, tx))
    inter_h = F.relu(F.minimum(py + ph, ty + th) - F.maximum(py, ty))
    inter = inter_w * inter_h
    union = pw * ph + tw * th - inter
    hull = (F.maximum(px + pw, tx + tw) - F.minimum(px, tx)) * (F.maximum(py + ph, ty + th) - F.minimum(py, ty))
    iou = inter / (union + EPS)
    return iou, iou - (hull - union) / (hull + EPS)


def giou_loss(F, pred, target):
    """1 - GIoU of boxes (N, 4) in fractions -> (N,), in [0, 2); > 1 and with a gradient for disjoint boxes."""
    return 1.0 - iou_and_giou(F, pred, target)[1]


LOSSES = {"mse": mse_loss, "iou": giou_loss}
