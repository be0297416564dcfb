"""Loading a model: ``<stem>.params`` + ``<stem>.json`` (its card, ocr.core.card) -> the net that runs it and its card.

Three engines run a net (ENGINES): 'mxnet', the Gluon net itself (ocr.core.mxnet_engine); 'onnx', onnxruntime on
its ONNX export (ocr.core.onnx_engine); and 'onnx-int8', the same with the recogniser's LSTMs multiplying in int8
(ocr.core.onnx_int8: faster, the text read changes a little). Importing MXNet costs over a second and about 280 MB,
so it is imported only where a Gluon net is built or run: for the MXNet engine, or to export a graph the ONNX cache
does not hold yet. The ONNX engines with their graphs cached never import it. (The engine modules are imported where
they are used: onnx_engine imports this module, and mxnet_engine imports MXNet.)
"""
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ocr.core.card import ModelCard, read_card
from ocr.core.paths import MODELS_DIR

if TYPE_CHECKING:
    import mxnet as mx

ENGINES = ("mxnet", "onnx", "onnx-int8")    # what runs the nets: MXNet Gluon, onnxruntime on their ONNX export,
                                            # or that with int8 LSTM weights
DEFAULT_CPU_ENGINE = "onnx-int8"  # the command lines' engine on the CPU: the fastest; CER within 0.1 point on the
                                  # large test sets (README, "ONNX engine")
INT8_STAGES = ("recognition",)    # stages whose nets hold LSTMs, the only layers onnx-int8 changes (ocr.core.onnx_int8)


def resolve_model(name_or_path: str | None, default_name: str, kind: str = "model") -> tuple[str, str]:
    """A model's files: name or path (a stem, or its .params/.json; None = ``default_name``; a bare name not found
    here is looked up in MODELS_DIR) -> (params path, json path). Raises FileNotFoundError naming the ``kind``."""
    name_or_path = name_or_path or default_name
    stem = os.path.splitext(name_or_path)[0] if name_or_path.endswith((".params", ".json")) else name_or_path
    if not os.path.exists(stem + ".json") and not os.path.dirname(stem):
        stem = os.path.join(MODELS_DIR, stem)
    if not (os.path.exists(stem + ".json") and os.path.exists(stem + ".params")):
        raise FileNotFoundError("no %s model %s.params + %s.json" % (kind, stem, stem))
    return stem + ".params", stem + ".json"


def pick_context(gpu_id: int | str) -> "mx.Context":
    """-g value (an id, or a comma list whose first id is used; < 0 = CPU) -> mx.gpu(id) when that GPU exists,
    else mx.cpu() with a one-line notice on stderr when a GPU was asked for. Imports MXNet."""
    import mxnet as mx
    first = int(str(gpu_id).split(",")[0])
    if first < 0:
        return mx.cpu()
    if mx.context.num_gpus() <= first:
        print("no GPU %d available: running on CPU" % first, file=sys.stderr)
        return mx.cpu()
    return mx.gpu(first)


class ModelLoadError(ValueError):
    """A model's two files exist but cannot be loaded: damaged, or written for another version of the network."""


def load_error(kind: str, params_path: str, error: Exception) -> ModelLoadError:
    """The one-line ModelLoadError saying that the ``kind`` model ``params_path`` cannot be loaded, and why."""
    reason = " ".join(str(error).split())
    return ModelLoadError("cannot load the %s model %s: %s: %s"
                          % (kind, params_path, type(error).__name__, reason[:300]))


def load_net(name_or_path: str | None, default_name: str, kind: str, build: Callable, ctx: "mx.Context | None" = None,
             engine: str = "mxnet", export: Callable | None = None) -> tuple:
    """A model's net and card: (net, ModelCard, ctx) with ``ctx`` as given (None: the CPU); see resolve_model for
    ``name_or_path``. Raises FileNotFoundError (no such model) or ModelLoadError (one line: which model, and why).
    ``engine`` 'mxnet': the hybridized Gluon net ``build(card.network)`` with the model's weights, on ``ctx``.
    'onnx': an ocr.core.onnx_engine.OnnxNet running the model's ONNX graph from the cache, or, when the cache does
    not hold it, the graph ``export(gluon net, card)`` (an onnx.ModelProto) builds (see ocr.core.onnx_engine);
    'onnx-int8': for a model of INT8_STAGES that graph with int8 LSTM weights (ocr.core.onnx_int8), else as 'onnx'.
    Either net runs on numpy arrays with run_net."""
    if engine not in ENGINES:
        raise ValueError("unknown engine %r (choose from %s)" % (engine, ", ".join(ENGINES)))
    params_path, json_path = resolve_model(name_or_path, default_name, kind)
    try:
        card = read_card(json_path)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise load_error(kind, params_path, error) from None

    def gluon_net():
        from ocr.core.mxnet_engine import load_gluon_net
        return load_gluon_net(params_path, card.network, build, ctx, kind)

    if engine == "mxnet":
        return gluon_net(), card, ctx
    from ocr.core.onnx_engine import onnx_net
    int8 = engine == "onnx-int8" and card.stage in INT8_STAGES
    return onnx_net(params_path, json_path, lambda: export(gluon_net(), card), int8=int8), card, ctx


def run_net(net, data: np.ndarray, ctx: "mx.Context | None" = None) -> np.ndarray | tuple[np.ndarray, ...]:
    """A net of load_net (an OnnxNet, or a Gluon net, which runs on ``ctx``; None: the CPU) on a float32 batch
    ``data`` (N, ...) -> its output, or the tuple of its outputs, as numpy arrays."""
    from ocr.core.onnx_engine import OnnxNet
    if isinstance(net, OnnxNet):
        return net.run(data)
    from ocr.core.mxnet_engine import run_gluon_net
    return run_gluon_net(net, data, ctx)


def check_stage(card: ModelCard, stage: str, what: str) -> ModelCard:
    """``card`` when it is a card of ``stage``; raises ModelLoadError naming ``what`` was expected otherwise."""
    if card.stage != stage:
        raise ModelLoadError("not a %s model: its card is for the %s stage" % (what, card.stage))
    return card
