"""The `fake` camera: a recording played through the FrameDevice interface at its own pace
(fake clock here: the device's sleeps move it), ending with StreamEnded or looping, a
reopened camera showing the present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.sim.thermal import SceneSpec, synthesize
from edge.sources import open_recording
from edge.sources.cameras.base import DeviceError
from edge.sources.cameras.capture import StreamEnded
from edge.sources.cameras.fake import Playback


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fake") / "scene"
    synthesize(path, SceneSpec(people=1, passers=0, seed=3))
    return path


def _playback(scene: Path, clock: Clock, **kw: object) -> Playback:
    return Playback(scene, clock=clock, sleep=clock.sleep, **kw)  # type: ignore[arg-type]


def test_plays_every_frame_at_the_recordings_pace_then_ends(scene: Path) -> None:
    clock = Clock()
    recorded = [f for f in open_recording(scene).frames()]
    device = _playback(scene, clock).opener("thermal")()
    assert device.kind == "thermal" and device.encoding == "centikelvin"
    got, at = [], []
    with pytest.raises(StreamEnded, match="the recording ended"):
        while True:
            frame = device.read(1.0)
            if frame is not None:
                got.append(frame.data)
                at.append(clock.t)
    assert len(got) == len(recorded) == 60
    assert all(np.array_equal(a, f.counts) for a, f in zip(got, recorded, strict=True))  # type: ignore[union-attr]
    span_s = (recorded[-1].t_ns - recorded[0].t_ns) / 1e9
    assert at[-1] - at[0] == pytest.approx(span_s, abs=1e-6)  # real time = recording time


def test_a_short_timeout_returns_none_until_the_frame_is_due(scene: Path) -> None:
    clock = Clock()
    device = _playback(scene, clock, speed=0.5).opener("thermal")()
    assert device.read(0.01) is not None  # the first frame is due at once
    assert device.read(0.01) is None  # the next one is 2 x 1/9 s away at half speed
    frame = device.read(1.0)
    assert frame is not None


def test_a_reopened_camera_shows_the_present_and_a_loop_goes_on(scene: Path) -> None:
    clock = Clock()
    playback = _playback(scene, clock, loop=True)
    opener = playback.opener("thermal")
    first = opener()
    assert first.read(1.0) is not None
    first.close()
    with pytest.raises(DeviceError, match="read after close"):
        first.read(1.0)
    clock.t += 3.0  # closed for 3 s: 27 frames of the scene went by
    again = opener()
    reads = [again.read(1.0) for _ in range(80)]  # more frames than one pass: it loops
    assert all(r is not None for r in reads)
    recorded = [f.counts for f in open_recording(scene).frames()]  # type: ignore[union-attr]
    assert not np.array_equal(reads[0].data, recorded[1])  # type: ignore[union-attr]


def test_a_stream_the_recording_lacks_cannot_be_opened(scene: Path) -> None:
    with pytest.raises(DeviceError, match="no rgb stream"):
        _playback(scene, Clock()).opener("rgb")
