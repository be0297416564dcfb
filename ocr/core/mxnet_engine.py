"""The MXNet engine: a model's Gluon net built from its card's network config with its weights loaded, and run on
numpy arrays. Imported only where a Gluon net is built or run (ocr.core.loading): importing MXNet costs over a
second and about 280 MB, which the ONNX engine with its graphs cached does without."""
from collections.abc import Callable

import mxnet as mx
import numpy as np
from mxnet import gluon

from ocr.core.loading import load_error


def load_gluon_net(params_path: str, network: dict, build: Callable[[dict], gluon.HybridBlock],
                   ctx: mx.Context | None, kind: str) -> gluon.HybridBlock:
    """``build(network)`` (a card's network config) with the weights of ``params_path`` on ``ctx`` (None: the CPU),
    hybridized. Raises ModelLoadError (one line naming the ``kind`` of model and why) when they do not fit."""
    try:
        net = build(network)
        net.load_parameters(params_path, ctx=ctx or mx.cpu())
    except (OSError, ValueError, KeyError, TypeError, mx.base.MXNetError) as error:
        raise load_error(kind, params_path, error) from None
    net.hybridize(static_alloc=True)
    return net


def run_gluon_net(net: gluon.HybridBlock, data: np.ndarray,
                  ctx: mx.Context | None = None) -> np.ndarray | tuple[np.ndarray, ...]:
    """A Gluon net on ``data`` (N, ...) (as a float32 NDArray on ``ctx``; None: the CPU) -> its output, or the
    tuple of its outputs, as numpy arrays."""
    outputs = net(mx.nd.array(data, ctx=ctx or mx.cpu()))
    if isinstance(outputs, (list, tuple)):
        return tuple(output.asnumpy() for output in outputs)
    return outputs.asnumpy()
