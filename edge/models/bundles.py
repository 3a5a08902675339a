"""Bundles for a gate box without internet: `bundle` the verified cache, `install` it there.

A bundle is a tar.gz of the manifest and the .onnx files, every checksum verified against
this package's manifest before anything is written.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

from edge.models import specs  # specs.manifest() is looked up per call (tests replace it)
from edge.models.archive import MAX_MEMBER_BYTES, _safe_member_name
from edge.models.errors import ModelError
from edge.models.specs import MANIFEST_PATH, ModelSpec, parse_manifest
from edge.models.store import _write_atomic, check_models, model_path, model_status, models_dir

BUNDLE_MANIFEST = "manifest.json"


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
    ours = specs.manifest()
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
