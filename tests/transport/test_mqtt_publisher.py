"""MQTT contract (DESIGN section 4) against a real Mosquitto, plus outbox, events and tail.

Synchronisation is by events, queues and timeouts only: no sleeps.
"""

from __future__ import annotations

import io
import json
import logging
import math
import queue
import re
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.cli.tail import format_event_line, run_tail
from edge.core.types import Decision, TemperatureReading
from edge.errors import BrokerError, ConfigError
from edge.sim.broker import PrivateBroker, make_test_tls
from edge.transport.events import (
    decision_body,
    iso_utc_ms,
    split_topic,
    with_identity,
)
from edge.transport.mqtt import BrokerOptions, Publisher, check_broker, parse_broker_url
from edge.transport.outbox import Outbox

MakeBroker = Callable[..., PrivateBroker]
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
WAIT_S = 15.0


def decision(i: int, body_c: float = 36.6, threshold_c: float = 37.3) -> Decision:
    kind = "fever" if body_c >= threshold_c else "screening"
    reading = TemperatureReading(body_c, body_c - 1.5, threshold_c, "canthus", 9, True, 0.2)
    return Decision(kind, 1_000_000 * i, i, reading, (10, 10, 20, 20))  # type: ignore[arg-type]


@pytest.fixture
def gate() -> str:
    return f"g{uuid.uuid4().hex[:8]}"  # tests share one broker: keep their topics apart


class RawSub:
    """A plain paho subscriber, independent of edge.transport.mqtt, to check what is on the wire."""

    def __init__(self, url: str, topic_filter: str) -> None:
        address = parse_broker_url(url)
        self.messages: queue.Queue[Any] = queue.Queue()
        self._subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"raw-{uuid.uuid4().hex}")
        self.client.on_message = lambda _c, _u, m: self.messages.put(m)
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client.on_connect = lambda c, *_a: c.subscribe(topic_filter, qos=1)
        self.client.connect(address.host, address.port, 30)
        self.client.loop_start()
        assert self._subscribed.wait(WAIT_S), "no SUBACK from the broker"

    def next(self, timeout_s: float = WAIT_S) -> Any:
        try:
            return self.messages.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"no message within {timeout_s} s") from None

    def next_on(self, suffix: str) -> Any:
        while True:
            message = self.next()
            if message.topic.endswith(suffix):
                return message

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def raw_sub() -> Iterator[Callable[[str, str], RawSub]]:
    subs: list[RawSub] = []

    def make(url: str, topic_filter: str) -> RawSub:
        subs.append(RawSub(url, topic_filter))
        return subs[-1]

    yield make
    for sub in subs:
        sub.close()


def publisher(url: str, gate: str, **kwargs: Any) -> Publisher:
    outbox = kwargs.pop("outbox", None) or Outbox(":memory:", site="s1", gate=gate)
    options = kwargs.pop("options", None) or BrokerOptions(url=url, connect_timeout_s=5)
    return Publisher(options, site="s1", gate=gate, outbox=outbox, info={"version": "t"}, **kwargs)


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
        "reference_ok": True, "skin_c": 36.63, "spread_c": 0.2,
    }


def test_non_finite_temperature_becomes_null_not_a_crash() -> None:
    body = decision_body(decision(1, math.nan), site="s1", gate="n", wall_ns=0)
    assert body["temperature"]["c"] is None  # type: ignore[index]
    json.dumps(body, allow_nan=False)
    assert iso_utc_ms(0) == "1970-01-01T00:00:00.000Z"


def test_split_topic() -> None:
    assert split_topic("gate", "gate/s1/north/event/pass.denied") == (
        "s1", "north", "event", "pass.denied")
    assert split_topic("gate", "other/s1/north/status") is None


# -- outbox ---------------------------------------------------------------------------


def test_outbox_seq_survives_reopening_the_file(tmp_path: Path) -> None:
    body = decision_body(decision(1), site="s1", gate="north", wall_ns=0)
    with Outbox.open(tmp_path, site="s1", gate="north") as outbox:
        assert [outbox.put("screening", body)[0] for _ in range(3)] == [1, 2, 3]
        outbox.ack_many([1, 2, 3])
        assert outbox.depth() == 0
    with Outbox.open(tmp_path, site="s1", gate="north") as outbox:
        seq, event_id = outbox.put("screening", body)
        assert seq == 4  # the counter outlives the deleted rows
        row = outbox.pending(10)[0]
        assert (row.seq, row.id) == (4, event_id)
        assert json.loads(row.payload)["seq"] == 4
    with Outbox.open(tmp_path, site="s1", gate="south") as other:
        assert other.put("screening", body)[0] == 1  # seq is per gate
    with Outbox.open(tmp_path, site="s1", gate="north") as outbox:
        assert outbox.depth() == 1 and outbox.last_seq() == 4


