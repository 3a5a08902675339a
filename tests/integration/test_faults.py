"""Fault suite (issue 4), against real Mosquitto brokers and real gate processes.
Run alone with `pytest -m fault`; `make test` runs it too. Figures go in the README."""

from __future__ import annotations

import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.sim.thermal import SceneSpec, synthesize
from tests.integration.gate_process import Backend, committed_seqs, start_gate, write_config

pytestmark = [pytest.mark.fault, pytest.mark.broker]


def _unique_in_order(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for e in events:
        if e["id"] not in seen:
            seen.add(e["id"])
            out.append(e)
    return out


def _scene(tmp_path: Path, people: int, seed: int) -> tuple[Path, int]:
    scene = tmp_path / "scene"
    summary = synthesize(scene, SceneSpec(people=people, passers=0, seed=seed))
    return scene, summary.people


def test_broker_down_30_s_mid_replay_loses_nothing(tmp_path: Path, make_broker: Any) -> None:
    broker = make_broker(persistence=True)
    scene, people = _scene(tmp_path, 12, seed=21)
    state = tmp_path / "state"
    config = write_config(tmp_path / "gate.toml", broker.url, "outage", scene, state, speed=1.0)
    backend = Backend(broker.url, "outage")
    gate = start_gate(config, tmp_path / "gate.log")
    try:
        assert backend.wait_for(lambda ev: len(ev) >= 1, 60.0), "no event before the outage"
        broker.stop()
        outage = threading.Event()
        outage.wait(30.0)  # the outage itself: the gate keeps measuring into its outbox
        assert gate.poll() is None, "the gate died while the broker was down"
        broker.start()
        assert gate.wait(120.0) == 0
        sent = committed_seqs(state, "outage")
        assert backend.wait_for(lambda ev: {e["seq"] for e in ev} >= set(range(1, sent + 1)),
                                60.0), "events lost across the outage"
    finally:
        if gate.poll() is None:
            gate.kill()
        backend.close()
    unique = _unique_in_order(backend.events)
    seqs = [e["seq"] for e in unique]
    print(f"\noutage 30 s: sent {sent}, deliveries {len(backend.events)}, unique {len(unique)}, "
          f"duplicates {len(backend.events) - len(unique)}")
    assert sent == people  # one event per person, outage or not
    assert sorted(seqs) == list(range(1, sent + 1))
    assert seqs == sorted(seqs), "events arrived out of seq order"


def test_sigkill_at_five_random_points_every_event_exactly_once_after_dedup(
    tmp_path: Path, broker: Any
) -> None:
    scene, people = _scene(tmp_path, 12, seed=22)
    state = tmp_path / "state"
    config = write_config(tmp_path / "gate.toml", broker.url, "sigkill", scene, state, speed=3.0)
    backend = Backend(broker.url, "sigkill")
    rng = np.random.default_rng(1234)
    kills = 0
    try:
        for kill_after in rng.uniform(1.5, 5.0, size=5):
            gate = start_gate(config, tmp_path / "gate.log")
            try:
                gate.wait(float(kill_after))
            except subprocess.TimeoutExpired:
                gate.send_signal(signal.SIGKILL)
                gate.wait(10.0)
                kills += 1
        gate = start_gate(config, tmp_path / "gate.log")
        assert gate.wait(120.0) == 0
        sent = committed_seqs(state, "sigkill")
        assert backend.wait_for(lambda ev: {e["seq"] for e in ev} >= set(range(1, sent + 1)),
                                60.0), "events lost after SIGKILL"
    finally:
        backend.close()
    unique = _unique_in_order(backend.events)
    by_seq: dict[int, set[str]] = {}
    for e in unique:
        by_seq.setdefault(e["seq"], set()).add(e["id"])
    duplicates = len(backend.events) - len(unique)
    print(f"\nSIGKILL x{kills}: committed {sent}, deliveries {len(backend.events)}, unique "
          f"{len(unique)}, duplicates {duplicates}, people in scene {people}")
    assert kills == 5
    assert len(unique) == sent, "every committed event exactly once after de-duplication"
    assert sorted(by_seq) == list(range(1, sent + 1)) and all(len(v) == 1 for v in by_seq.values())
    # Each kill can lose at most the people being measured at that instant; never more.
    assert people - 2 * kills <= sent <= people + 2 * kills


def test_sigterm_flushes_and_goes_offline(tmp_path: Path, broker: Any) -> None:
    from edge.transport.mqtt import BrokerOptions, Subscriber

    scene, _ = _scene(tmp_path, 6, seed=23)
    state = tmp_path / "state"
    config = write_config(tmp_path / "gate.toml", broker.url, "sigterm", scene, state, speed=1.0)
    backend = Backend(broker.url, "sigterm")
    status = Subscriber(BrokerOptions(url=broker.url), ["gate/fault/sigterm/status"]).start()
    gate = start_gate(config, tmp_path / "gate.log")
    try:
        assert backend.wait_for(lambda ev: len(ev) >= 1, 60.0)
        gate.send_signal(signal.SIGTERM)
        assert gate.wait(20.0) == 0, (tmp_path / "gate.log").read_text()[-2000:]
        statuses = []
        while not statuses or statuses[-1] != "offline":
            message = status.get(10.0)
            assert message is not None, statuses
            statuses.append(message[1].decode())
        sent = committed_seqs(state, "sigterm")
        assert backend.wait_for(lambda ev: len({e["id"] for e in ev}) >= sent, 20.0)
    finally:
        status.close()
        backend.close()
    assert "online" in statuses
    assert "SIGTERM" in (tmp_path / "gate.log").read_text()
