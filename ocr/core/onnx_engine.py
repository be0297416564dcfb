"""The onnxruntime engine: a loaded model's ONNX graph (built once into a cache) run in place of its Gluon net.

Where the graphs live: ``<cache>/onnx/<model stem>-<key>.onnx`` (``<cache>``: ocr.core.paths.CACHE_DIR, data/cache by
default, not in git), built on first use from the loaded net and written atomically. ``key`` hashes the model's
.params and .json bytes with EXPORT_VERSION, so a retrained model or a changed exporter gets a new file and a
stale graph is never run; the 'onnx-int8' engine's graph (the recogniser's, with int8 LSTM weights:
ocr.core.onnx_int8) is made from the float one and cached beside it as ``<model stem>-<VARIANT>-<key>.onnx``
(ocr.core.onnx_int8.VARIANT). (The three graphs hold the weights again, 13 MB; kept out of models/ so that git does
not carry a second copy of every retrained model, nor one that can drift from its .params.)

Nothing here imports MXNet: a graph in the cache is read and run without it; one that is not is built by the
caller's ``build`` (which loads the Gluon net and exports it, ocr.core.loading.load_net). ``OnnxNet.run`` takes and
gives numpy arrays (what the predictors use, through ocr.core.loading.run_net); called like the Gluon net it
replaces (NDArrays in and out) it serves code that compares the two engines.
"""
import hashlib
import os
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from ocr.core import paths
from ocr.core.loading import ModelLoadError
from ocr.core.onnx_int8 import VARIANT as INT8_VARIANT, quantize_lstms

if TYPE_CHECKING:
    import mxnet as mx
    import onnx
    import onnxruntime

EXPORT_VERSION = "1"      # bump when an ONNX graph builder changes what it writes: cached graphs are then rebuilt
INSTALL_HINT = ".venv/bin/python -m pip install onnxruntime==1.32.0 onnx==1.17.0 (pinned in requirements.txt)"


class EngineUnavailable(ModelLoadError):
    """The ONNX engine was asked for but onnxruntime (or onnx, to build a graph) is not installed."""


def import_onnxruntime() -> ModuleType:
    """The ``onnxruntime`` module, or EngineUnavailable with one line saying how to install it."""
    try:
        import onnxruntime
    except ImportError:
        raise EngineUnavailable("--engine onnx / onnx-int8 needs onnxruntime: %s" % INSTALL_HINT) from None
    return onnxruntime


def session_from_bytes(model_bytes: bytes) -> "onnxruntime.InferenceSession":
    """A serialised ONNX model -> onnxruntime.InferenceSession on the CPU (all graph optimisations, warnings off).
    Its worker threads sleep between runs instead of spinning: in the pipeline the nets alternate with numpy and
    OpenCV work on the same cores, which spinning threads would slow down. No memory patterns: with them a session
    keeps the memory planned for every input shape it has run (the recogniser's batches come in up to 16 sizes),
    and a folder run's peak grew with the folder (50 synth test pages: 554 MB with them, 473 MB without; the same
    speed within the noise)."""
    onnxruntime = import_onnxruntime()
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.enable_mem_pattern = False
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


class OnnxNet:
    """An onnxruntime session running the graph of a Gluon net: ``run`` on numpy arrays, or called like the net
    (NDArrays). ``path``: the graph file ('(in memory)' when the cache could not be written)."""

    def __init__(self, session: "onnxruntime.InferenceSession", path: str | None = None):
        self.session, self.path = session, path
        self.input_name = session.get_inputs()[0].name

    def run(self, data: np.ndarray) -> np.ndarray | tuple[np.ndarray, ...]:
        """The graph on ``data`` (N, ...), cast to float32 -> its output (one) or a tuple of its outputs (several),
        numpy arrays."""
        outputs = self.session.run(None, {self.input_name: np.asarray(data, dtype=np.float32)})
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def __call__(self, data: "mx.nd.NDArray") -> "mx.nd.NDArray | tuple[mx.nd.NDArray, ...]":
        """As the Gluon net: NDArray (N, ...) float32 -> its output(s) as NDArrays on ``data``'s context (the caller
        holds an NDArray, so MXNet is loaded already)."""
        import mxnet as mx
        outputs = self.run(data.asnumpy())
        arrays = tuple(mx.nd.array(output, ctx=data.context, dtype=output.dtype)
                       for output in (outputs if isinstance(outputs, tuple) else (outputs,)))
        return arrays[0] if len(arrays) == 1 else arrays


