"""Where the toolkit keeps generated data, and the one helper that writes files atomically."""
import os
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.environ.get("OCR_DATA_DIR", os.path.join(REPO_ROOT, "data"))   # fonts, text corpus (not in git)
MODELS_DIR = os.path.join(REPO_ROOT, "models")                               # shipped weights (in git)
CACHE_DIR = os.environ.get("OCR_CACHE_DIR", os.path.join(DATA_DIR, "cache"))  # processed-image caches


def resolve_model(name_or_path, default_name, kind="model"):
    """A model's files: name or path (a stem, or its .params/.json; None = ``default_name``; a bare name not found
    here is looked up in MODELS_DIR) -> (params path, json path). Raises FileNotFoundError naming the ``kind``."""
    name_or_path = name_or_path or default_name
    stem = os.path.splitext(name_or_path)[0] if name_or_path.endswith((".params", ".json")) else name_or_path
    if not os.path.exists(stem + ".json") and not os.path.dirname(stem):
        stem = os.path.join(MODELS_DIR, stem)
    if not (os.path.exists(stem + ".json") and os.path.exists(stem + ".params")):
        raise FileNotFoundError("no %s model %s.params + %s.json" % (kind, stem, stem))
    return stem + ".params", stem + ".json"


def refuse_overwrite(path, overwrite=False):
    """Raise FileExistsError (a one-line message) when ``path`` exists and ``overwrite`` is not set."""
    if os.path.exists(path) and not overwrite:
        raise FileExistsError("%s already exists (pass --overwrite to replace it)" % path)


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` through a temp file in the same folder and a rename: never half-written."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)          # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text):
    """Atomic UTF-8 text write (see atomic_write_bytes)."""
    atomic_write_bytes(path, text.encode("utf-8"))
