"""Function-preserving widening of the recogniser (a wider CNN trunk and/or more biLSTM units, same outputs at
the start).

A trained LineRecognizer with trunk ``width`` w is copied into one with w' >= w (more channels in every conv):
* every old channel keeps its weights, and reads the new channels of the conv below through zero weights;
* the new channels get freshly initialised weights and batch-norm statistics (they see all channels below);
* the LSTM reads the new channels' features (appended after the old ones: features are channel-major) through
  zero weights.
A trained LineRecognizer with ``rnn_hidden`` H is copied into one with H' >= H units per direction:
* every old unit keeps its weights, and its weights from the new units are zero, so old units compute exactly
  what they computed before;
* the new units get freshly initialised incoming weights (they see the inputs and all units);
* the next layer and the classifier read the new units through zero weights.
The widened net therefore gives the same scores as the old one, and training grows the new units from there
(their outgoing weights get gradients at once, because the new units' activations are not zero).
Arrays are numpy, keyed by the names ``save_parameters`` writes (``rnn._unfused.<layer>.<l|r>_cell.<param>``).
"""
import re

import mxnet as mx
import numpy as np

from ocr.recognition.net import LineRecognizer, build_recognizer
from ocr.core.training import settle_shapes

GATES = 4        # MXNet LSTM rows are [input, forget, cell, output] gates, each ``hidden`` rows
_RNN_PARAM = re.compile(r"^rnn\._unfused\.(\d+)\.[lr]_cell\.(i2h|h2h)_(weight|bias)$")


def _unit_rows(old_hidden, new_hidden):
    """Indices, in a widened (GATES * new_hidden) gate vector, of the old units' rows (gate-major order)."""
    return np.concatenate([g * new_hidden + np.arange(old_hidden) for g in range(GATES)])


def _bidirectional_columns(old_hidden, new_hidden):
    """Indices, in a widened (2 * new_hidden) biLSTM output, of the old (forward, backward) units."""
    return np.concatenate([np.arange(old_hidden), new_hidden + np.arange(old_hidden)])


def _grown_trunk_param(source: np.ndarray, fresh: np.ndarray) -> np.ndarray:
    """A trunk parameter with more channels: a conv weight (O', I', kh, kw) or a batch-norm vector (O',) whose
    first O rows are ``source``'s; the old rows read the new input channels through zero weights; the new rows
    keep their ``fresh`` values."""
    if any(new < old for new, old in zip(fresh.shape, source.shape)) or fresh.shape[2:] != source.shape[2:]:
        raise ValueError("trunk parameter of shape %s cannot come from %s" % (fresh.shape, source.shape))
    out = np.array(fresh, dtype=source.dtype)
    channels = source.shape[0]
    if source.ndim == 4:
        out[:channels] = 0
        out[:channels, :source.shape[1]] = source
    else:
        out[:channels] = source
    return out


def widen_params(old: dict[str, np.ndarray], fresh: dict[str, np.ndarray], old_hidden: int,
                 new_hidden: int) -> dict[str, np.ndarray]:
    """Widened parameters: {name: array} of the wide net, from ``old`` (the trained narrow net's arrays) and
    ``fresh`` (a freshly initialised wide net's arrays, same names, wide shapes). Trunk parameters with more
    channels grow as the module docstring says (the LSTM's first layer then reads the new features through zero
    weights); parameters outside the trunk, LSTM and classifier are copied from ``old`` unchanged; shapes must
    otherwise agree."""
    if new_hidden < old_hidden:
        raise ValueError("cannot narrow the LSTM from %d to %d units" % (old_hidden, new_hidden))
    rows = _unit_rows(old_hidden, new_hidden)
    columns = _bidirectional_columns(old_hidden, new_hidden)
    widened = {}
    for name, wide in fresh.items():
        source = old[name]
        match = _RNN_PARAM.match(name)
        out = np.array(wide, dtype=source.dtype)          # new units' entries keep their fresh values
        if match:
            layer, kind, what = int(match.group(1)), match.group(2), match.group(3)
            if what == "bias":
                out[:] = 0
                out[rows] = source
            else:
                if kind == "h2h":                      # columns: this direction's own units
                    old_columns = np.arange(old_hidden)
                elif layer == 0:                       # columns: the old trunk's features (the first ones)
                    old_columns = np.arange(source.shape[1])
                else:                                  # columns: both directions of the layer below
                    old_columns = columns
                out[rows] = 0                          # old units ignore new units ...
                out[np.ix_(rows, old_columns)] = source   # ... and keep their own weights
        elif name.startswith("trunk."):
            out = _grown_trunk_param(source, out)
        elif name == "classifier.weight":
            out[:] = 0
            out[:, columns] = source
        elif out.shape != source.shape:
            raise ValueError("%s: shape %s cannot come from %s" % (name, out.shape, source.shape))
        else:
            out = source.copy()
        widened[name] = out
    return widened


def widen_recognizer(net: LineRecognizer, network: dict, input_size: tuple[int, int], rnn_hidden: int | None = None,
                     dropout: float | None = None, seed: int = 0, width: int | None = None
                     ) -> tuple[LineRecognizer, dict]:
    """A hybridized LineRecognizer with ``rnn_hidden`` LSTM units per direction, trunk ``width`` and ``dropout``
    (each None: as ``network``) that computes the same scores as ``net`` (built from config ``network``, inputs
    ``input_size`` = (H, W) pixels). Returns (wide net, its network config dict)."""
    wide_network = dict(network)
    for key, value in (("rnn_hidden", rnn_hidden), ("width", width), ("dropout", dropout)):
        if value is not None:
            wide_network[key] = value
    if wide_network["width"] < network["width"]:
        raise ValueError("cannot narrow the trunk from width %d to %d" % (network["width"], wide_network["width"]))
    mx.random.seed(seed)
    wide = build_recognizer(wide_network)
    wide.initialize(mx.init.Xavier())
    settle_shapes(wide, (1, 1) + tuple(input_size), mx.cpu())
    old = {k: v.data().asnumpy() for k, v in net._collect_params_with_prefix().items()}
    params = wide._collect_params_with_prefix()
    widened = widen_params(old, {k: v.data().asnumpy() for k, v in params.items()}, network["rnn_hidden"],
                           wide_network["rnn_hidden"])
    for name, param in params.items():
        param.set_data(mx.nd.array(widened[name]))
    wide.hybridize(static_alloc=True)
    return wide, wide_network
