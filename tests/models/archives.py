"""Building model caches and archives (tarballs) for the model-store tests."""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
from pathlib import Path

from edge import models


def copy_cache(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for spec in models.manifest().values():
        if (src / spec.file).is_file():
            shutil.copy2(src / spec.file, dst / spec.file)
    return dst


def make_tar(path: Path, members: dict[str, bytes], *, links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
    return path


def sha_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
