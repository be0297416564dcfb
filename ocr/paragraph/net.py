"""Paragraph segmentation DCNN: one box around the handwritten block of a page (Gluon blocks and losses only).

Input: a page fitted into FORM_SIZE (1120x800) and resized to ``input_size`` (default 372x266, the reference's
short side 266), standardised, float32 (N, 1, H, W).
Network (edge profiles, replacing the reference's global regression): a narrow convnet (a strided 5x5 stem, then
3x3 conv + BN + ReLU + 2x2 max-pool stages, then dilated 3x3 convs for context) gives a map at stride
2 * 2**len(channels) (8 by default). The map is pooled across its width (mean and max) into a row profile and
across its height into a column profile; a small 1-D convnet over each profile scores every cell as the top or
bottom edge (rows), or the left or right edge (columns); a learned score per cell and edge (a prior of where blocks
begin and end, zero at the start) is added. A softmax over the cells and its expectation
(soft-argmax, "integral regression") turns each score profile into an edge position, a fraction of the page
with sub-cell precision. Whole-page context reaches the profiles through the pooling; each edge is found where
the evidence for it is, instead of being regressed from a flattened map.
Output: float32 (N, 4), (x, y, w, h) = (left, top, right - left, bottom - top) of the block as fractions of the
fitted 1120x800 page; every coordinate lies in [0, 1] like the reference's sigmoid output.

Losses (per sample, shape (N,)), for predicted and target boxes (N, 4) in fractions:
* ``mse_loss``: 0.5 * mean of the squared coordinate errors (the reference's gluon L2Loss);
* ``giou_loss``: 1 - GIoU (Rezatofighi et al. 2019, generalised IoU). Unlike the reference's -log(IoU), which is
  0 with no gradient when the boxes do not overlap, GIoU subtracts the share of the smallest enclosing box not
  covered by the union, so the loss is in [0, 2), exceeds 1 for disjoint boxes and still pulls them together.
"""
from collections.abc import Sequence
from types import ModuleType

import mxnet as mx
from mxnet import gluon

DEFAULT_CONFIG = {"input_size": [372, 266], "stem_channels": 16, "channels": [32, 48], "context_channels": 64,
                  "dilations": [2, 4], "profile_channels": 64, "dropout": 0.1}
EPS = 1e-7
Tensor = mx.nd.NDArray | mx.sym.Symbol      # what the losses compute on: F is mx.nd (NDArrays) or mx.sym (Symbols)