def test_outbox_over_limit_keeps_accepting_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outbox = Outbox(":memory:", site="s1", gate="north", max_rows=3)
    body = decision_body(decision(1), site="s1", gate="north", wall_ns=0)
    with caplog.at_level(logging.WARNING, logger="edge.transport.outbox"):
        seqs = [outbox.put("screening", body)[0] for _ in range(6)]
    assert seqs == [1, 2, 3, 4, 5, 6] and outbox.depth() == 6
    assert outbox.full_count == 3
    assert len([r for r in caplog.records if "limit 3" in r.getMessage()]) == 1
    assert [r.seq for r in outbox.pending(10, after_seq=4)] == [5, 6]


# -- publisher against the broker -----------------------------------------------------


@pytest.mark.broker
def test_events_arrive_with_schema_unique_ids_and_seq_in_order(
    broker: PrivateBroker, gate: str, raw_sub: Callable[[str, str], RawSub]
) -> None:
    sub = raw_sub(broker.url, f"gate/s1/{gate}/event/#")
    n = 25
    with publisher(broker.url, gate) as pub:
        for i in range(n):
            pub.submit(decision(i, 36.0 + (i % 5) * 0.5))
        assert pub.flush(WAIT_S)
    events = [sub.next() for _ in range(n)]
    payloads = [json.loads(m.payload) for m in events]
    assert [p["seq"] for p in payloads] == list(range(1, n + 1))
    assert len({p["id"] for p in payloads}) == n
    for message, p in zip(events, payloads, strict=True):
        assert message.qos == 1 and not message.retain
        assert message.topic == f"gate/s1/{gate}/event/{p['type']}"
        assert p["schema"] == "gate-edge/event/1" and (p["site"], p["gate"]) == ("s1", gate)
        assert TS_RE.match(p["ts"]) and isinstance(p["t_ns"], int) and isinstance(p["track"], int)
        assert p["type"] == ("fever" if p["temperature"]["c"] >= 37.3 else "screening")
        assert set(p["temperature"]) >= {"c", "threshold_c", "site", "samples", "reference_ok"}


@pytest.mark.broker
def test_status_is_retained_online_then_offline_after_close(
    broker: PrivateBroker, gate: str, raw_sub: Callable[[str, str], RawSub]
) -> None:
    pub = publisher(broker.url, gate).start()
    status = raw_sub(broker.url, f"gate/s1/{gate}/status").next()
    assert (status.payload, status.retain) == (b"online", True)
    info = raw_sub(broker.url, f"gate/s1/{gate}/info").next()
    assert info.retain and json.loads(info.payload) == {"version": "t"}
    watcher = raw_sub(broker.url, f"gate/s1/{gate}/status")
    assert watcher.next().payload == b"online"  # the retained copy
    pub.close()
    assert watcher.next().payload == b"offline"
    late = raw_sub(broker.url, f"gate/s1/{gate}/status").next()
    assert (late.payload, late.retain) == (b"offline", True)


@pytest.mark.broker
def test_stale_offline_is_answered_with_online(
    broker: PrivateBroker, gate: str, raw_sub: Callable[[str, str], RawSub]
) -> None:
    with publisher(broker.url, gate):
        watcher = raw_sub(broker.url, f"gate/s1/{gate}/status")
        assert watcher.next().payload == b"online"
        # What a previous session's late last will looks like to the broker.
        watcher.client.publish(f"gate/s1/{gate}/status", b"offline", qos=1, retain=True)
        assert watcher.next().payload == b"offline"
        assert watcher.next().payload == b"online"


