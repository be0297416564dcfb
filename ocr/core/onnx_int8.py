"""int8 LSTM weights in an ONNX graph: what the 'onnx-int8' engine runs (ocr.core.loading.ENGINES).

The recogniser spends most of its time in its two bidirectional LSTM layers (ONNX ``LSTM`` nodes: about 60% of its
onnxruntime time on a batch of 8 lines 600 px wide; the conv trunk most of the rest). ``quantize_lstms`` replaces
each of them by onnxruntime's ``DynamicQuantizeLSTM`` (com.microsoft domain), which multiplies in int8: the weights
W and R are stored as int8, symmetric (zero point 0), with one float32 scale per gate row (per output channel, the
finest the operator takes), and each step's inputs are quantised on the fly. Biases, the trunk and the classifier
stay float32. The text read changes a little (measured in the README, "Speed"); graphs without LSTM nodes come
back as they are (the engine applies it to the recogniser only: ocr.core.loading.INT8_STAGES).
"""
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnx

INT8_LIMIT = 127                  # symmetric range -127..127, as onnxruntime's own quantiser uses for int8 weights
MS_DOMAIN = "com.microsoft"
VARIANT = "int8v1"                # cache name of the graphs quantize_lstms writes: bump it when what they hold changes


def quantize_rows(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 LSTM weights (D, 4H, K) (D directions, 4H gate rows, K inputs) -> (int8 (D, K, 4H), the layout
    DynamicQuantizeLSTM reads; float32 scales (D, 4H)), so that weights ~= int8.transpose(0, 2, 1) * scales[..., None].
    An all-zero row gets scale 1."""
    scales = np.abs(weights).max(axis=2) / INT8_LIMIT
    scales[scales == 0] = 1.0
    quantized = np.clip(np.rint(weights / scales[..., None]), -INT8_LIMIT, INT8_LIMIT).astype(np.int8)
    return np.ascontiguousarray(quantized.transpose(0, 2, 1)), scales.astype(np.float32)


def quantize_lstms(model: "onnx.ModelProto") -> "onnx.ModelProto":
    """``model`` with each ``LSTM`` node whose W and R are initializers run as a DynamicQuantizeLSTM on int8 copies
    of them (quantize_rows); the float W and R are dropped. Changes ``model`` in place and returns it."""
    import onnx
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    graph = model.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    replaced = []
    for index, node in enumerate(graph.node):
        if node.op_type != "LSTM" or not all(name in initializers for name in node.input[1:3]):
            continue
        quantized_inputs = []
        for name in node.input[1:3]:                                    # W, R
            weights, scales = quantize_rows(numpy_helper.to_array(initializers[name]))
            graph.initializer.extend([numpy_helper.from_array(weights, name + "_int8"),
                                      numpy_helper.from_array(scales, name + "_scale"),
                                      numpy_helper.from_array(np.zeros(scales.shape, np.int8), name + "_zero")])
            quantized_inputs.append(name + "_int8")
            replaced.append(name)
        optional = list(node.input[3:]) + [""] * (8 - len(node.input))         # B, lengths, h0, c0, P
        scales_and_zeros = [name + suffix for name in node.input[1:3] for suffix in ("_scale", "_zero")]
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute if a.name != "layout"}
        graph.node[index].CopyFrom(helper.make_node(
            "DynamicQuantizeLSTM", [node.input[0]] + quantized_inputs + optional + scales_and_zeros,
            list(node.output), node.name, domain=MS_DOMAIN, **attributes))
    if replaced:
        kept = [tensor for tensor in graph.initializer if tensor.name not in replaced]
        del graph.initializer[:]
        graph.initializer.extend(kept)
        if all(opset.domain != MS_DOMAIN for opset in model.opset_import):
            model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    return model
