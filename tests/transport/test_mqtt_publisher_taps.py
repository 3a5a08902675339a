"""Publisher taps against a real Mosquitto: PUBACK listeners (the run loop's decision
latency) and metrics sections merged into every metrics message."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence

import pytest

from edge.sim.broker import PrivateBroker
from edge.transport.outbox import OutboxRow
from tests.mqtt_helpers import WAIT_S, RawSub, decision, publisher

pytestmark = pytest.mark.broker


def test_ack_listener_gets_every_pubacked_event_once(broker: PrivateBroker, gate: str) -> None:
    heard: list[tuple[list[OutboxRow], int]] = []

    def listener(rows: Sequence[OutboxRow], acked_ns: int) -> None:
        heard.append((list(rows), acked_ns))

    pub = publisher(broker.url, gate)
    pub.add_ack_listener(listener)
    before_ns = time.monotonic_ns()
    with pub:
        for i in range(5):
            pub.submit(decision(i))
        assert pub.flush(WAIT_S)
    rows = [row for batch, _ in heard for row in batch]
    assert [row.seq for row in rows] == [1, 2, 3, 4, 5]
    assert [json.loads(row.payload)["track"] for row in rows] == [0, 1, 2, 3, 4]
    assert all(before_ns <= acked_ns <= time.monotonic_ns() for _, acked_ns in heard)


def test_metrics_sections_are_merged(
    broker: PrivateBroker, gate: str, raw_sub: Callable[[str, str], RawSub]
) -> None:
    sub = raw_sub(broker.url, f"gate/s1/{gate}/metrics")
    with publisher(broker.url, gate) as pub:
        pub.add_metrics(lambda: {"latency_ms": {"p50": 1.0, "p95": 2.0, "n": 3}})
        assert pub.wait_connected(WAIT_S)
        assert pub.publish_metrics({"frames": {"thermal": 9}})
        payload = json.loads(sub.next().payload)
    assert payload == {"frames": {"thermal": 9}, "latency_ms": {"p50": 1.0, "p95": 2.0, "n": 3}}
