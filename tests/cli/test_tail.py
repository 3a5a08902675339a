"""`gate-edge tail`: event line formatting, and run_tail against a real Mosquitto."""

from __future__ import annotations

import io
import json
import queue
import threading
from typing import Any

import pytest

from edge.cli.tail import format_event_line, run_tail
from edge.sim.broker import PrivateBroker
from edge.transport.events import (
    decision_body,
    with_identity,
)
from tests.mqtt_helpers import WAIT_S, decision, publisher

# -- tail -----------------------------------------------------------------------------


def _event_bytes(**override: Any) -> bytes:
    wall_ns = 1_700_000_000_345_000_000
    body = decision_body(decision(7, 38.1), site="s1", gate="north", wall_ns=wall_ns)
    event = with_identity(body, seq=42, event_id="01HX")
    event.update(override)
    return json.dumps(event).encode()


def test_tail_fever_line_is_marked() -> None:
    plain = format_event_line("gate/s1/north/event/fever", _event_bytes(), color=False)
    assert plain.startswith("!! ")
    assert "s1/north FEVER" in plain and "track 7" in plain and "seq 42" in plain
    assert "38.1 °C (threshold 37.3, 9 samples, ref ok)" in plain
    colored = format_event_line("gate/s1/north/event/fever", _event_bytes(), color=True)
    assert colored.startswith("\x1b[1;31m") and colored.endswith("\x1b[0m")


def test_tail_screening_line_is_quiet_and_status_short() -> None:
    line = format_event_line(
        "gate/s1/north/event/screening", _event_bytes(type="screening"), color=False)
    assert not line.startswith("!!") and "SCREENING" in line
    status = format_event_line("gate/s1/north/status", b"offline", color=True)
    assert status.startswith("\x1b[2m") and "s1/north status offline" in status


def test_tail_recheck_is_as_loud_as_a_fever() -> None:
    event = _event_bytes(type="recheck")
    plain = format_event_line("gate/s1/north/event/recheck", event, color=False)
    assert plain.startswith("!! ") and "s1/north RECHECK" in plain
    colored = format_event_line("gate/s1/north/event/recheck", event, color=True)
    assert colored.startswith("\x1b[1;31m")


def test_tail_shouts_when_the_reference_is_lost() -> None:
    def metrics(ok: bool, expected: bool) -> bytes:
        reference = {"ok": ok, "expected": expected, "reason": "reference off by +12.9 C"}
        return json.dumps({"heads": 1, "reference": reference}).encode()

    lost = format_event_line("gate/s1/north/metrics", metrics(False, True), color=False)
    assert lost.startswith("!! ") and "REFERENCE LOST (reference off by +12.9 C)" in lost
    info = json.dumps({"version": "x", "reference": {"ok": False, "reason": "occluded"}})
    assert "REFERENCE LOST (occluded)" in format_event_line(
        "gate/s1/north/info", info.encode(), color=False)
    for quiet in (metrics(True, True), metrics(False, False)):  # back, or none installed
        line = format_event_line("gate/s1/north/metrics", quiet, color=False)
        assert not line.startswith("!!") and "LOST" not in line


def test_tail_malformed_payload_is_a_readable_line() -> None:
    line = format_event_line("gate/s1/north/event/fever", b"{broken", color=False)
    assert line.startswith("unparseable payload on gate/s1/north/event/fever: not JSON")
    assert "expected a JSON object" in format_event_line("gate/a/b/event/x", b"[1]", False)


def test_tail_strips_terminal_escapes_from_payloads() -> None:
    line = format_event_line(
        "gate/s1/north/event/pass.denied",
        _event_bytes(type="pass.denied", reason="revoked", subject="\x1b[2Jevil"), color=False)
    assert "\x1b" not in line and "PASS.DENIED" in line and line.startswith("!! ")


@pytest.mark.broker
@pytest.mark.parametrize("as_json", [False, True])
def test_run_tail_prints_count_events_then_returns(
    broker: PrivateBroker, gate: str, as_json: bool
) -> None:
    out, ready, result = io.StringIO(), threading.Event(), queue.Queue[int]()
    tail = threading.Thread(target=lambda: result.put(run_tail(
        broker.url, "gate", "s1", gate, ["fever"], as_json, out, 2, WAIT_S, ready=ready)))
    tail.start()
    assert ready.wait(WAIT_S)
    with publisher(broker.url, gate) as pub:
        for i, temp_c in enumerate((36.5, 38.2, 36.7, 38.9, 39.1)):
            pub.submit(decision(i, temp_c))
        assert pub.flush(WAIT_S)
    assert result.get(timeout=WAIT_S) == 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # only fevers, stopped after count=2
    if as_json:
        assert [json.loads(ln)["seq"] for ln in lines] == [2, 4]
    else:
        assert all(ln.startswith("!! ") and "FEVER" in ln for ln in lines)
        assert lines[0].endswith("seq 2") and lines[1].endswith("seq 4")


@pytest.mark.broker
def test_run_tail_times_out_with_status_1(broker: PrivateBroker, gate: str) -> None:
    out = io.StringIO()
    assert run_tail(broker.url, "gate", "s1", gate, None, False, out, 1, 0.3) == 1
