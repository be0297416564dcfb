"""Single-shot detector (SSD) of word (or line) boxes in a handwritten region: the Gluon blocks only (the anchors, the
config defaults and the decoding of the outputs are in ocr.words.anchors, the training targets and loss in
ocr.words.boxes). No I/O.

Network (``SSD``): input (N, 1, S, S) float32 ink maps (ink = 1 - grey / 255, so padding is 0). A narrow VGG-style
trunk (3x3 conv + BN + ReLU) makes feature maps at strides 4, 8, 16, 32, 64 (S = 350: 88, 44, 22, 11, 6 cells).
Each map with anchors gets two 3x3 conv heads: 2 class scores (0 background, 1 text) and 4 box offsets per anchor.
Output: scores (N, A, 2) and offsets (N, A, 4), anchors ordered map by map, cell by cell (row-major), shape by shape.
"""
from collections.abc import Sequence

from mxnet import gluon

from ocr.words.anchors import DEFAULT_CONFIG, MAP_STRIDES

# Trunk channels per unit of ``width``: stem, then one entry per feature map; width 8 -> 16, 32, 48, 64, 64, 64.
STAGE_CHANNELS = (2, 4, 6, 8, 8, 8)
CONVS_PER_MAP = (2, 2, 2, 1, 1)


def _conv_bn_relu(channels, strides=1):
    block = gluon.nn.HybridSequential()
    block.add(gluon.nn.Conv2D(channels, 3, strides=strides, padding=1, use_bias=False),
              gluon.nn.BatchNorm(),
              gluon.nn.Activation("relu"))
    return block


class SSD(gluon.HybridBlock):
    """(N, 1, S, S) ink maps -> (class scores (N, A, 2), box offsets (N, A, 4)).

    width: trunk width unit (channels STAGE_CHANNELS * width); anchors: five lists of (w, h) shapes, one per map
    (an empty list: no head on that map; the trunk stops at the last map with anchors). The other config keys
    (image_size, variances) are used by the anchors and the box arithmetic (ocr.words.anchors, ocr.words.boxes), not
    by the blocks.
    Build it with build_ssd, whose DEFAULT_CONFIG holds the defaults.
    """

    def __init__(self, *, width: int, anchors: Sequence[Sequence[tuple[float, float]]], **kwargs):
        super().__init__(**kwargs)
        if len(anchors) != len(MAP_STRIDES):
            raise ValueError("anchors must list %d maps, got %d" % (len(MAP_STRIDES), len(anchors)))
        self.anchors_per_map = [len(shapes) for shapes in anchors]
        if not any(self.anchors_per_map):
            raise ValueError("no anchor shapes on any map")
        depth = max(i for i, count in enumerate(self.anchors_per_map) if count) + 1   # maps past the last head: unused
        channels = [unit * width for unit in STAGE_CHANNELS]
        with self.name_scope():
            self.stem = gluon.nn.HybridSequential()
            self.stem.add(_conv_bn_relu(channels[0], strides=2), _conv_bn_relu(channels[0]))
            self.stages = gluon.nn.HybridSequential()
            for index, convs in enumerate(CONVS_PER_MAP[:depth]):
                stage = gluon.nn.HybridSequential()
                stage.add(gluon.nn.MaxPool2D(2, 2, ceil_mode=True))
                for _ in range(convs):
                    stage.add(_conv_bn_relu(channels[index + 1]))
                self.stages.add(stage)
            self.class_heads = gluon.nn.HybridSequential()
            self.box_heads = gluon.nn.HybridSequential()
            for count in self.anchors_per_map:
                if count:
                    self.class_heads.add(gluon.nn.Conv2D(count * 2, 3, padding=1))
                    self.box_heads.add(gluon.nn.Conv2D(count * 4, 3, padding=1))

    def hybrid_forward(self, F, x):
        """x (N, 1, S, S) float32 ink maps -> (class scores (N, A, 2), box offsets (N, A, 4)), A anchors in the
        order of ocr.words.anchors.make_anchors."""
        x = self.stem(x)
        scores, offsets, head = [], [], 0
        for stage, count in zip(self.stages, self.anchors_per_map):
            x = stage(x)
            if count:
                scores.append(F.reshape(F.transpose(self.class_heads[head](x), (0, 2, 3, 1)), (0, -1, 2)))
                offsets.append(F.reshape(F.transpose(self.box_heads[head](x), (0, 2, 3, 1)), (0, -1, 4)))
                head += 1
        return F.concat(*scores, dim=1), F.concat(*offsets, dim=1)


def build_ssd(config: dict) -> SSD:
    """An SSD from a config dict (keys of DEFAULT_CONFIG; missing keys take their defaults)."""
    unknown = set(config) - set(DEFAULT_CONFIG)
    if unknown:
        raise ValueError("unknown SSD config keys: %s" % sorted(unknown))
    config = {**DEFAULT_CONFIG, **config}
    return SSD(width=config["width"], anchors=config["anchors"])
