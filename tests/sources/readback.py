"""Reading a recording back in the source tests: every frame, or the one error it must raise."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.core.types import ThermalFrame
from edge.errors import RecordingError
from edge.sources import open_recording


def decode_all(path: Path) -> list[ThermalFrame]:
    frames = list(open_recording(path).frames())
    assert all(isinstance(f, ThermalFrame) for f in frames)
    return [f for f in frames if isinstance(f, ThermalFrame)]


def expect_error(path: Path, *needles: str, frames_before: int | None = None) -> None:
    """open + iterate must raise RecordingError naming the file and every needle."""
    seen = 0
    with pytest.raises(RecordingError) as info:
        for _ in open_recording(path).frames():
            seen += 1
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    if frames_before is not None:
        assert seen == frames_before  # frames before the corrupt one were delivered
