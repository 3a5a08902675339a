"""`gate-edge run` on live cameras (issue 12 item 3): the fake device screens a scene end to
end; a camera that vanishes and comes back is in the retained info and the metrics; a read
that hangs stops the watchdog. Real broker, real pipeline, fake devices."""

from __future__ import annotations

import json
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import edge.app.live
from edge.app.cameras import Camera, Role
from edge.app.live import LiveGate
from edge.app.replay import replay
from edge.config import CameraConfig, Settings, validate
from edge.sim.rgb import synthesize_rgb
from edge.sim.rgb_plan import RgbSceneSpec
from edge.sim.thermal import SceneSpec, synthesize
from edge.sources import open_recording
from edge.sources.cameras.base import DeviceError
from tests.integration.gate_process import SITE, Backend
from tests.mqtt_helpers import RawSub
from tests.sources.cameras.fakes import FakeClock, FakeOpener, Step, frames, thermal

pytestmark = [pytest.mark.broker]
WAIT_S = 20.0


def _settings(broker: Any, gate: str, thermal_table: dict[str, object],
              **source: object) -> Settings:
    return validate({
        "gate": {"site": SITE, "gate": gate},
        "mqtt": {"broker": broker.url, "metrics_interval_s": 0.2},
        "thermal": {"reference": {"mode": "off"}},
        "source": {"kind": "cameras", "thermal": thermal_table, **source},
    }, "test")


def _start(gate: LiveGate) -> threading.Thread:
    runner = threading.Thread(target=gate.run, daemon=True)
    runner.start()
    return runner


def _fake_cameras(monkeypatch: pytest.MonkeyPatch, opener: FakeOpener, **table: Any) -> None:
    """`run` opens `opener` as its Lepton (the test seam: the config's cameras are replaced)."""
    config = CameraConfig(device="lepton", index=0, **table)

    def cameras(_settings: Settings) -> dict[Role, Camera]:
        return {"thermal": Camera("thermal", config, opener, "thermal:fake lepton")}

    monkeypatch.setattr(edge.app.live, "camera_openers", cameras)


def _info_until(sub: RawSub, predicate: Any) -> dict[str, Any]:
    while True:
        info: dict[str, Any] = json.loads(sub.next_on("/info").payload)
        if predicate(info):
            return info


def test_run_on_a_fake_camera_screens_the_scene_like_replay(
    broker: Any, gate: str, tmp_path: Path
) -> None:
    scene = tmp_path / "scene"
    summary = synthesize(scene, SceneSpec(people=2, passers=0, pair_fraction=0.0, seed=4))
    settings = _settings(broker, gate, {"device": "fake", "path": str(scene), "speed": 4.0})
    as_replay = settings.model_copy(update={"source": settings.source.model_copy(
        update={"kind": "replay", "thermal": None})})
    expected = sorted(d.type for d in replay(as_replay, scene, publish=False).decisions)
    assert len(expected) == summary.people
    backend = Backend(broker.url, gate)
    try:
        live = LiveGate(settings)
        assert live.cameras is not None and not live.pipeline.uses_rgb
        assert live.run() == 0  # the fake camera's recording ended: decide, flush, offline
        assert backend.wait_for(lambda ev: len(ev) >= len(expected), WAIT_S)
    finally:
        backend.close()
    assert sorted(e["type"] for e in backend.events) == expected
    stats = live.cameras.supply.stats()["thermal"]
    assert (stats.state, stats.errors, stats.freezes, stats.reopens) == ("ended", 0, 0, 0)
    assert stats.frames == summary.frames  # every frame of the recording, at its pace
    # each frame read was processed, dropped for a newer one, or refused by the guard
    assert live.frames + stats.drops + sum(live.guard.dropped.values()) == stats.frames


