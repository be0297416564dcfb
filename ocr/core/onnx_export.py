"""Gluon nets -> ONNX graphs (``onnx.ModelProto``), through MXNet 1.9's own exporter (mx2onnx) at opset 13.

Input of every exported graph: ``data``, float32 (N, 1, H, W), the same standardised array the Gluon net takes;
its outputs are the net's outputs, same shapes and order. The batch N is always dynamic; so is the width W when
the caller asks (the recogniser reads lines of any width).

Two things of mx2onnx 1.9.1 are worked around here, both without changing what the graph computes:
* it stamps the graph with the newest opset of the installed ``onnx`` while its translations stop at opset 13
  (ReduceMean's ``axes`` attribute is invalid from opset 18), so its converter is called at opset 13 directly, and
  the graph check inside it runs with onnx's default checker context set to opset 13 meanwhile (then restored);
* it refuses 1-D convolutions (layout ``NCW``) although ONNX's Conv takes them as they are: the layout attribute,
  which MXNet also infers from the 3-D input, is dropped from the symbol before conversion.
It also lists every weight as a graph input, which keeps onnxruntime from folding constants; they are removed.
The recogniser's 2-layer bidirectional LSTM is not exported by mx2onnx at all: see ocr.recognition.onnx_graph.
"""
import contextlib
import json
from types import ModuleType
from typing import TYPE_CHECKING

import mxnet as mx
from mxnet import gluon

if TYPE_CHECKING:
    import onnx

OPSET = 13


def import_onnx() -> ModuleType:
    """The ``onnx`` package, or ImportError with one line saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise ImportError("the ONNX export needs the onnx package: .venv/bin/python -m pip install onnx==1.17.0 "
                          "(pinned in requirements.txt)") from None
    return onnx


def block_symbol(block: gluon.HybridBlock) -> tuple[mx.sym.Symbol, dict[str, mx.nd.NDArray]]:
    """A Gluon HybridBlock (parameters initialised) -> (its symbol on the input variable ``data``, with several
    outputs grouped; params: {name: NDArray} of every weight and running statistic the symbol uses)."""
    outputs = block(mx.sym.var("data"))
    symbol = mx.sym.Group(list(outputs)) if isinstance(outputs, (list, tuple)) else outputs
    params = {p.name: p.data() for p in block.collect_params().values()}
    used = set(symbol.list_arguments()) | set(symbol.list_auxiliary_states())
    return symbol, {name: value for name, value in params.items() if name in used}


def _drop_1d_layouts(symbol):
    """The symbol with ``layout='NCW'`` removed from its Convolution nodes (the same computation: MXNet infers
    NCW from the 3-D input), so that mx2onnx exports them as 1-D ONNX Conv nodes."""
    graph = json.loads(symbol.tojson())
    for node in graph["nodes"]:
        if node["op"] == "Convolution" and node.get("attrs", {}).get("layout") == "NCW":
            del node["attrs"]["layout"]
    return mx.sym.load_json(json.dumps(graph))


@contextlib.contextmanager
def _checker_opset(onnx, opset):
    """Within the block, onnx.checker's default context (used by mx2onnx's own graph check) checks at ``opset``."""
    context = onnx.checker.DEFAULT_CONTEXT
    saved = context.opset_imports
    context.opset_imports = {"": opset}
    try:
        yield
    finally:
        context.opset_imports = saved


def symbol_to_onnx(symbol: mx.sym.Symbol, params: dict[str, mx.nd.NDArray], input_shape: tuple[int, int, int, int],
                   dynamic_axes: tuple[int, ...] = (0,)) -> "onnx.ModelProto":
    """An MXNet symbol with one input ``data`` -> onnx.ModelProto at opset 13.

    params: {name: NDArray}; input_shape: a concrete (N, C, H, W) used to trace shapes; dynamic_axes: the input
    axes left free in the graph (default: the batch). Weights are initializers, not graph inputs."""
    onnx = import_onnx()
    from mxnet.onnx.mx2onnx._export_onnx import MXNetGraph   # the converter behind mx.onnx.export_model
    dynamic_shape = tuple(None if axis in dynamic_axes else size for axis, size in enumerate(input_shape))
    with _checker_opset(onnx, OPSET):
        graph = MXNetGraph().create_onnx_graph_proto(
            _drop_1d_layouts(symbol), params, [tuple(input_shape)], [onnx.TensorProto.FLOAT], opset_version=OPSET,
            dynamic=True, dynamic_input_shapes=[dynamic_shape])
    weights = {tensor.name for tensor in graph.initializer}
    inputs = [value for value in graph.input if value.name not in weights]
    del graph.input[:]
    graph.input.extend(inputs)
    consumed = {name for node in graph.node for name in node.input}
    kept = [tensor for tensor in graph.initializer if tensor.name in consumed]     # mx2onnx leaves some unused
    del graph.initializer[:]
    graph.initializer.extend(kept)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="ocr.core.onnx_export")
    onnx.checker.check_model(model)
    return model


def block_to_onnx(block: gluon.HybridBlock, input_shape: tuple[int, int, int, int],
                  dynamic_axes: tuple[int, ...] = (0,)) -> "onnx.ModelProto":
    """A Gluon HybridBlock (initialised) -> onnx.ModelProto computing the same outputs (see symbol_to_onnx);
    ``input_shape``: a concrete (N, C, H, W) input, pixels; ``dynamic_axes``: the input axes left free."""
    symbol, params = block_symbol(block)
    return symbol_to_onnx(symbol, params, input_shape, dynamic_axes)
