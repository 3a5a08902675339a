"""The model cache: where it is, verified look-up (sha256 once per process), atomic writes.

Where the cache is (`models_dir()`), first match wins:

1. the environment variable GATE_EDGE_MODELS (a gate under systemd sets it);
2. `<checkout>/models/cache` when the package runs from a source checkout (editable install);
3. `$XDG_CACHE_HOME/gate-edge/models`, else `~/.cache/gate-edge/models`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from pathlib import Path

from edge.models import specs  # specs.manifest() is looked up per call (tests replace it)
from edge.models.errors import ModelError
from edge.models.specs import ModelSpec, fallbacks_of, get_spec

ENV_DIR = "GATE_EDGE_MODELS"
_CHECKOUT = Path(__file__).resolve().parent.parent.parent


def models_dir() -> Path:
    """The model cache: $GATE_EDGE_MODELS, else <checkout>/models/cache, else the user cache."""
    env = os.environ.get(ENV_DIR, "").strip()
    if env:
        return Path(env).expanduser()
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "models").is_dir():
        return _CHECKOUT / "models" / "cache"
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "gate-edge" / "models"


_verified: dict[tuple[str, int, int, int], str] = {}
_verified_lock = threading.Lock()


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _cached_sha256(path: Path) -> str:
    """sha256 of a file, hashed once per process while its size, mtime and inode stay put."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    with _verified_lock:
        known = _verified.get(key)
    if known is None:
        known = file_sha256(path)
        with _verified_lock:
            _verified[key] = known
    return known


def forget_verified() -> None:
    """Drop the per-process verification cache (tests; after files were replaced)."""
    with _verified_lock:
        _verified.clear()


def _mismatch(spec: ModelSpec, path: Path, actual: str) -> str:
    return (
        f"model {spec.name!r}: {path} does not match the manifest (sha256 {actual}, expected "
        f"{spec.sha256}): run gate-edge models to fetch it again"
    )


def model_path(name: str, directory: Path | None = None) -> Path:
    """Path of a cached model whose sha256 matches the manifest, else ModelError.

    Example: `onnxruntime.InferenceSession(str(model_path("onet")))`. The file is hashed once
    per process (again only if it changes on disk).
    """
    spec = get_spec(name)
    where = directory if directory is not None else models_dir()
    path = where / spec.file
    if not path.is_file():
        raise ModelError(f"model {name!r} is missing from {where}: run gate-edge models")
    try:
        actual = _cached_sha256(path)
    except OSError as exc:
        raise ModelError(f"model {name!r}: cannot read {path}: {exc}") from None
    if actual != spec.sha256:
        raise ModelError(_mismatch(spec, path, actual))
    return path


def model_status(directory: Path | None = None) -> list[tuple[ModelSpec, str]]:
    """Every manifest model with "ok", "missing" or the mismatch/read error."""
    out: list[tuple[ModelSpec, str]] = []
    for spec in specs.manifest().values():
        try:
            model_path(spec.name, directory)
            out.append((spec, "ok"))
        except ModelError as exc:
            missing = "is missing from" in str(exc)
            out.append((spec, "missing" if missing else str(exc)))
    return out


def check_models(directory: Path | None = None) -> list[str]:
    """Problems for `gate-edge check`: an empty list means every needed model is in place.

    A default model that is missing is a problem unless one of its fallbacks verifies; any
    model file that is present but does not match the manifest is a problem.
    """
    where = directory if directory is not None else models_dir()
    status = model_status(where)
    ok = {spec.name for spec, state in status if state == "ok"}
    problems: list[str] = []
    for spec, state in status:
        if state == "ok":
            continue
        if state == "missing":
            if spec.default and not any(f.name in ok for f in fallbacks_of(spec.name)):
                problems.append(
                    f"model {spec.name!r} is missing from {where}: run gate-edge models"
                )
        else:
            problems.append(state)
    return problems


def _write_atomic(dest: Path, name: str, data: bytes) -> Path:
    final = dest / name
    fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return final