def test_a_vanished_camera_is_reported_lost_and_back(
    broker: Any, gate: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    gone = DeviceError("thermal:fake lepton: unplugged")
    missing = DeviceError("thermal:fake lepton: no such device")
    plans: list[list[Step] | Exception] = [
        [*frames(thermal, range(5)), "hang", gone], missing, missing,
        [*frames(thermal, range(10, 15)), "hang"],
    ]
    opener = FakeOpener(plans, clock)
    # lost for 0.4 + 0.8 + 0.8 s of backoff: longer than the loop's 0.5 s between looks
    _fake_cameras(monkeypatch, opener, min_backoff_s=0.4, max_backoff_s=0.8)
    settings = _settings(broker, gate, {"device": "lepton", "index": 0})
    sub = RawSub(broker.url, f"gate/{SITE}/{gate}/#")
    live = LiveGate(settings)
    runner = _start(live)
    try:
        first = opener.device(0)
        assert first.hanging.wait(WAIT_S)
        _info_until(sub, lambda i: i.get("cameras", {}).get("thermal", {}).get("state") == "ok")
        first.release.set()  # the next read: unplugged
        lost = _info_until(sub, lambda i: i["cameras"]["thermal"]["state"] == "lost")
        assert lost["cameras"]["thermal"]["device"] == "thermal:fake lepton"
        assert lost["cameras"]["thermal"]["error"] in (
            "thermal:fake lepton: unplugged", "thermal:fake lepton: no such device")
        back = opener.device(1)
        assert back.hanging.wait(WAIT_S)
        ok = _info_until(sub, lambda i: i["cameras"]["thermal"]["state"] == "ok")
        assert ok["cameras"]["thermal"]["error"] is None
        metrics = json.loads(sub.next_on("/metrics").payload)
        cams = metrics["source"]["cameras"]["thermal"]
        assert (cams["reopens"], cams["errors"], cams["state"]) == (1, 3, "ok")
        assert cams["frames"] == 10 and metrics["source"]["errors"] == 3
        assert metrics["capture"]["bound"] == 1  # one slot: the thermal camera's
        back.release.set()
    finally:
        live.stop.set()
        runner.join(30.0)
        sub.close()
    assert not runner.is_alive()


@pytest.fixture
def notify(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    sock_dir = Path(tempfile.mkdtemp(prefix="nfy", dir="/tmp"))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_dir / "notify"))
    monkeypatch.setenv("NOTIFY_SOCKET", str(sock_dir / "notify"))
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")  # stalled after 1 s without a kick
    yield
    sock.close()


def test_a_camera_read_that_hangs_stops_the_watchdog(
    broker: Any, gate: str, monkeypatch: pytest.MonkeyPatch, notify: None
) -> None:
    opener = FakeOpener([[*frames(thermal, range(5)), "hang"], frames(thermal, range(5, 9))],
                        FakeClock())
    _fake_cameras(monkeypatch, opener, read_timeout_s=0.2, open_timeout_s=0.2)
    live = LiveGate(_settings(broker, gate, {"device": "lepton", "index": 0}, stall_s=0.3))
    assert live.cameras is not None and live.cameras.hang_s == pytest.approx(0.5)
    runner = _start(live)
    device = opener.device(0)
    try:
        assert live.watchdog.wait_for_state("ok", WAIT_S)
        assert device.hanging.wait(WAIT_S)
        assert live.watchdog.wait_for_state("stalled", WAIT_S), "a hung read was never reported"
        assert live.cameras.supply.read_blocked_s() > live.cameras.hang_s
        device.release.set()  # the read returns, long past stall_s: the camera is reopened
        assert opener.device(1).played.wait(WAIT_S)
        assert live.watchdog.wait_for_state("ok", WAIT_S)  # reads return again: pings resume
        assert live.cameras.supply.stats()["thermal"].stalls == 1
    finally:
        device.release.set()
        live.stop.set()
        runner.join(30.0)
    assert not runner.is_alive() and live.watchdog.stalls == 1


def test_rgb_and_thermal_fake_cameras_screen_at_the_canthus(
    broker: Any, gate: str, tmp_path: Path, models_ready: None
) -> None:
    scene = tmp_path / "scene"
    summary = synthesize_rgb(scene, RgbSceneSpec(people=2, pair_fraction=0.0, seed=8))
    h = open_recording(scene).meta.rgb_to_thermal
    assert h is not None
    fake = {"device": "fake", "path": str(scene), "speed": 2.0}
    settings = _settings(broker, gate, fake, rgb=fake)
    settings = settings.model_copy(update={"registration": settings.registration.model_copy(
        update={"rgb_to_thermal": h.tolist()})})
    backend = Backend(broker.url, gate)
    try:
        live = LiveGate(settings)
        assert live.pipeline.uses_rgb and live.cameras is not None
        assert list(live.cameras.supply.cameras) == ["thermal", "rgb"]
        assert live.run() == 0
        assert backend.wait_for(lambda ev: len(ev) >= summary.people, WAIT_S)
    finally:
        backend.close()
    assert all(e["temperature"]["site"] == "canthus" for e in backend.events)
    assert len({e["id"] for e in backend.events}) == summary.people
    stats = live.cameras.supply.stats()
    assert stats["rgb"].frames > 0 and stats["thermal"].frames > 0
    assert live.loop.frames["rgb"] > 0 and not live.guard.dropped
