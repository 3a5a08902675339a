"""Event payloads and topic names of the MQTT contract (docs/mqtt.md). Pure: no I/O.

An event is built in two steps because its identity is assigned by the durable outbox:
`decision_body()` makes everything except `id` and `seq`; the outbox then calls
`with_identity()` inside the same transaction that reserves the sequence number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime

from ulid import ULID

from edge.core.types import Decision, Match, PassRef, TemperatureReading

SCHEMA = "gate-edge/event/1"
EVENT_TYPES: tuple[str, ...] = (
    "screening",
    "fever",
    "recheck",
    "pass.granted",
    "pass.denied",
    "quarantine.breach",
)
# Types an operator must act on; the tail makes them stand out.
ALARM_TYPES: frozenset[str] = frozenset(
    {"fever", "recheck", "pass.denied", "quarantine.breach"}
)
DEFAULT_PREFIX = "gate"
_NS_PER_S = 1_000_000_000
_NS_PER_MS = 1_000_000


def new_event_id() -> str:
    """A ULID: unique forever, and sortable by creation time, which helps consumers' logs."""
    return str(ULID())


def iso_utc_ms(wall_ns: int) -> str:
    """`2026-11-28T13:00:00.123Z` from nanoseconds since the Unix epoch (truncated to ms)."""
    seconds, rem_ns = divmod(wall_ns, _NS_PER_S)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{rem_ns // _NS_PER_MS:03d}Z"


def _finite(value: float, ndigits: int = 2) -> float | None:
    # NaN is not JSON; a null tells the consumer "no value" without losing the event.
    return round(float(value), ndigits) if math.isfinite(value) else None


def temperature_field(reading: TemperatureReading) -> dict[str, object]:
    """The `temperature` object of screening / fever events (degrees Celsius, 0.01 resolution).
    `ambient_c` is the room temperature the map was given, null when not known."""
    ambient = reading.ambient_c
    return {
        "c": _finite(reading.body_c),
        "threshold_c": _finite(reading.threshold_c),
        "site": reading.site,
        "samples": int(reading.samples),
        "reference_ok": bool(reading.reference_ok),
        "skin_c": _finite(reading.skin_c),
        "spread_c": _finite(reading.spread_c),
        "ambient_c": None if ambient is None else _finite(ambient),
        **({} if reading.baseline_c is None else {"baseline_c": _finite(reading.baseline_c)}),
    }


def event_body(
    event_type: str, *, site: str, gate: str, wall_ns: int, t_ns: int, track: int
) -> dict[str, object]:
    """Common fields of every event, without `id` and `seq` (the outbox assigns those).

    `wall_ns` is the wall clock (UTC, ns since the epoch) used for `ts`; `t_ns` is the pipeline
    clock of the frame that completed the decision (the recording's clock during replay).
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}; expected one of {EVENT_TYPES}")
    return {
        "schema": SCHEMA,
        "type": event_type,
        "site": site,
        "gate": gate,
        "ts": iso_utc_ms(wall_ns),
        "t_ns": int(t_ns),
        "track": int(track),
    }


def match_field(match: Match | None) -> dict[str, object] | None:
    """`match` = {"subject", "distance"} (descriptor distance, 0.0001 resolution) or null."""
    if match is None:
        return None
    return {"subject": match.subject, "distance": round(float(match.distance), 4)}


def pass_field(ref: PassRef | None) -> dict[str, object] | None:
    """`pass` = {"id", "kind", "kid", "digest", "expires"} or null (decided by face)."""
    if ref is None:
        return None
    return {"id": ref.id, "kind": ref.kind, "kid": ref.kid, "digest": ref.digest,
            "expires": ref.expires}


def decision_body(decision: Decision, *, site: str, gate: str, wall_ns: int) -> dict[str, object]:
    """An event without `id` and `seq`: temperature decisions carry `temperature` (and
    `match` when recognition is on); access decisions `subject`, `match`, `pass` (and
    `reason` for a denial)."""
    body = event_body(
        decision.type, site=site, gate=gate, wall_ns=wall_ns, t_ns=decision.t_ns,
        track=decision.track,
    )
    if decision.temperature is not None:
        body["temperature"] = temperature_field(decision.temperature)
        if decision.recognition:
            body["match"] = match_field(decision.match)
    else:
        body["subject"] = decision.subject
        body["match"] = match_field(decision.match)
        body["pass"] = pass_field(decision.pass_ref)  # null: admitted or refused by face
        if decision.type == "pass.denied":
            body["reason"] = decision.reason
    # Where the face was (x, y, w, h) and in which image: lets a backend or an evaluation
    # tell two people in view together apart. Pixels only, no image (docs/mqtt.md).
    body["bbox"] = list(decision.bbox)
    body["bbox_frame"] = decision.bbox_frame
    return body


def with_identity(body: Mapping[str, object], *, seq: int, event_id: str) -> dict[str, object]:
    """The complete event: `id` and `seq` placed right after `schema` so payloads read well."""
    event: dict[str, object] = {"schema": body.get("schema", SCHEMA), "id": event_id, "seq": seq}
    event.update((k, v) for k, v in body.items() if k not in ("schema", "id", "seq"))
    return event


def info_payload(
    *,
    version: str,
    config_hash: str,
    sensors: Mapping[str, object],
    models: Mapping[str, object],
    started_wall_ns: int,
) -> dict[str, object]:
    """The retained birth message published on `.../info` at every connect."""
    return {
        "version": version,
        "config_hash": config_hash,
        "sensors": dict(sensors),
        "models": dict(models),
        "started": iso_utc_ms(started_wall_ns),
    }


def check_topic_level(name: str, what: str) -> None:
    """Raise ValueError when `name` cannot be one MQTT topic level (empty, '/', wildcards)."""
    bad = [c for c in ("/", "+", "#", "\x00") if c in name]
    if not name or bad:
        reason = "is empty" if not name else f"contains {' '.join(repr(c) for c in bad)}"
        raise ValueError(f"{what} {name!r} {reason}; it must be one MQTT topic level")


def gate_topic(prefix: str, site: str, gate: str, *rest: str) -> str:
    """`{prefix}/{site}/{gate}/{rest...}`, e.g. gate_topic("gate", "s1", "north", "status")."""
    return "/".join((prefix, site, gate, *rest))
