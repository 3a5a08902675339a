"""Helpers for integration tests: replay into the real broker and collect what arrived."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge.app.replay import ReplayResult, replay
from edge.config import Settings, validate
from edge.core.types import Decision, Match, TemperatureReading
from edge.transport.mqtt import BrokerOptions, Subscriber
from tests.shared import REPO_ROOT as REPO

TOLERANCE_C = 0.3


def decision_from_event(event: dict[str, Any]) -> Decision:
    """Rebuild a Decision from what arrived over MQTT, so scoring uses the wire data."""
    t = event.get("temperature")
    reading = None
    if t is not None:
        reading = TemperatureReading(
            t["c"], t["skin_c"], t["threshold_c"], t["site"], t["samples"], t["reference_ok"],
            t["spread_c"],
        )
    m = event.get("match")
    return Decision(
        event["type"], event["t_ns"], event["track"], reading, tuple(event["bbox"]),
        event.get("bbox_frame", "thermal"),
        match=Match(m["subject"], m["distance"]) if m else None,
        recognition="match" in event,
        subject=event.get("subject"),
        reason=event.get("reason"),
    )


def settings_for(config: str | None, broker_url: str, gate: str, **extra: Any) -> Settings:
    """A config file from configs/ (or defaults) with the test broker and a unique gate."""
    import tomllib

    raw: dict[str, Any] = {}
    if config:
        raw = tomllib.loads((REPO / "configs" / config).read_text())
    raw.setdefault("gate", {}).update({"site": "test", "gate": gate})
    raw.setdefault("mqtt", {}).update({"broker": broker_url, "metrics_interval_s": 0.5})
    for section, values in extra.items():
        raw.setdefault(section, {}).update(values)
    return validate(raw, f"test config {config}")


def replay_and_collect(
    settings: Settings,
    recording: Path,
    timeout_s: float = 30.0,
    others: list[tuple[str, dict[str, Any]]] | None = None,
    speed: float | None = None,
    lists_dir: Path | None = None,
) -> tuple[ReplayResult, list[dict[str, Any]], list[str]]:
    """Replay into the broker; return the result, the events a subscriber received (in
    arrival order) and the status messages; `others` collects (topic kind, body) of the
    info and metrics messages. The publisher's retained "offline" comes after its last
    event on the same connection, so it marks the end of the stream."""
    site, gate = settings.gate.site, settings.gate.gate
    topic = f"{settings.mqtt.prefix}/{site}/{gate}/#"
    events: list[dict[str, Any]] = []
    statuses: list[str] = []
    with Subscriber(BrokerOptions(url=settings.mqtt.broker), [topic]) as sub:
        assert sub.subscribed.wait(10.0), "test subscriber could not subscribe"
        result = replay(settings, recording, speed=speed, lists_dir=lists_dir)
        while not statuses or statuses[-1] != "offline":
            message = sub.get(timeout_s)
            assert message is not None, f"stream did not end within {timeout_s} s: {statuses}"
            name, payload = message
            if "/event/" in name:
                events.append(json.loads(payload))
            elif name.endswith("/status"):
                statuses.append(payload.decode())
            elif others is not None:
                others.append((name.rsplit("/", 1)[-1], json.loads(payload)))
    return result, events, statuses
