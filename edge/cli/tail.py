"""`gate-edge tail`: one readable line per MQTT message, alarms standing out.

Payloads come from the network, so nothing here trusts them: a malformed payload becomes an
"unparseable payload" line, and control characters are replaced so a hostile publisher
cannot send escape sequences to the operator's terminal.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TextIO

from edge.transport.events import ALARM_TYPES
from edge.transport.mqtt import BrokerOptions, Subscriber

log = logging.getLogger(__name__)

_BOLD_RED = "\x1b[1;31m"
_DIM = "\x1b[2m"
_YELLOW = "\x1b[33m"
_RESET = "\x1b[0m"
_SHORT_KINDS = ("status", "info", "metrics")
_CONTROL = dict.fromkeys([*range(0x20), 0x7F], "?")


class _Unparseable(ValueError):
    pass


def _clean(value: object) -> str:
    return str(value).translate(_CONTROL)


def _topic_parts(topic: str) -> tuple[str, str, str, str | None]:
    """(site, gate, kind, event type) from `.../{site}/{gate}/{kind}[/{type}]` (any prefix)."""
    parts = topic.split("/")
    if len(parts) >= 5 and parts[-2] == "event":
        return parts[-4], parts[-3], "event", parts[-1]
    if len(parts) >= 4 and parts[-1] in _SHORT_KINDS:
        return parts[-3], parts[-2], parts[-1], None
    if "cmd" in parts[2:]:
        i = parts.index("cmd", 2)
        return parts[i - 2], parts[i - 1], "cmd", None
    if len(parts) >= 3:
        return parts[-3], parts[-2], parts[-1], None
    return "?", "?", parts[-1], None


def _clock(ts: object, now_s: float | None) -> str:
    """Local wall time HH:MM:SS.mmm of the event's `ts`, else of reception."""
    when: datetime | None = None
    if isinstance(ts, str):
        try:
            when = datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone()
        except ValueError:
            when = None
    if when is None:
        when = datetime.fromtimestamp(time.time() if now_s is None else now_s).astimezone()
    return when.strftime("%H:%M:%S.") + f"{when.microsecond // 1000:03d}"


