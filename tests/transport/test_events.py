"""Event bodies and topics (edge.transport.events): pure functions, no broker."""

from __future__ import annotations

import json
import math
from dataclasses import replace

from edge.transport.events import (
    decision_body,
    iso_utc_ms,
    with_identity,
)
from tests.mqtt_helpers import decision

# -- events (pure) --------------------------------------------------------------------


def test_event_body_fields_and_identity_order() -> None:
    wall_ns = 1_700_000_000_123_999_999
    body = decision_body(decision(7, 38.126), site="s1", gate="north", wall_ns=wall_ns)
    event = with_identity(body, seq=42, event_id="01ABC")
    assert list(event)[:3] == ["schema", "id", "seq"]
    assert event["ts"] == "2023-11-14T22:13:20.123Z"
    assert event["type"] == "fever" and event["track"] == 7 and event["t_ns"] == 7_000_000
    assert event["temperature"] == {
        "c": 38.13, "threshold_c": 37.3, "site": "canthus", "samples": 9,
        "reference_ok": True, "skin_c": 36.63, "spread_c": 0.2, "ambient_c": None,
    }


def test_non_finite_temperature_becomes_null_not_a_crash() -> None:
    body = decision_body(decision(1, math.nan), site="s1", gate="n", wall_ns=0)
    assert body["temperature"]["c"] is None  # type: ignore[index]
    json.dumps(body, allow_nan=False)
    assert iso_utc_ms(0) == "1970-01-01T00:00:00.000Z"


def test_bbox_names_the_frame_it_is_in() -> None:
    """docs/mqtt.md: `bbox` is in upright thermal pixels (thermal-only) or RGB pixels (RGB +
    thermal), and `bbox_frame` says which."""
    thermal = decision(3)
    rgb = replace(thermal, bbox=(320, 200, 80, 96), bbox_frame="rgb")
    for d, frame in ((thermal, "thermal"), (rgb, "rgb")):
        body = decision_body(d, site="s1", gate="n", wall_ns=0)
        assert body["bbox"] == list(d.bbox) and body["bbox_frame"] == frame
