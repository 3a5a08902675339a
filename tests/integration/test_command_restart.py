"""Issue 9, commands across a restart, with a real Mosquitto and real `gate-edge run` children:
`screening.set` survives the restart (metrics and info), a captured command republished as
retained is refused as `retained`, the same command sent again unretained is refused as
`replayed`, and every command message gets its `cmd_result` (applied or why not)."""

from __future__ import annotations

import json
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from edge.commands.envelope import command_topic
from edge.commands.keys import generate_keypair, load_private_key
from edge.commands.verify import sign_command
from edge.sim.thermal import SceneSpec, synthesize
from edge.transport.mqtt import BrokerOptions, Subscriber
from edge.transport.mqtt.client import publish_once
from tests.integration.gate_process import SITE, start_gate

pytestmark = [pytest.mark.fault, pytest.mark.broker]

WAIT_S = 60.0
THRESHOLD = 38.2


def _config(path: Path, broker_url: str, gate: str, scene: Path, state: Path,
            key: Path) -> Path:
    path.write_text(
        f'[gate]\nsite = "{SITE}"\ngate = "{gate}"\n'
        f'[mqtt]\nbroker = "{broker_url}"\nmetrics_interval_s = 1\nconnect_timeout_s = 2\n'
        f'[source]\nkind = "replay"\npath = "{scene}"\nspeed = 1.0\nloop = true\n'
        f'[state]\ndir = "{state}"\n'
        f'[commands]\ntrusted_keys = ["{key}"]\n'
    )
    return path


class Watch:
    """The gate's cmd_result, info and metrics as a backend sees them."""

    def __init__(self, url: str, gate: str) -> None:
        self.base = f"gate/{SITE}/{gate}"
        self.sub = Subscriber(BrokerOptions(url=url), [f"{self.base}/{t}" for t in
                                                       ("cmd_result", "info", "metrics")]).start()
        assert self.sub.subscribed.wait(10.0)
        self.results: list[dict[str, Any]] = []
        self.info: dict[str, Any] = {}
        self.metrics: dict[str, Any] = {}

    def until(self, predicate: Any, what: str) -> None:
        for _ in range(int(WAIT_S * 5)):
            if predicate(self):
                return
            message = self.sub.get(0.2)
            if message is None:
                continue
            body = json.loads(message[1])
            leaf = message[0].rsplit("/", 1)[1]
            if leaf == "cmd_result":
                self.results.append(body)
            else:
                setattr(self, leaf, body)
        threshold = self.metrics.get("threshold_c")
        raise AssertionError(f"timed out waiting for {what}: results {self.results}, "
                             f"info {self.info}, metrics threshold {threshold}")

    def result(self, command_id: str | None, reason: str | None = None) -> dict[str, Any]:
        self.until(lambda w: any(r["id"] == command_id and r["reason"] == reason
                                 for r in w.results), f"cmd_result {command_id} {reason}")
        return next(r for r in self.results if r["id"] == command_id and r["reason"] == reason)


def _stop(gate: subprocess.Popen[bytes], log: Path) -> None:
    gate.send_signal(signal.SIGTERM)
    assert gate.wait(30.0) == 0, log.read_text()[-3000:]


def test_commands_across_a_restart(tmp_path: Path, broker: Any) -> None:
    name = f"cmd{uuid.uuid4().hex[:8]}"
    scene = tmp_path / "scene"
    synthesize(scene, SceneSpec(people=2, passers=0, seed=31))
    private, public = generate_keypair(tmp_path / "keys")
    key = load_private_key(private)
    config = _config(tmp_path / "gate.toml", broker.url, name, scene, tmp_path / "state", public)
    options = BrokerOptions(url=broker.url)
    topic = command_topic("gate", SITE, name, "screening.set")
    applied = sign_command(key, "screening.set", {"threshold_c": THRESHOLD}, SITE, name, 3600)
    out_of_bounds = sign_command(key, "screening.set", {"threshold_c": 45.0}, SITE, name, 60)
    applied_id, bad_id = json.loads(applied)["id"], json.loads(out_of_bounds)["id"]
    watch, log = Watch(broker.url, name), tmp_path / "gate.log"

    gate = start_gate(config, log)
    try:
        watch.until(lambda w: w.metrics, "the first metrics (gate up, commands subscribed)")
        default = watch.metrics["threshold_c"]
        assert watch.info["settings"] == {"source": "config"}
        publish_once(options, topic, applied)
        publish_once(options, topic, out_of_bounds)
        publish_once(options, topic, b"not json")
        ok = watch.result(applied_id)
        assert (ok["name"], ok["status"]) == ("screening.set", "applied")
        assert watch.result(bad_id, "bad_args")["status"] == "rejected"
        assert watch.result(None, "not_json")["name"] is None
        watch.until(lambda w: w.metrics.get("threshold_c") == THRESHOLD, "the new threshold")
        watch.until(lambda w: w.info["settings"].get("screening.threshold_c") == THRESHOLD,
                    "the settings in info")
        _stop(gate, log)

        # The captured command, republished retained while the gate is down.
        publish_once(options, topic, applied, retain=True)
        watch.results.clear()
        watch.metrics = {}
        gate = start_gate(config, log)
        assert watch.result(applied_id, "retained")["status"] == "rejected"
        watch.until(lambda w: w.metrics, "metrics after the restart")
        assert watch.metrics["threshold_c"] == THRESHOLD != default
        assert watch.info["settings"]["screening.threshold_c"] == THRESHOLD
        assert watch.info["settings"]["source"].startswith(f"command {applied_id} at ")

        publish_once(options, topic, applied)  # the same command, unretained: a replay
        assert watch.result(applied_id, "replayed")["status"] == "rejected"
        watch.until(lambda w: w.metrics.get("commands", {}).get("replayed") == 1
                    and w.metrics["commands"].get("retained") == 1, "the counts in metrics")
        assert watch.metrics["threshold_c"] == THRESHOLD
        _stop(gate, log)
    finally:
        if gate.poll() is None:
            gate.kill()
        publish_once(options, topic, b"", retain=True)  # clear the retained command
        watch.sub.close()
    text = log.read_text()
    assert "command rejected: retained" in text and "command rejected: replayed" in text
    assert "command settings restored over the config: screening.set" in text