def cache_path(params_path: str, json_path: str, cache_dir: str | None = None, variant: str = "") -> str:
    """Where the ONNX graph of the model ``params_path`` + ``json_path`` is cached (see the module doc); a
    ``variant`` of the graph (e.g. ocr.core.onnx_int8.VARIANT) is named ``<stem>-<variant>-<key>.onnx``."""
    digest = hashlib.sha256(EXPORT_VERSION.encode())
    for path in (params_path, json_path):
        with open(path, "rb") as f:
            digest.update(hashlib.sha256(f.read()).digest())
    stem = "-".join(filter(None, [os.path.splitext(os.path.basename(params_path))[0], variant]))
    folder = cache_dir or os.path.join(paths.CACHE_DIR, "onnx")
    return os.path.join(folder, "%s-%s.onnx" % (stem, digest.hexdigest()[:16]))


def onnx_bytes(build: Callable[[], "onnx.ModelProto"]) -> bytes:
    """The serialised ONNX graph that ``build()`` returns (EngineUnavailable when the onnx package is missing)."""
    try:
        return build().SerializeToString()
    except ImportError as error:
        raise EngineUnavailable(str(error)) from None


def cached_graph(params_path: str, json_path: str, build: Callable[[], "onnx.ModelProto"],
                 cache_dir: str | None = None, variant: str = "") -> tuple[str, bytes]:
    """(path, serialised graph) of the ONNX graph of the model ``params_path`` + ``json_path``: read from the cache,
    or built with ``build()`` and written there atomically; where the cache cannot be written (a read-only data
    folder) the graph built is used for this process only and the path is '(in memory)'."""
    path = cache_path(params_path, json_path, cache_dir, variant)
    if os.path.isfile(path):
        with open(path, "rb") as f:
            return path, f.read()
    graph = onnx_bytes(build)
    try:
        paths.atomic_write_bytes(path, graph)
    except OSError:
        return "(in memory)", graph
    return path, graph


def int8_graph(params_path: str, json_path: str, build: Callable[[], "onnx.ModelProto"],
               cache_dir: str | None = None) -> "onnx.ModelProto":
    """The model's float graph (cached_graph, built with ``build`` when not cached) with int8 LSTM weights
    (ocr.core.onnx_int8.quantize_lstms)."""
    from ocr.core.onnx_export import import_onnx
    float_graph = cached_graph(params_path, json_path, build, cache_dir)[1]
    return quantize_lstms(import_onnx().load_from_string(float_graph))


def onnx_net(params_path: str, json_path: str, build: Callable[[], "onnx.ModelProto"],
             cache_dir: str | None = None, int8: bool = False) -> OnnxNet:
    """An OnnxNet running the ONNX graph of the model ``params_path`` + ``json_path`` (see cached_graph); ``int8``:
    its LSTMs with int8 weights (int8_graph), cached beside the float graph (ocr.core.onnx_int8.VARIANT)."""
    import_onnxruntime()                      # fail before exporting anything when the runtime is missing
    make = (lambda: int8_graph(params_path, json_path, build, cache_dir)) if int8 else build
    path, graph = cached_graph(params_path, json_path, make, cache_dir, INT8_VARIANT if int8 else "")
    return OnnxNet(session_from_bytes(graph), path)
