"""Loading a model: ``<stem>.params`` + ``<stem>.json`` (its card, ocr.core.card) -> a hybridized net and its card."""
import os
import sys
from typing import Callable

import mxnet as mx

from ocr.core.card import ModelCard, read_card
from ocr.core.paths import MODELS_DIR

ENGINES = ("mxnet", "onnx")       # what runs the nets: MXNet Gluon, or onnxruntime on their ONNX export


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


def pick_context(gpu_id: int | str) -> mx.Context:
    """-g value (an id, or a comma list whose first id is used; < 0 = CPU) -> mx.gpu(id) when that GPU exists,
    else mx.cpu() with a one-line notice on stderr when a GPU was asked for."""
    first = int(str(gpu_id).split(",")[0])
    if first < 0:
        return mx.cpu()
    if mx.context.num_gpus() <= first:
        print("no GPU %d available: running on CPU" % first, file=sys.stderr)
        return mx.cpu()
    return mx.gpu(first)


class ModelLoadError(ValueError):
    """A model's two files exist but cannot be loaded: damaged, or written for another version of the network."""


def load_net(name_or_path: str | None, default_name: str, kind: str, build: Callable, ctx: mx.Context | None = None,
             engine: str = "mxnet", export: Callable | None = None) -> tuple:
    """Build a net from its card's ``network`` config with ``build`` and load its weights on ``ctx`` (default CPU).
    Returns (hybridized net, ModelCard, ctx); see resolve_model for ``name_or_path``. Raises FileNotFoundError (no
    such model) or ModelLoadError (one line: which model, and why).
    ``engine``: 'mxnet' (the Gluon net) or 'onnx': the net is replaced by an ocr.core.onnx_engine.OnnxNet, called the
    same way, running the graph ``export(net, card)`` (an onnx.ModelProto) builds (cached; see ocr.core.onnx_engine)."""
    if engine not in ENGINES:
        raise ValueError("unknown engine %r (choose from %s)" % (engine, ", ".join(ENGINES)))
    params_path, json_path = resolve_model(name_or_path, default_name, kind)
    ctx = ctx or mx.cpu()
    try:
        card = read_card(json_path)
        net = build(card.network)
        net.load_parameters(params_path, ctx=ctx)
    except (OSError, ValueError, KeyError, TypeError, mx.base.MXNetError) as error:
        reason = " ".join(str(error).split())
        raise ModelLoadError("cannot load the %s model %s: %s: %s"
                             % (kind, params_path, type(error).__name__, reason[:300])) from None
    net.hybridize(static_alloc=True)
    if engine == "onnx":
        from ocr.core.onnx_engine import onnx_net
        net = onnx_net(net, card, params_path, json_path, export)
    return net, card, ctx


def check_stage(card: ModelCard, stage: str, what: str) -> ModelCard:
    """``card`` when it is a card of ``stage``; raises ModelLoadError naming ``what`` was expected otherwise."""
    if card.stage != stage:
        raise ModelLoadError("not a %s model: its card is for the %s stage" % (what, card.stage))
    return card
