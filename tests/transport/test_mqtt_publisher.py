"""MQTT contract (DESIGN section 4) against a real Mosquitto: the publisher's events, status,
last will, outages and the outbox hand-over.

Synchronisation is by events, queues and timeouts only: no sleeps.
"""

from __future__ import annotations

import json
import queue
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.sim.broker import PrivateBroker
from edge.transport.events import decision_body
from edge.transport.mqtt import BrokerOptions
from edge.transport.outbox import Outbox
from tests.mqtt_helpers import WAIT_S, MakeBroker, RawSub, decision, publisher
from tests.shared import REPO_ROOT

TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


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
        [sys.executable, "-c", _CHILD, broker.url, gate], cwd=REPO_ROOT,
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
