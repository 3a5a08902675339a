"""Short-lived MQTT roles: the subscriber (tail, tests), one-shot publish (push), a check."""

from __future__ import annotations

import logging
import queue
import secrets
import threading
from collections.abc import Sequence
from typing import Any

import paho.mqtt.client as mqtt

from edge.errors import BrokerError
from edge.transport.address import (
    BrokerOptions,
)
from edge.transport.mqtt.link import _Link

log = logging.getLogger(__name__)

class Subscriber(_Link):
    """Collects messages on topic filters (QoS 1) into a queue: `gate-edge tail`, tests."""

    def __init__(
        self,
        options: BrokerOptions,
        filters: Sequence[str],
        *,
        client_id: str | None = None,
        max_queued: int = 100_000,
        clean_session: bool = True,
    ) -> None:
        # clean_session=False with a fixed client_id: the broker keeps our subscription and
        # queues QoS 1 messages while we are away (a backend consumer; the outage tests).
        # MQTT 3.1.1 and no packet size cap: a reader takes whatever the broker carries.
        super().__init__(
            options, client_id or f"gate-edge-tail-{secrets.token_hex(4)}", clean_session,
            max_packet_bytes=None,
        )
        self._filters = list(filters)
        self._queue: queue.Queue[tuple[str, bytes]] = queue.Queue(max_queued)
        self.subscribed = threading.Event()  # set at the first SUBACK
        self.dropped = 0  # messages lost because the reader fell max_queued behind
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe

    def start(self) -> Subscriber:
        self._open()
        return self

    def __enter__(self) -> Subscriber:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def get(self, timeout_s: float | None) -> tuple[str, bytes] | None:
        """The next (topic, payload), or None after `timeout_s` (None waits forever)."""
        try:
            return self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._stop_client()

    def _connected(self, client: Any) -> None:
        # Subscriptions die with a clean session: renew them on every connect.
        client.subscribe([(f, 1) for f in self._filters])

    def _on_subscribe(self, _c: Any, _u: Any, _mid: int, reasons: Any, _p: Any) -> None:
        for topic_filter, reason in zip(self._filters, reasons, strict=False):
            if reason.is_failure:
                log.warning("broker refused subscription %s: %s", topic_filter, reason)
        self.subscribed.set()

    def _on_message(self, _c: Any, _u: Any, message: Any) -> None:
        try:
            self._queue.put_nowait((message.topic, bytes(message.payload)))
        except queue.Full:
            self.dropped += 1


def publish_once(
    options: BrokerOptions, topic: str, payload: bytes, *, retain: bool = False,
    timeout_s: float = 10.0,
) -> None:
    """Connect, publish one message with QoS 1, wait for the broker's PUBACK, disconnect.

    For backend helpers (`gate-edge push`). BrokerError/ConfigError if the broker cannot be
    reached or does not acknowledge within `timeout_s`.
    """
    link = _Link(options, f"gate-edge-push-{secrets.token_hex(4)}")
    link._open()
    try:
        info = link._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            raise BrokerError(f"cannot publish to {topic} on {link.address}: "
                              f"{mqtt.error_string(info.rc)}")
        try:
            info.wait_for_publish(timeout_s)
        except (RuntimeError, ValueError) as exc:
            raise BrokerError(f"publishing to {topic} on {link.address} failed: {exc}") from exc
        if not info.is_published():
            raise BrokerError(f"MQTT broker {link.address} did not acknowledge the message "
                              f"on {topic} within {timeout_s} s")
    finally:
        link._stop_client()


def check_broker(options: BrokerOptions) -> None:
    """Connect and disconnect once (no will, no status): BrokerError/ConfigError if it fails.

    For `gate-edge check`: unlike a Publisher it cannot disturb a running gate's status.
    """
    link = _Link(options, f"gate-edge-check-{secrets.token_hex(4)}")
    link._open()
    link._stop_client()
