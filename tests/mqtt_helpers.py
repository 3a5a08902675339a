"""MQTT test helpers: decisions to publish, a Publisher on a test gate, and a plain paho
subscriber (independent of edge.transport.mqtt) to check what is on the wire."""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge.core.types import Decision, TemperatureReading
from edge.sim.broker import PrivateBroker
from edge.transport.mqtt import BrokerOptions, Publisher, parse_broker_url
from edge.transport.outbox import Outbox

MakeBroker = Callable[..., PrivateBroker]
WAIT_S = 15.0


def decision(i: int, body_c: float = 36.6, threshold_c: float = 37.3) -> Decision:
    kind = "fever" if body_c >= threshold_c else "screening"
    reading = TemperatureReading(body_c, body_c - 1.5, threshold_c, "canthus", 9, True, 0.2)
    return Decision(kind, 1_000_000 * i, i, reading, (10, 10, 20, 20))  # type: ignore[arg-type]


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


def publisher(url: str, gate: str, **kwargs: Any) -> Publisher:
    outbox = kwargs.pop("outbox", None) or Outbox(":memory:", site="s1", gate=gate)
    options = kwargs.pop("options", None) or BrokerOptions(url=url, connect_timeout_s=5)
    return Publisher(options, site="s1", gate=gate, outbox=outbox, info={"version": "t"}, **kwargs)
