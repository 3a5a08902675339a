"""Issue 9 item 3: three 100 MB messages on a gate's command topic, against a real Mosquitto
and a real `gate-edge run` child. The gate connects with MQTT 5 and a Maximum Packet Size
(edge.transport.mqtt.link.MAX_PACKET_BYTES), so the broker drops them instead of sending
them: the gate's memory stays flat, it stays online, events keep flowing and the next valid
command is applied."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.commands.envelope import command_topic
from edge.commands.keys import generate_keypair, load_private_key
from edge.commands.verify import sign_command
from edge.sim.thermal import SceneSpec, synthesize
from edge.transport.mqtt import BrokerOptions, Subscriber, parse_broker_url, publish_once
from tests.integration.gate_process import SITE, start_gate, write_config

pytestmark = [pytest.mark.fault, pytest.mark.broker]

GATE = "big"
BIG = 100 * 1024 * 1024
RSS_LIMIT_KB = 150 * 1024


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


class RssPeak:
    """Samples a process's VmRSS every 50 ms until stopped; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_kb = pid, rss_kb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.peak_kb = max(self.peak_kb, rss_kb(self.pid))
            except (OSError, AssertionError):
                return

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(5.0)
        return self.peak_kb


def _publish_big(url: str, topic: str, count: int) -> None:
    """`count` messages of BIG bytes, QoS 1, from a plain MQTT 3.1.1 client; each PUBACKed."""
    address = parse_broker_url(url)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="big-sender")
    client.connect(address.host, address.port, 60)
    client.loop_start()
    try:
        payload = b'{"args":"' + b"A" * (BIG - 11) + b'"}'
        for _ in range(count):
            info = client.publish(topic, payload, qos=1)
            info.wait_for_publish(120.0)
            assert info.is_published(), "the broker did not take a 100 MB message"
    finally:
        client.disconnect()
        client.loop_stop()


STATUSES: list[str] = []  # every status message seen by _next, in order


def _next(sub: Subscriber, suffix: str, timeout_s: float, want: Any = None) -> Any:
    """The next message of kind `suffix` (status, metrics, event) (and matching `want`), parsed."""
    deadline = time.monotonic() + timeout_s
    while True:
        message = sub.get(max(0.0, deadline - time.monotonic()))
        assert message is not None, f"nothing on {suffix} within {timeout_s} s"
        topic, payload = message
        if topic.endswith("/status"):
            STATUSES.append(payload.decode())
        if topic.split("/")[3] == suffix:  # gate/{site}/{gate}/{suffix}[/...]
            value = payload.decode() if suffix == "status" else json.loads(payload)
            if want is None or want(value):
                return value


def test_three_100_mb_commands_do_not_grow_the_gate(tmp_path: Path, make_broker: Any) -> None:
    broker = make_broker()
    scene = tmp_path / "scene"
    synthesize(scene, SceneSpec(people=3, passers=0, seed=9))
    private, public = generate_keypair(tmp_path / "keys")
    config = write_config(tmp_path / "gate.toml", broker.url, GATE, scene, tmp_path / "state",
                          speed=1.0)
    text = config.read_text().replace("speed = 1.0\n", "speed = 1.0\nloop = true\n")
    config.write_text(text + f'[commands]\ntrusted_keys = ["{public}"]\n')
    STATUSES.clear()
    base = f"gate/{SITE}/{GATE}"
    sub = Subscriber(BrokerOptions(url=broker.url),
                     [f"{base}/status", f"{base}/metrics", f"{base}/event/#"]).start()
    gate = start_gate(config, tmp_path / "gate.log")
    try:
        assert sub.subscribed.wait(10.0)
        assert _next(sub, "status", 60.0, lambda s: s == "online") == "online"
        _next(sub, "metrics", 30.0)
        before_kb = rss_kb(gate.pid)
        peak = RssPeak(gate.pid)
        _publish_big(broker.url, command_topic("gate", SITE, GATE, "screening.set"), 3)
        _next(sub, "metrics", 30.0)  # a second of metrics after the last one was taken
        _next(sub, "metrics", 30.0)
        peak_kb, after_kb = peak.stop(), rss_kb(gate.pid)
        print(f"\nRSS before {before_kb / 1024:.0f} MB, peak during three 100 MB commands "
              f"{peak_kb / 1024:.0f} MB, after {after_kb / 1024:.0f} MB")
        assert gate.poll() is None, "the gate died"
        assert peak_kb < RSS_LIMIT_KB
        _next(sub, "event", 60.0)  # events still delivered (the scene loops)
        payload = sign_command(load_private_key(private), "screening.set",
                               {"threshold_c": 37.9}, SITE, GATE, 60.0)
        publish_once(BrokerOptions(url=broker.url), command_topic("gate", SITE, GATE,
                     "screening.set"), payload)
        _next(sub, "metrics", 30.0, lambda m: m.get("threshold_c") == 37.9)
        assert STATUSES[-1] == "online" and "offline" not in STATUSES, STATUSES
        gate.send_signal(signal.SIGTERM)
        assert gate.wait(30.0) == 0
    finally:
        if gate.poll() is None:
            gate.kill()
        sub.close()
    log = (tmp_path / "gate.log").read_text()
    assert "lost MQTT broker" not in log, log[-2000:]