def _num(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "?" if value is None else _clean(value)
    text = f"{float(value):.2f}"
    return text[:-1] if text.endswith("0") else text  # 38.10 -> 38.1, 37.29 stays


def _temperature(temp: object) -> str:
    if not isinstance(temp, Mapping):
        return ""
    ref = "ref ok" if temp.get("reference_ok") else "ref not ok"
    samples = temp.get("samples", "?")
    return (f"{_num(temp.get('c'))} °C (threshold {_num(temp.get('threshold_c'))}, "
            f"{_clean(samples)} samples, {ref})")


def _subject_fields(event: Mapping[str, object]) -> str:
    text = ""
    for key in ("reason", "subject", "pass"):
        if event.get(key) is not None:
            text += f"  {key} {_clean(event[key])}"
    match = event.get("match")
    if isinstance(match, Mapping) and match.get("subject") is not None:
        text += f"  match {_clean(match['subject'])} {_num(match.get('distance'))}"
    return text


def _event_line(event: Mapping[str, object], topic_type: str | None) -> tuple[str, bool]:
    event_type = _clean(event.get("type") or topic_type or "?")
    line = f"{event_type.upper():<9} track {_clean(event.get('track', '?'))}"
    temperature = _temperature(event.get("temperature"))
    line += (f"  {temperature}" if temperature else "") + _subject_fields(event)
    line += f"  seq {_clean(event.get('seq', '?'))}"
    return line, event_type in ALARM_TYPES


def _short_line(kind: str, text: str) -> str:
    if kind == "status":
        return f"status {_clean(text.strip())}"
    try:
        body = json.loads(text)
    except ValueError:
        return f"{_clean(kind)} {len(text)} bytes"
    if not isinstance(body, Mapping):
        return f"{_clean(kind)} {_clean(body)[:80]}"
    shown = [f"{_clean(k)}={_clean(v)}" for k, v in body.items()
             if isinstance(v, str | int | float | bool)]
    joined = " ".join(shown)
    return f"{_clean(kind)} {joined[:110]}{'…' if len(joined) > 110 else ''}"


def _reference_lost(text: str) -> str | None:
    """The reason, when an info or metrics body says the reference source is not ok."""
    try:
        body = json.loads(text)
    except ValueError:
        return None
    ref = body.get("reference") if isinstance(body, Mapping) else None
    if isinstance(ref, Mapping) and ref.get("ok") is False and ref.get("expected") is not False:
        return str(ref.get("reason") or "unknown")
    return None


def _decode_event(payload: bytes) -> Mapping[str, object]:
    try:
        event = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _Unparseable(f"not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    except ValueError as exc:
        raise _Unparseable(f"not JSON ({exc})") from exc
    if not isinstance(event, Mapping):
        raise _Unparseable(f"expected a JSON object, got {type(event).__name__}")
    return event


def format_event_line(
    topic: str, payload_bytes: bytes, color: bool, *, now_s: float | None = None
) -> str:
    """One line for one message; alarms bold red (color) or marked "!!" (no color)."""
    site, gate, kind, topic_type = _topic_parts(topic)
    where = f"{_clean(site)}/{_clean(gate)}"
    try:
        if kind != "event":
            text = payload_bytes.decode("utf-8", errors="replace")
            line = f"{_clock(None, now_s)} {where} {_short_line(kind, text)}"
            if (lost := _reference_lost(text)) is not None:  # as loud as an alarm
                line += f"  REFERENCE LOST ({_clean(lost)}): no fever decisions, rechecks only"
                return f"{_BOLD_RED}{line}{_RESET}" if color else f"!! {line}"
            return f"{_DIM}{line}{_RESET}" if color else line
        event = _decode_event(payload_bytes)
        body, alarm = _event_line(event, topic_type)
    except (_Unparseable, TypeError, AttributeError) as exc:
        line = f"unparseable payload on {_clean(topic)}: {_clean(exc)}"
        return f"{_YELLOW}{line}{_RESET}" if color else line
    line = f"{_clock(event.get('ts'), now_s)} {where} {body}"
    if alarm:
        return f"{_BOLD_RED}{line}{_RESET}" if color else f"!! {line}"
    return line


def _json_line(topic: str, payload: bytes) -> str:
    text = payload.decode("utf-8", errors="replace")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return json.dumps({"topic": topic, "payload": text}, ensure_ascii=False)


def type_matches(kind: str, event_type: str | None, types: Sequence[str] | None) -> bool:
    """`types` lists event types ("fever"), families ("pass" = pass.*) or status/info/metrics."""
    if not types:
        return True
    name = event_type if kind == "event" and event_type else kind
    return any(name == t or name.startswith(t + ".") for t in types)


def run_tail(
    broker_url: str,
    prefix: str,
    site: str | None,
    gate: str | None,
    types: list[str] | None,
    as_json: bool,
    out: TextIO,
    count: int | None,
    timeout_s: float | None,
    *,
    options: BrokerOptions | None = None,
    color: bool | None = None,
    ready: threading.Event | None = None,
) -> int:
    """Print messages under `prefix/{site or +}/{gate or +}/#` until `count` events or timeout.

    Returns 0, or 1 when `count` events did not arrive within `timeout_s`. `options` carries
    credentials/TLS (its url is replaced by `broker_url`); `ready` is set once subscribed.
    `types` keeps only those event types ("pass" = pass.*; "status", "info", "metrics" too);
    `count` counts events only. With `as_json` every line is one JSON object: the payload
    itself for events/info/metrics, {"topic": ..., "payload": ...} for plain-text status.
    """
    opts = dataclasses.replace(options or BrokerOptions(), url=broker_url)
    topic_filter = f"{prefix}/{site or '+'}/{gate or '+'}/#"
    use_color = out.isatty() if color is None else color
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    events = 0
    with Subscriber(opts, [topic_filter]) as sub:
        if sub.subscribed.wait(opts.connect_timeout_s) and ready is not None:
            ready.set()
        try:
            while count is None or events < count:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                message = sub.get(remaining)
                if message is None:
                    continue
                topic, payload = message
                _, _, kind, event_type = _topic_parts(topic)
                if not type_matches(kind, event_type, types):
                    continue
                events += kind == "event"
                print(_json_line(topic, payload) if as_json
                      else format_event_line(topic, payload, use_color), file=out, flush=True)
        except KeyboardInterrupt:
            return 0
    if count is not None and events < count:
        log.warning("tail: %d of %d events arrived within %s s", events, count, timeout_s)
        return 1
    return 0
