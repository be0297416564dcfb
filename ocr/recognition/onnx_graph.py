"""The line recogniser (ocr.recognition.net.LineRecognizer) as one ONNX graph.

mx2onnx 1.9.1 cannot export a bidirectional LSTM of more than one layer, so the graph is built in two parts that
compute what the Gluon net computes:
* the conv trunk, exported by mx2onnx (ocr.core.onnx_export.block_to_onnx): ``data`` (N, 1, H, W) -> (N, C, H', T);
* the rest written with ONNX operators, the weights copied from the net: columns (T, N, C * H') -> one
  bidirectional ONNX ``LSTM`` node per layer (outputs of the two directions concatenated, forward first, as MXNet
  does) -> Dense (MatMul + Add) -> ``scores`` (N, T, num_classes), unnormalised like the net's output.
Dropout is the identity at inference and is left out. N and W (hence T = W / 2**num_downsamples) are dynamic.

Gate order: MXNet's fused RNN stores the four gate blocks of each weight and bias as (input, forget, cell, output),
ONNX's LSTM as (input, output, forget, cell); the blocks are reordered when copied.
"""
from typing import TYPE_CHECKING

import numpy as np

from ocr.core.onnx_export import block_to_onnx, import_onnx
from ocr.recognition.net import LineRecognizer

if TYPE_CHECKING:
    import onnx

MXNET_TO_ONNX_GATES = (0, 3, 1, 2)      # ONNX gate k is MXNet gate MXNET_TO_ONNX_GATES[k]
OUTPUT = "scores"


def _reorder_gates(array):
    """(4 * H, ...) MXNet gate blocks (i, f, c, o) -> the same rows as ONNX blocks (i, o, f, c)."""
    blocks = np.split(array, 4)
    return np.concatenate([blocks[i] for i in MXNET_TO_ONNX_GATES])


def lstm_layer_weights(rnn_params: dict[str, np.ndarray], layer: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights of one bidirectional layer as ONNX's LSTM takes them.

    rnn_params: {suffix: array} of the Gluon LSTM (``l0_i2h_weight``, ``r0_h2h_bias``, ...; l = forward,
    r = backward). Returns float32 (W (2, 4H, input), R (2, 4H, H), B (2, 8H) = input biases then hidden biases)."""
    def stacked(kind):
        return np.stack([_reorder_gates(rnn_params["%s%d_%s" % (direction, layer, kind)]) for direction in "lr"])
    bias = np.concatenate([stacked("i2h_bias"), stacked("h2h_bias")], axis=1)
    return (stacked("i2h_weight").astype(np.float32), stacked("h2h_weight").astype(np.float32),
            bias.astype(np.float32))


def _rnn_params(rnn):
    """The Gluon LSTM's parameters as {suffix without the block's prefix: float32 numpy array}."""
    return {p.name[len(rnn.prefix):]: p.data().asnumpy() for p in rnn.collect_params().values()}


def recognizer_to_onnx(net: LineRecognizer, input_size: tuple[int, int]) -> "onnx.ModelProto":
    """A LineRecognizer (weights loaded) -> onnx.ModelProto: ``data`` (N, 1, H, W) -> ``scores`` (N, T, classes).

    input_size: (H, W) of the model card, used to trace the trunk's shapes; N and W stay dynamic in the graph."""
    onnx = import_onnx()
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    height, width = input_size
    model = block_to_onnx(net.trunk, (1, 1, height, width), dynamic_axes=(0, 3))
    graph = model.graph
    features = graph.output[0].name                                   # (N, C, H', T)
    rnn = _rnn_params(net.rnn)
    hidden = rnn["l0_h2h_weight"].shape[1]
    layers = sum(1 for name in rnn if name.endswith("_i2h_weight") and name.startswith("l"))

    def constant(name, array):
        graph.initializer.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    nodes = [helper.make_node("Transpose", [features], ["columns_tnch"], perm=[3, 0, 1, 2]),   # (T, N, C, H')
             helper.make_node("Reshape", ["columns_tnch", constant("columns_shape", np.array([0, 0, -1], np.int64))],
                              ["columns"])]                              # (T, N, C * H'), C major as in MXNet
    sequence = "columns"
    for layer in range(layers):
        weights = lstm_layer_weights(rnn, layer)
        names = [constant("lstm%d_%s" % (layer, part), array) for part, array in zip("WRB", weights)]
        nodes += [helper.make_node("LSTM", [sequence] + names, ["lstm%d_y" % layer], hidden_size=hidden,
                                   direction="bidirectional"),          # (T, 2, N, H)
                  helper.make_node("Transpose", ["lstm%d_y" % layer], ["lstm%d_t" % layer], perm=[0, 2, 1, 3]),
                  helper.make_node("Reshape", ["lstm%d_t" % layer,
                                               constant("lstm%d_shape" % layer, np.array([0, 0, -1], np.int64))],
                                   ["lstm%d_out" % layer])]             # (T, N, 2H): forward then backward
        sequence = "lstm%d_out" % layer
    dense_weight = net.classifier.weight.data().asnumpy()              # (classes, 2H)
    dense_bias = net.classifier.bias.data().asnumpy()
    nodes += [helper.make_node("MatMul", [sequence, constant("classifier_wt", dense_weight.T.copy())],
                               ["classifier_mm"]),
              helper.make_node("Add", ["classifier_mm", constant("classifier_b", dense_bias)], ["classifier_tnc"]),
              helper.make_node("Transpose", ["classifier_tnc"], [OUTPUT], perm=[1, 0, 2])]   # (N, T, classes)
    graph.node.extend(nodes)
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(OUTPUT, onnx.TensorProto.FLOAT,
                                                      ["N", "T", dense_weight.shape[0]]))
    onnx.checker.check_model(model)
    return model
