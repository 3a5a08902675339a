"""When the live gate kicks the watchdog (issue 9 item 6): only while frames come in or the
source is knowingly idle, not merely because the loop spins. Before, `_between_frames`
kicked on every pass (the loop wakes every 0.5 s without a frame), so a capture thread hung
inside a read was never reported."""

from __future__ import annotations

import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.app.live import LiveGate
from edge.config import validate
from edge.core.types import Frame
from edge.sim.thermal import SceneSpec, synthesize

pytestmark = [pytest.mark.broker]


@pytest.fixture
def live_gate(
    tmp_path: Path, broker: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveGate]:
    scene = tmp_path / "scene"
    synthesize(scene, SceneSpec(people=1, passers=0, seed=3))
    sock_dir = Path(tempfile.mkdtemp(prefix="nfy", dir="/tmp"))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_dir / "notify"))
    monkeypatch.setenv("NOTIFY_SOCKET", str(sock_dir / "notify"))
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")  # stalled after 1 s without a kick
    settings = validate(
        {
            "gate": {"site": "wd", "gate": f"kick{tmp_path.name[-6:]}"},
            "mqtt": {"broker": broker.url},
            "source": {"path": str(scene), "loop": True, "speed": 4.0, "stall_s": 0.5},
        },
        "test",
    )
    gate = LiveGate(settings)
    yield gate
    gate.stop.set()
    sock.close()


def _run(gate: LiveGate) -> threading.Thread:
    runner = threading.Thread(target=gate.run, daemon=True)
    runner.start()
    return runner


def test_capture_hung_inside_a_read_stalls_the_watchdog(live_gate: LiveGate) -> None:
    gate = live_gate
    release, hung = threading.Event(), threading.Event()
    real_open = gate.capture._open

    def hangs_after_ten_frames() -> Iterator[Frame]:
        for i, frame in enumerate(real_open()):
            if i == 10 and not release.is_set():
                hung.set()
                release.wait(30.0)  # a camera driver stuck in a read: the loop spins on
            yield frame

    gate.capture._open = hangs_after_ten_frames
    runner = _run(gate)
    try:
        assert gate.watchdog.wait_for_state("ok", 5.0)
        assert hung.wait(20.0)
        frames_at_hang = gate.frames
        assert gate.watchdog.wait_for_state("stalled", 10.0), "a hung read was never reported"
        assert gate.capture.read_blocked_s() > gate.settings.source.stall_s
        assert gate.frames == frames_at_hang  # no frame came: the stall is real
        release.set()
        assert gate.watchdog.wait_for_state("ok", 10.0)  # frames again: pings resume
        assert gate.frames > frames_at_hang
    finally:
        release.set()
        gate.stop.set()
        runner.join(30.0)
    assert not runner.is_alive() and gate.watchdog.stalls == 1


def test_a_failing_source_in_backoff_is_knowingly_idle_and_keeps_the_watchdog_fed(
    live_gate: LiveGate,
) -> None:
    gate = live_gate
    opened: list[int] = []

    def fails_at_open() -> Iterator[Frame]:
        opened.append(1)
        raise OSError("camera unplugged")
        yield  # a generator, like a real source

    gate.capture._open = fails_at_open
    runner = _run(gate)
    try:
        assert gate.watchdog.wait_for_checks(4, 15.0)  # about 4 s with no frame at all
        assert gate.frames == 0 and len(opened) >= 2
        assert gate.watchdog.state == "ok" and gate.watchdog.withheld == 0
        assert gate.watchdog.pings >= 3
    finally:
        gate.stop.set()
        runner.join(30.0)
    assert not runner.is_alive()
