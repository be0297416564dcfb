"""Where the toolkit keeps generated data, and the one helper that writes files atomically."""
import os
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA_DIR = os.environ.get("OCR_DATA_DIR", os.path.join(REPO_ROOT, "data"))   # fonts, text corpus (not in git)
MODELS_DIR = os.path.join(REPO_ROOT, "models")                               # shipped weights (in git)
CACHE_DIR = os.environ.get("OCR_CACHE_DIR", os.path.join(DATA_DIR, "cache"))  # processed-image caches


def refuse_overwrite(path: str, overwrite: bool = False) -> None:
    """Raise FileExistsError (a one-line message) when ``path`` exists and ``overwrite`` is not set."""
    if os.path.exists(path) and not overwrite:
        raise FileExistsError("%s already exists (pass --overwrite to replace it)" % path)


def atomic_write_bytes(path: str, data: bytes) -> None:
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


def atomic_write_text(path: str, text: str) -> None:
    """Atomic UTF-8 text write (see atomic_write_bytes)."""
    atomic_write_bytes(path, text.encode("utf-8"))
