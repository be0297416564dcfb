"""ONNX export and the onnxruntime engine: exported graphs compute what the Gluon nets compute (random tiny nets and
the shipped models), the cache is reused and keyed by the model files, and a missing runtime is one clear error."""
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest

from ocr import export
from ocr.core import loading as models
from ocr.paragraph.net import build_paragraph_net
from ocr.recognition.net import build_recognizer
from ocr.core import onnx_engine
from ocr.core.onnx_engine import EngineUnavailable, cached_graph, session_from_bytes
from ocr.core.onnx_export import block_to_onnx, import_onnx
from ocr.core.onnx_int8 import INT8_LIMIT, VARIANT as INT8_VARIANT, quantize_lstms, quantize_rows
from ocr.recognition.onnx_graph import recognizer_to_onnx
from ocr.recognition.predictor import Recognizer, onnx_graph
from ocr.words.predictor import WordDetector
from ocr.core.paths import REPO_ROOT
from ocr.core.training import save_params
from ocr.pipeline import Pipeline, outputs
from tests.test_recognizer import TINY, TINY_SIZE, WORDS, render_line, save_tiny_model, tiny_net


def run_graph(model, data):
    """onnx.ModelProto on onnxruntime: float32 (N, ...) -> list of output arrays."""
    session = session_from_bytes(model.SerializeToString())
    return session.run(None, {session.get_inputs()[0].name: data})


@pytest.mark.parametrize("layers", [1, 2])
def test_tiny_recogniser_graph_matches_mxnet_at_any_batch_and_width(layers):
    mx.random.seed(layers)
    net = build_recognizer({**TINY, "rnn_layers": layers})
    net.initialize(mx.init.Xavier())
    net.hybridize()
    net(mx.nd.zeros((1, 1) + TINY_SIZE))
    model = recognizer_to_onnx(net, TINY_SIZE)
    rng = np.random.default_rng(0)
    for shape in [(1, 1) + TINY_SIZE, (3, 1, TINY_SIZE[0], 64)]:          # width is free in the graph
        data = rng.normal(size=shape).astype(np.float32)
        expected = net(mx.nd.array(data)).asnumpy()
        got, = run_graph(model, data)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


def test_one_dimensional_convolutions_of_the_paragraph_net_export():
    mx.random.seed(0)
    net = build_paragraph_net({"input_size": [96, 64], "stem_channels": 4, "channels": [8, 8],
                               "context_channels": 8, "profile_channels": 8})
    net.initialize(mx.init.Xavier())
    data = np.random.default_rng(1).random((2, 1, 96, 64), dtype=np.float32)
    expected = net(mx.nd.array(data)).asnumpy()
    got, = run_graph(block_to_onnx(net, (1, 1, 96, 64)), data)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("stem", sorted(export.MODELS))
def test_shipped_model_export_agrees_with_mxnet(stem, tmp_path):
    graph, size, difference = export.export_model(stem, out=str(tmp_path))
    assert graph == str(tmp_path / (stem + ".onnx")) and os.path.getsize(graph) == size
    assert difference < 1e-4
    with pytest.raises(FileExistsError):
        export.export_model(stem, out=str(tmp_path))


def tiny_model(folder, seed=0):
    """A tiny random recogniser saved as folder/m.params + m.json -> the stem."""
    return save_tiny_model(str(folder / "m"), tiny_net(seed))


def test_onnx_engine_reads_as_mxnet_and_reuses_its_cached_graph(tmp_path):
    stem = tiny_model(tmp_path)
    lines = [render_line(w) for w in WORDS[:5]]
    expected = Recognizer.load(stem).recognize(lines, batch_size=2)
    recognizer = Recognizer.load(stem, engine="onnx")
    got = recognizer.recognize(lines, batch_size=2)
    assert [text for text, _ in got] == [text for text, _ in expected]
    np.testing.assert_allclose(np.stack([p for _, p in got]), np.stack([p for _, p in expected]), atol=1e-5)
    built = os.path.getmtime(recognizer.net.path)

    def no_export(net, info):
        raise AssertionError("the cached graph should have been used")
    net, info, _ = models.load_net(stem, None, "recogniser", build_recognizer, engine="onnx", export=no_export)
    assert net.path == recognizer.net.path and os.path.getmtime(net.path) == built


def test_cache_key_follows_the_weights(tmp_path):
    stem = tiny_model(tmp_path, seed=0)
    net, info, _ = models.load_net(stem, None, "recogniser", build_recognizer)
    first, _ = cached_graph(stem + ".params", stem + ".json", lambda: onnx_graph(net, info), str(tmp_path / "cache"))
    save_params(tiny_net(seed=1), stem + ".params")                       # a retrained model
    second, _ = cached_graph(stem + ".params", stem + ".json", lambda: onnx_graph(net, info), str(tmp_path / "cache"))
    assert first != second and os.path.isfile(first) and os.path.isfile(second)
    assert not [n for n in os.listdir(tmp_path / "cache") if n.endswith(".tmp")]


def test_missing_onnxruntime_is_one_line_saying_how_to_install(tmp_path, monkeypatch):
    stem = tiny_model(tmp_path)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)                  # import onnxruntime -> ImportError
    with pytest.raises(EngineUnavailable) as error:
        Recognizer.load(stem, engine="onnx")
    assert "\n" not in str(error.value) and "pip install onnxruntime" in str(error.value)
    assert isinstance(error.value, models.ModelLoadError)                 # the CLIs print it as one error line


