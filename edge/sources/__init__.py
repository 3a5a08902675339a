"""Frame sources. Replay: `open_recording` picks the reader for a recording v1 folder or a CPTV
file; both hand out the same frame types a live camera source does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from edge.core.types import Frame, StreamInfo
from edge.errors import RecordingError
from edge.sources.cptv import CptvSource
from edge.sources.recording import RecordingSource

__all__ = ["CptvSource", "RecordingSource", "Source", "open_recording"]

GZIP_MAGIC = b"\x1f\x8b"


@runtime_checkable
class Source(Protocol):
    """A stream of frames plus what is known about it before the first frame."""

    @property
    def meta(self) -> StreamInfo: ...

    def frames(self) -> Iterator[Frame]:
        """Yield ThermalFrame / RgbFrame lazily in non-decreasing t_ns order; ties keep a
        stable order. Each call starts again from the first frame."""
        ...


def open_recording(path: Path) -> Source:
    """Open a recording v1 folder (or its meta.json) or a CPTV v2 file, validating its header.

    Raises RecordingError (naming the file) when the path is neither, or is invalid.
    """
    path = Path(path)
    if path.is_dir():
        return RecordingSource(path)
    if path.name == "meta.json" and path.is_file():
        return RecordingSource(path.parent)
    if not path.exists():
        raise RecordingError(f"{path}: recording not found (expected a folder with meta.json "
                             "or a .cptv file)")
    try:
        with path.open("rb") as fh:
            magic = fh.read(len(GZIP_MAGIC))
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read: {exc.strerror}") from exc
    if path.suffix.lower() == ".cptv" or magic == GZIP_MAGIC:
        return CptvSource(path)
    raise RecordingError(f"{path}: not a recording (neither a folder with meta.json nor a "
                         "gzip-compressed .cptv file)")
