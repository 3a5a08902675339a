"""The live gate under systemd's notify protocol, against a fake notify socket: a
pipeline stalled on purpose stops the watchdog pings; they resume when it recovers."""

from __future__ import annotations

import socket
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest

from edge.app.live import LiveGate
from edge.config import validate
from edge.sim.thermal import SceneSpec, synthesize

pytestmark = [pytest.mark.fault, pytest.mark.broker]


def _datagrams(sock: socket.socket, window_s: float) -> list[str]:
    """Everything that arrives within `window_s` (a bounded wait on the socket itself)."""
    sock.settimeout(window_s)
    got = []
    try:
        while True:
            got.append(sock.recv(4096).decode())
    except TimeoutError:
        return got


def _wait_for(sock: socket.socket, needle: str, timeout_s: float) -> bool:
    sock.settimeout(timeout_s)
    try:
        while True:
            if needle in sock.recv(4096).decode():
                return True
    except TimeoutError:
        return False


def test_stalled_pipeline_stops_watchdog_pings(
    tmp_path: Path, broker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = tmp_path / "scene"
    synthesize(scene, SceneSpec(people=2, passers=0, seed=5))
    sock_dir = Path(tempfile.mkdtemp(prefix="nfy", dir="/tmp"))
    sock_path = sock_dir / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(sock_path))
    monkeypatch.setenv("WATCHDOG_USEC", "600000")  # 0.6 s: pings every 0.3 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    settings = validate(
        {
            "gate": {"site": "fault", "gate": "watchdog"},
            "mqtt": {"broker": broker.url},
            "source": {"path": str(scene), "loop": True, "speed": 4.0},
        },
        "test",
    )
    gate = LiveGate(settings)
    release, stalled_in_process = threading.Event(), threading.Event()
    real_process = gate.pipeline.process
    frames = [0]

    def process(frame: Any) -> Any:
        frames[0] += 1
        if frames[0] == 20:
            stalled_in_process.set()
            release.wait(30.0)  # the pipeline hangs here, on purpose
        return real_process(frame)

    monkeypatch.setattr(gate.pipeline, "process", process)
    runner = threading.Thread(target=gate.run)
    runner.start()
    try:
        assert _wait_for(sock, "READY=1", 10.0)
        assert _wait_for(sock, "WATCHDOG=1", 5.0), "no pings while healthy"
        assert stalled_in_process.wait(30.0)
        assert gate.watchdog.wait_for_state("stalled", 10.0)
        _datagrams(sock, 0.05)  # whatever was sent before the stall was noticed
        silent = _datagrams(sock, 3 * 0.3 + 0.5)
        assert not [d for d in silent if "WATCHDOG=1" in d], silent
        release.set()
        assert gate.watchdog.wait_for_state("ok", 10.0)
        assert _wait_for(sock, "WATCHDOG=1", 5.0), "pings did not resume"
    finally:
        release.set()
        gate.stop.set()
        runner.join(30.0)
        sock.close()
    assert not runner.is_alive()
    assert gate.watchdog.stats()["stalls"] == 1