def _conv_bn_relu(channels, kernel=3, stride=1, dilation=1):
    block = gluon.nn.HybridSequential()
    block.add(gluon.nn.Conv2D(channels, kernel, strides=stride, padding=dilation * (kernel // 2), dilation=dilation,
                              use_bias=False),
              gluon.nn.BatchNorm(),
              gluon.nn.Activation("relu"))
    return block


def _edge_scorer(channels, dropout):
    """1-D convnet over a profile (N, C, L) -> (N, 2, L) edge scores (start edge, end edge) per cell."""
    block = gluon.nn.HybridSequential()
    block.add(gluon.nn.Dropout(dropout),
              gluon.nn.Conv1D(channels, 5, padding=2, activation="relu"),
              gluon.nn.Conv1D(channels, 5, padding=4, dilation=2, activation="relu"),
              gluon.nn.Conv1D(channels, 5, padding=8, dilation=4, activation="relu"),
              gluon.nn.Conv1D(2, 1))
    return block


class ParagraphNet(gluon.HybridBlock):
    """(N, 1, H, W) standardised pages, (H, W) = input_size -> (N, 4) (x, y, w, h), fractions of the fitted page.

    stem_channels: 5x5 stride-2 stem width; channels: one conv + 2x2 pool stage each (stride 2 * 2**len);
    context_channels / dilations: the dilated 3x3 convs after the stages; profile_channels: width of the 1-D
    edge scorers; dropout: on the profiles. Build it with build_paragraph_net, whose DEFAULT_CONFIG holds the
    defaults.
    """

    def __init__(self, *, input_size: Sequence[int], stem_channels: int, channels: Sequence[int],
                 context_channels: int, dilations: Sequence[int], profile_channels: int, dropout: float, **kwargs):
        super().__init__(**kwargs)
        self.stride = 2 * 2 ** len(channels)
        self.input_size = tuple(input_size)
        with self.name_scope():
            self.trunk = gluon.nn.HybridSequential()
            self.trunk.add(_conv_bn_relu(stem_channels, kernel=5, stride=2))
            for width in channels:
                self.trunk.add(_conv_bn_relu(width), gluon.nn.MaxPool2D(pool_size=2, strides=2))
            for dilation in dilations:
                self.trunk.add(_conv_bn_relu(context_channels, dilation=dilation))
            self.rows = _edge_scorer(profile_channels, dropout)
            self.columns = _edge_scorer(profile_channels, dropout)
            rows, columns = (feature_length(n, len(channels)) for n in self.input_size)
            self.row_prior = self.params.get("row_prior", shape=(1, 2, rows), init="zeros")
            self.column_prior = self.params.get("column_prior", shape=(1, 2, columns), init="zeros")

    def _edges(self, F, scores, length):
        """(N, 2, L) edge scores over cells of ``self.stride`` input pixels -> (N, 2) soft-argmax positions as
        fractions of ``length`` input pixels (cell centres)."""
        centres = (F.contrib.arange_like(scores, axis=2) + 0.5) * (self.stride / float(length))
        return F.sum(F.broadcast_mul(F.softmax(scores, axis=2), F.reshape(centres, (1, 1, -1))), axis=2)

    def hybrid_forward(self, F, x, row_prior, column_prior):
        """x (N, 1, H, W) float32 standardised pages, (H, W) = input_size; row_prior (1, 2, H'), column_prior
        (1, 2, W') the learned edge priors (passed by Gluon) -> (N, 4) (x, y, w, h), fractions of the fitted page."""
        features = self.trunk(x)                                                    # (N, C, H', W')
        row_profile = F.concat(F.mean(features, axis=3), F.max(features, axis=3), dim=1)      # (N, 2C, H')
        column_profile = F.concat(F.mean(features, axis=2), F.max(features, axis=2), dim=1)   # (N, 2C, W')
        top_bottom = self._edges(F, F.broadcast_add(self.rows(row_profile), row_prior), self.input_size[0])
        left_right = self._edges(F, F.broadcast_add(self.columns(column_profile), column_prior), self.input_size[1])
        top, bottom = F.split(top_bottom, num_outputs=2, axis=1)
        left, right = F.split(left_right, num_outputs=2, axis=1)
        return F.concat(left, top, right - left, bottom - top, dim=1)


def feature_length(pixels: int, stages: int) -> int:
    """Cells along one side of the trunk's output for ``pixels`` input pixels: the stride-2 stem (padded, rounds
    up), then ``stages`` 2x2 max-pools (round down)."""
    cells = (pixels + 1) // 2
    for _ in range(stages):
        cells //= 2
    return cells


def build_paragraph_net(config: dict) -> ParagraphNet:
    """A ParagraphNet from a config dict (keys of DEFAULT_CONFIG; missing keys take their defaults)."""
    unknown = set(config) - set(DEFAULT_CONFIG)
    if unknown:
        raise ValueError("unknown paragraph net config keys: %s" % sorted(unknown))
    return ParagraphNet(**{**DEFAULT_CONFIG, **config})


def mse_loss(F: ModuleType, pred: Tensor, target: Tensor) -> Tensor:
    """0.5 * mean over (x, y, w, h) of the squared errors: boxes (N, 4) in fractions -> (N,)."""
    return 0.5 * F.mean(F.square(pred - target), axis=1)


def iou_and_giou(F: ModuleType, pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
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


def giou_loss(F: ModuleType, pred: Tensor, target: Tensor) -> Tensor:
    """1 - GIoU of boxes (N, 4) in fractions -> (N,), in [0, 2); > 1 and with a gradient for disjoint boxes."""
    return 1.0 - iou_and_giou(F, pred, target)[1]


LOSSES = {"mse": mse_loss, "iou": giou_loss}