_CHILD = """
import sys
from edge.transport.mqtt import BrokerOptions, Publisher
from edge.transport.outbox import Outbox
url, gate = sys.argv[1], sys.argv[2]
Publisher(BrokerOptions(url=url, keepalive_s=60), site="s1", gate=gate,
          outbox=Outbox(":memory:", site="s1", gate=gate)).start()
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.mark.broker
def test_last_will_offline_when_the_process_dies(
    broker: PrivateBroker, gate: str, raw_sub: Callable[[str, str], RawSub]
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, broker.url, gate], cwd=Path(__file__).parents[1],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(child.stdout.readline()),  # type: ignore[union-attr]
                         daemon=True).start()
        assert lines.get(timeout=WAIT_S) == "ready\n"
        watcher = raw_sub(broker.url, f"gate/s1/{gate}/status")
        assert watcher.next().payload == b"online"
        child.kill()  # SIGKILL: no DISCONNECT packet, the kernel just closes the socket
        child.wait(WAIT_S)
        will = watcher.next()
        assert will.payload == b"offline"
    finally:
        child.kill()
        child.wait(WAIT_S)


@pytest.mark.broker
def test_flush_waits_for_pubacks_and_outages_are_survived(
    make_broker: MakeBroker, gate: str, tmp_path: Path
) -> None:
    own = make_broker()
    outbox = Outbox.open(tmp_path, site="s1", gate=gate)
    options = BrokerOptions(url=own.url, connect_timeout_s=5, reconnect_min_s=1, reconnect_max_s=1)
    with publisher(own.url, gate, outbox=outbox, options=options) as pub:
        pub.submit(decision(0))
        assert pub.flush(WAIT_S) and outbox.depth() == 0
        own.stop()
        for i in range(1, 6):
            pub.submit(decision(i))  # never blocks on the dead link
        assert not pub.flush(0.5)
        assert outbox.depth() == 5  # no PUBACK, so nothing was acknowledged
        own.start()
        assert pub.flush(WAIT_S)
        assert outbox.depth() == 0 and pub.stats()["acked"] == 6
        assert pub.counters["connects"] >= 2


@pytest.mark.broker
def test_dropped_connection_loses_no_event(
    broker: PrivateBroker, gate: str, raw_sub: Callable[[str, str], RawSub]
) -> None:
    sub = raw_sub(broker.url, f"gate/s1/{gate}/event/#")
    options = BrokerOptions(url=broker.url, reconnect_min_s=1, reconnect_max_s=1)
    with publisher(broker.url, gate, options=options) as pub:
        for i in range(40):
            pub.submit(decision(i))
        # Cut the TCP connection under paho (as a flaky network would), mid-stream.
        pub._client.socket().shutdown(socket.SHUT_RDWR)
        for i in range(40, 80):
            pub.submit(decision(i))
        assert pub.flush(WAIT_S)
    seqs: set[int] = set()
    while len(seqs) < 80:  # duplicates are allowed (at-least-once), gaps are not
        seqs.add(json.loads(sub.next().payload)["seq"])
    assert seqs == set(range(1, 81))


@pytest.mark.broker
def test_unsent_events_are_sent_by_the_next_process(
    make_broker: MakeBroker, gate: str, tmp_path: Path, raw_sub: Callable[[str, str], RawSub]
) -> None:
    with Outbox.open(tmp_path, site="s1", gate=gate) as outbox:
        for i in range(3):
            outbox.put("screening", decision_body(decision(i), site="s1", gate=gate, wall_ns=0))
    own = make_broker()
    sub = raw_sub(own.url, f"gate/s1/{gate}/event/#")
    outbox = Outbox.open(tmp_path, site="s1", gate=gate)
    with publisher(own.url, gate, outbox=outbox) as pub:
        assert pub.submit(decision(9))[0] == 4
        assert pub.flush(WAIT_S)
    assert [json.loads(sub.next().payload)["seq"] for _ in range(4)] == [1, 2, 3, 4]


# -- connection errors ----------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_broker_is_a_broker_error(gate: str) -> None:
    url = f"mqtt://127.0.0.1:{_closed_port()}"
    with pytest.raises(BrokerError, match="cannot connect to MQTT broker"):
        publisher(url, gate, options=BrokerOptions(url=url, connect_timeout_s=2)).start()


def test_silent_server_times_out_waiting_for_connack(gate: str) -> None:
    with socket.socket() as listener:  # accepts TCP (kernel backlog) but never speaks MQTT
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"mqtt://127.0.0.1:{listener.getsockname()[1]}"
        options = BrokerOptions(url=url, connect_timeout_s=0.5)
        with pytest.raises(BrokerError, match="no CONNACK"):
            publisher(url, gate, options=options).start()


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("http://127.0.0.1:1883", "mqtt:// or mqtts://"),
        ("mqtt://", "no host"),
        ("mqtt://127.0.0.1:99999", "invalid"),
        ("mqtt://127.0.0.1:1883/topic", "no path"),
        ("mqtt://user:hunter2@127.0.0.1", "credentials"),
        ("mqtt://user:hunter2@127.0.0.1:99999", "invalid"),
    ],
)
def test_bad_url_is_a_clear_config_error(url: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(needle)) as caught:
        parse_broker_url(url)
    assert "hunter2" not in str(caught.value)
    assert parse_broker_url("mqtts://broker.example").port == 8883


@pytest.mark.broker
@pytest.mark.fault
def test_refused_credentials_fail_fast_and_password_stays_secret(
    make_broker: MakeBroker, gate: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    own = make_broker(users={"gate-north": "right-pw"})
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.write_text("gate-north:right-pw\n")
    bad.write_text("gate-north:wrong-pw\n")
    good.chmod(0o600)
    bad.chmod(0o600)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(BrokerError, match="Not authorized"):
        publisher(own.url, gate, options=BrokerOptions(url=own.url, connect_timeout_s=5)).start()
    options = BrokerOptions(url=own.url, credentials_file=bad, connect_timeout_s=5)
    with pytest.raises(BrokerError, match="Not authorized") as caught:
        publisher(own.url, gate, options=options).start()
    assert str(bad) in str(caught.value)
    with publisher(own.url, gate, options=BrokerOptions(url=own.url, credentials_file=good)) as pub:
        pub.submit(decision(1))
        assert pub.flush(WAIT_S)
    assert "right-pw" not in caplog.text and "wrong-pw" not in caplog.text


@pytest.mark.broker
@pytest.mark.fault
def test_tls_broker_with_private_ca(make_broker: MakeBroker, gate: str, tmp_path: Path) -> None:
    try:
        tls = make_test_tls(tmp_path / "pki")
    except BrokerError as exc:
        pytest.skip(str(exc))
    own = make_broker(tls=tls)
    assert own.url.startswith("mqtts://")
    with pytest.raises(BrokerError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        publisher(own.url, gate, options=BrokerOptions(url=own.url, connect_timeout_s=5)).start()
    options = BrokerOptions(url=own.url, ca_file=tls.ca_file, connect_timeout_s=5)
    with publisher(own.url, gate, options=options) as pub:
        pub.submit(decision(1))
        assert pub.flush(WAIT_S)


def test_credentials_file_errors_do_not_quote_the_file(gate: str, tmp_path: Path) -> None:
    secret = tmp_path / "creds"
    secret.write_text("no-colon-secret-token\n")
    options = BrokerOptions(url="mqtt://127.0.0.1:1883", credentials_file=secret)
    with pytest.raises(ConfigError, match="username:password") as caught:
        publisher(options.url, gate, options=options)
    assert "secret-token" not in str(caught.value)
    missing = BrokerOptions(url=options.url, credentials_file=tmp_path / "absent")
    with pytest.raises(ConfigError, match="cannot read broker credentials file"):
        publisher(options.url, gate, options=missing)


@pytest.mark.broker
def test_check_broker_leaves_status_alone(
    make_broker: MakeBroker, raw_sub: Callable[[str, str], RawSub]
) -> None:
    own = make_broker()  # fresh: nothing retained yet
    watcher = raw_sub(own.url, "#")
    check_broker(BrokerOptions(url=own.url, connect_timeout_s=5))
    with pytest.raises(queue.Empty):
        watcher.messages.get(timeout=0.3)  # no retained status/info appeared for anyone
    with pytest.raises(BrokerError):
        check_broker(BrokerOptions(url=f"mqtt://127.0.0.1:{_closed_port()}"))


def test_tls_files_with_plain_url_are_rejected(gate: str, tmp_path: Path) -> None:
    options = BrokerOptions(url="mqtt://127.0.0.1:1883", ca_file=tmp_path / "ca.crt")
    with pytest.raises(ConfigError, match="mqtts://"):
        publisher(options.url, gate, options=options)


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


@pytest.mark.broker
@pytest.mark.fault
def test_tls_broker_requiring_client_certificates(
    make_broker: MakeBroker, gate: str, tmp_path: Path
) -> None:
    import dataclasses

    try:
        tls = make_test_tls(tmp_path / "pki")
    except BrokerError as exc:
        pytest.skip(str(exc))
    own = make_broker(tls=dataclasses.replace(tls, require_certificate=True))
    pki = tmp_path / "pki"
    no_cert = BrokerOptions(url=own.url, ca_file=tls.ca_file, connect_timeout_s=5)
    with pytest.raises(BrokerError):
        publisher(own.url, gate, options=no_cert).start()
    with_cert = dataclasses.replace(
        no_cert, cert_file=pki / "client.crt", key_file=pki / "client.key"
    )
    with publisher(own.url, gate, options=with_cert) as pub:
        pub.submit(decision(1))
        assert pub.flush(WAIT_S)