def test_an_unwritable_cache_builds_the_graph_in_memory(tmp_path, monkeypatch):
    stem = tiny_model(tmp_path, seed=7)                  # weights no other test has cached a graph of
    monkeypatch.setattr(onnx_engine.paths, "atomic_write_bytes", _refuse)
    net, _, _ = models.load_net(stem, None, "recogniser", build_recognizer, engine="onnx", export=onnx_graph)
    assert net.path == "(in memory)"
    assert net(mx.nd.zeros((1, 1) + TINY_SIZE)).shape[0] == 1


def _refuse(path, data):
    raise PermissionError(13, "Permission denied", path)


def test_engine_option_on_the_command_lines():
    from ocr import evaluate, pipeline
    assert pipeline.parse_args(["page.png"]).engine == "onnx-int8"            # the fastest, CER within 0.1
    assert pipeline.parse_args(["page.png", "-g", "0"]).engine == "mxnet"     # onnx would not use the GPU
    assert pipeline.parse_args(["page.png", "-g", "0", "--engine", "onnx"]).engine == "onnx"
    assert pipeline.parse_args(["page.png", "--engine", "mxnet"]).engine == "mxnet"
    assert evaluate.parse_args(["--iam-root", "x"]).engine == "onnx-int8"
    assert evaluate.parse_args(["--iam-root", "x", "--engine", "mxnet"]).engine == "mxnet"
    with pytest.raises(ValueError):
        models.load_net(None, "handwriting_line", "recogniser", build_recognizer, engine="tensorflow")


@pytest.mark.parametrize("engine", ["onnx", "onnx-int8"])
def test_a_run_on_cached_graphs_never_imports_mxnet_and_reads_as_mxnet(engine, tmp_path, monkeypatch):
    page = os.path.join(REPO_ROOT, "samples", "page.png")
    monkeypatch.setattr(onnx_engine.paths, "CACHE_DIR", str(tmp_path))
    built = Pipeline.load(engine=engine)                              # builds the three graphs into tmp_path/onnx
    expected = outputs.to_text(built.transcribe(page))
    if engine == "onnx":
        assert expected == outputs.to_text(Pipeline.load(engine="mxnet").transcribe(page))
    script = ("import sys\nfrom ocr.pipeline.cli import main\nstatus = main([%r, '--engine', %r])\n"
              "print('mxnet imported:', 'mxnet' in sys.modules, file=sys.stderr)\nsys.exit(status)" % (page, engine))
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "OCR_CACHE_DIR": str(tmp_path)})
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines()[-1] == "mxnet imported: False"
    assert run.stdout == expected and len(expected.splitlines()) == 5


def test_int8_rows_round_trip_within_half_a_step():
    weights = np.random.default_rng(3).normal(size=(2, 8, 5)).astype(np.float32)
    weights[1, 3] = 0                                                    # an all-zero gate row
    quantized, scales = quantize_rows(weights)
    assert quantized.dtype == np.int8 and quantized.shape == (2, 5, 8) and scales.shape == (2, 8)
    assert np.abs(quantized).max() == INT8_LIMIT and scales[1, 3] == 1
    restored = quantized.transpose(0, 2, 1) * scales[..., None]
    assert np.all(np.abs(restored - weights) <= scales[..., None] / 2 + 1e-7)


def test_int8_recogniser_graph_stays_near_the_float_one():
    mx.random.seed(5)
    net = build_recognizer({**TINY, "rnn_layers": 2})
    net.initialize(mx.init.Xavier())
    net(mx.nd.zeros((1, 1) + TINY_SIZE))
    model = recognizer_to_onnx(net, TINY_SIZE)
    data = np.random.default_rng(2).normal(size=(3, 1, TINY_SIZE[0], 64)).astype(np.float32)
    expected, = run_graph(model, data)
    quantized = quantize_lstms(model)
    assert [n.op_type for n in quantized.graph.node].count("DynamicQuantizeLSTM") == 2
    assert "LSTM" not in [n.op_type for n in quantized.graph.node]
    assert not {"lstm0_W", "lstm0_R"} & {t.name for t in quantized.graph.initializer}   # float copies dropped
    got, = run_graph(quantized, data)
    assert got.shape == expected.shape
    assert 0 < np.abs(got - expected).max() < 0.02 * np.abs(expected).max()


def test_int8_engine_caches_its_own_graph_beside_the_float_one(tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_engine.paths, "CACHE_DIR", str(tmp_path))
    stem = tiny_model(tmp_path, seed=4)
    lines = [render_line(w) for w in WORDS[:5]]
    expected = Recognizer.load(stem, engine="onnx").recognize(lines, batch_size=2)
    recognizer = Recognizer.load(stem, engine="onnx-int8")
    name = os.path.basename(recognizer.net.path)
    assert name.startswith("m-%s-" % INT8_VARIANT)
    assert sorted(os.listdir(tmp_path / "onnx")) == sorted([name, name.replace("-" + INT8_VARIANT, "")])
    ops = [node.op_type for node in import_onnx().load(recognizer.net.path).graph.node]
    assert "DynamicQuantizeLSTM" in ops and "LSTM" not in ops
    got = recognizer.recognize(lines, batch_size=2)
    np.testing.assert_allclose(np.stack([p for _, p in got]), np.stack([p for _, p in expected]), atol=0.05)

    def no_export(net, info):
        raise AssertionError("the cached int8 graph should have been used")
    again, _, _ = models.load_net(stem, None, "recogniser", build_recognizer, engine="onnx-int8", export=no_export)
    assert again.path == recognizer.net.path


def test_int8_engine_leaves_nets_without_lstms_as_they_are(tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_engine.paths, "CACHE_DIR", str(tmp_path))
    detector = WordDetector.load(engine="onnx-int8")
    assert os.listdir(tmp_path / "onnx") == [os.path.basename(detector.net.path)]
    assert INT8_VARIANT not in detector.net.path
