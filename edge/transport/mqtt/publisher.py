"""The gate's publisher: outbox -> broker (QoS 1, PUBACK acks), status, info, metrics, commands."""

from __future__ import annotations

import collections
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import paho.mqtt.client as mqtt

from edge.core.types import Decision
from edge.errors import ConfigError
from edge.transport.address import (
    BrokerOptions,
)
from edge.transport.events import DEFAULT_PREFIX, check_topic_level, decision_body, gate_topic
from edge.transport.mqtt.link import DEFAULT_MAX_INFLIGHT, _Link
from edge.transport.outbox import Outbox, OutboxRow, OutboxWriteError

log = logging.getLogger(__name__)

_MAX_SENT_ROWS = 10_000


class _Taps:
    """Who else wants to know: PUBACK listeners get the acknowledged rows and the monotonic
    ns of the ack (the run loop's decision latency; rows are kept per seq only while there
    are listeners), metrics sections add fields to every metrics message."""

    def __init__(self) -> None:
        self.ack: list[Callable[[Sequence[OutboxRow], int], None]] = []
        self.rows: dict[int, OutboxRow] = {}
        self.metrics: list[Callable[[], Mapping[str, object]]] = []

class Publisher(_Link):
    """Publishes one gate's events from the outbox, plus status, info and metrics.

    Threads: the caller's (`submit` only writes the outbox), paho's network thread
    (callbacks), and a drain thread that hands outbox rows to paho and acks PUBACKed rows.
    Topics: `{prefix}/{site}/{gate}/status|info|metrics|event/{type}`.

    With `on_command`, it also subscribes (QoS 1, renewed on every connect) to
    `{prefix}/{site}/{gate}/cmd/#` and `{prefix}/{site}/cmd/#` and calls
    `on_command(topic, payload, retained)` for each message (`retained`: the MQTT retain flag,
    i.e. a stored copy delivered at subscribe time). That call runs on paho's network thread:
    it must only enqueue (e.g. `queue.put_nowait`) and return; verifying and applying belong
    to a consumer thread (edge.commands.verify.CommandVerifier). Its exceptions are logged, never
    propagated. The broker's PUBACK for a command is sent after it returns, so a command
    dropped by a full queue is lost: count those drops.
    """

    def __init__(
        self,
        options: BrokerOptions,
        *,
        site: str,
        gate: str,
        outbox: Outbox,
        prefix: str = DEFAULT_PREFIX,
        info: Mapping[str, object] | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
        max_inflight: int = DEFAULT_MAX_INFLIGHT,
        client_id: str | None = None,
        on_command: Callable[[str, bytes, bool], None] | None = None,
    ) -> None:
        for value, what in ((site, "site"), (gate, "gate")):
            try:
                check_topic_level(value, what)
            except ValueError as exc:
                raise ConfigError(str(exc)) from exc
        if (outbox.site, outbox.gate) != (site, gate):
            raise ValueError(f"outbox belongs to {outbox.site}/{outbox.gate}, not {site}/{gate}")
        # A fresh id per process: a fixed one would let `gate-edge check` or a second process
        # with the same gate kick the running service off (session takeover ping-pong). A stale
        # session's late will is answered in _on_status instead.
        super().__init__(options, client_id or f"gate-edge-{site}-{gate}-{secrets.token_hex(3)}")
        self.site, self.gate, self.prefix = site, gate, prefix
        self._outbox = outbox
        self._info = dict(info or {})
        self._clock_ns = clock_ns
        self._max_inflight = max_inflight
        self._status_topic = gate_topic(prefix, site, gate, "status")
        self._client.will_set(self._status_topic, b"offline", qos=1, retain=True)
        self._client.max_inflight_messages_set(max_inflight)
        self._client.on_publish = self._on_publish
        self._client.message_callback_add(self._status_topic, self._on_status)
        self._on_command = on_command
        self.command_filters: tuple[str, ...] = ()
        self.commands_subscribed = threading.Event()  # SUBACK for the cmd filters; per connect
        self._command_sub_mid: int | None = None
        if on_command is not None:
            self.command_filters = (
                gate_topic(prefix, site, gate, "cmd", "#"), f"{prefix}/{site}/cmd/#",
            )
            # Both filters match gate/{site}/cmd/cmd/x when the gate is named "cmd": one
            # callback entry then, so paho hands each message over once.
            for topic_filter in dict.fromkeys(self.command_filters):
                self._client.message_callback_add(topic_filter, self._on_command_message)
            self._client.on_subscribe = self._on_subscribe
        self._cv = threading.Condition()
        self._inflight: dict[int, int] = {}  # paho mid -> outbox seq; drain thread writes
        self._puback_mids: collections.deque[int] = collections.deque()
        self._cursor_seq = 0  # highest seq handed to paho
        self._unacked: list[int] = []  # PUBACKed seqs the outbox could not delete yet
        self._ack_failing = False
        self._dirty = True  # the outbox may hold rows beyond the cursor
        self._closing = self._drain_stop = False
        self._drain: threading.Thread | None = None
        self._taps = _Taps()
        self.counters = {"published": 0, "acked": 0, "connects": 0, "disconnects": 0,
                         "command_callback_errors": 0}

    def start(self, *, wait_for_broker: bool = True) -> Publisher:
        """Start draining the outbox. With `wait_for_broker`, connect first (BrokerError if
        that fails); without, connect in the background and keep retrying (`gate-edge run`)."""
        if self._drain is not None:
            raise RuntimeError("Publisher.start() called twice")
        self._drain = threading.Thread(target=self._drain_loop, name="mqtt-drain", daemon=True)
        if wait_for_broker:
            self._open()
        else:
            self._open_background()
        self._drain.start()
        return self

    def __enter__(self) -> Publisher:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- caller side --------------------------------------------------------------------

    def submit(self, decision: Decision) -> tuple[int, str]:
        """Commit a screening/fever event to the outbox; never waits for the network."""
        body = decision_body(decision, site=self.site, gate=self.gate, wall_ns=self._clock_ns())
        return self.submit_event(decision.type, body)

    def submit_event(self, event_type: str, body: Mapping[str, object]) -> tuple[int, str]:
        """Commit any event body (without id/seq) to the outbox; returns its (seq, id)."""
        return self.commit([(event_type, body)])[0]

    def event_of(self, decision: Decision) -> tuple[str, dict[str, object]]:
        """The (type, body) of a decision's event, stamped with the wall clock now."""
        body = decision_body(decision, site=self.site, gate=self.gate, wall_ns=self._clock_ns())
        return decision.type, body

    def commit(
        self,
        events: Sequence[tuple[str, Mapping[str, object]]],
        checkpoint: str | None = None,
    ) -> list[tuple[int, str]]:
        """Commit events (type, body) and, when given, the caller's checkpoint text in one
        outbox transaction (Outbox.put_many); OutboxWriteError when nothing could be stored."""
        seq_ids = self._outbox.put_many(events, checkpoint=checkpoint)
        if seq_ids:
            with self._cv:
                self._dirty = True
                self._cv.notify_all()
        return seq_ids

    def set_info(self, info: Mapping[str, object]) -> None:
        """Replace the retained birth message (e.g. after a config change) and republish it."""
        self._info = dict(info)
        if self.connected:
            self._publish_info(self._client)

    def update_info(self, fields: Mapping[str, object]) -> None:
        """Merge `fields` into the retained birth message and republish it."""
        self.set_info({**self._info, **fields})

    def add_ack_listener(self, listener: Callable[[Sequence[OutboxRow], int], None]) -> None:
        """Call `listener(rows, acked_ns)` on the drain thread for events the broker PUBACKed
        (`acked_ns`: time.monotonic_ns() then). It must be quick and must not raise."""
        self._taps.ack.append(listener)

    def add_metrics(self, section: Callable[[], Mapping[str, object]]) -> None:
        """Merge `section()`'s fields into every metrics message published."""
        self._taps.metrics.append(section)

    def publish_metrics(self, metrics: Mapping[str, object]) -> bool:
        """QoS 0, not retained (include `stats()` in `metrics` yourself; the `add_metrics`
        sections are merged in). False when offline: a metrics snapshot is worth nothing
        later, so it is not queued."""
        if not self.connected:
            return False
        payload = dict(metrics)
        for section in self._taps.metrics:
            payload.update(section())
        topic = gate_topic(self.prefix, self.site, self.gate, "metrics")
        self._client.publish(topic, json.dumps(payload, default=str), qos=0, retain=False)
        return True

    def publish_command_result(self, body: Mapping[str, object]) -> None:
        """`.../cmd_result`, QoS 1, not retained: what became of one command message. paho
        queues it while offline (a clean session: lost if the process ends first)."""
        topic = gate_topic(self.prefix, self.site, self.gate, "cmd_result")
        self._client.publish(topic, json.dumps(dict(body), default=str), qos=1, retain=False)

    def stats(self) -> dict[str, object]:
        """Outbox depth/age/full count, published/acked/connects/disconnects, inflight."""
        with self._cv:
            inflight = len(self._inflight)
        return {**self._outbox.stats(), **self.counters, "inflight": inflight,
                "connected": self.connected}

    def flush(self, timeout_s: float) -> bool:
        """True once the outbox is empty and every PUBACK arrived; False on timeout."""
        def drained() -> bool:
            return not self._inflight and not self._puback_mids and self._outbox.depth() == 0

        with self._cv:
            return self._cv.wait_for(drained, timeout_s)

    def close(self, timeout_s: float = 5.0) -> None:
        """Publish retained "offline", wait for its PUBACK, stop threads, disconnect cleanly.

        Events not yet acknowledged stay in the outbox for the next run.
        """
        with self._cv:
            self._closing = True
            self._cv.notify_all()
        if self.connected:
            info = self._client.publish(self._status_topic, b"offline", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError) as exc:
                log.warning("could not publish offline status: %s", exc)
            if not info.is_published():
                log.warning("broker did not acknowledge the offline status within %s s", timeout_s)
        with self._cv:
            self._drain_stop = True
            self._cv.notify_all()
        if self._drain is not None and self._drain.is_alive():
            self._drain.join(timeout_s)
        self._stop_client()

    # -- network thread -----------------------------------------------------------------

    def _connected(self, client: Any) -> None:
        self.counters["connects"] += 1
        client.publish(self._status_topic, b"online", qos=1, retain=True)
        self._publish_info(client)
        # Watch our own status: a stale session's will can land after our "online" (half-open
        # TCP timing out late); answering it keeps the retained status truthful.
        client.subscribe(self._status_topic, qos=1)
        if self.command_filters:  # subscriptions die with the clean session: renew them
            _rc, self._command_sub_mid = client.subscribe([(f, 1) for f in self.command_filters])
        with self._cv:
            self._dirty = True
            self._cv.notify_all()
        log.info("connected to MQTT broker %s as %s/%s", self.address, self.site, self.gate)

    def _queued_events(self) -> int | None:
        try:
            return self._outbox.depth()
        except Exception:  # only for a log line; never into paho's callback
            return None

    def _disconnected(self) -> None:
        self.counters["disconnects"] += 1
        self.commands_subscribed.clear()

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, reasons: Any, _p: Any) -> None:
        if mid != self._command_sub_mid:
            return
        refused = [f for f, r in zip(self.command_filters, reasons, strict=False) if r.is_failure]
        if refused:
            log.error("broker refused the command subscription %s; commands will not arrive",
                      ", ".join(refused))
        else:
            self.commands_subscribed.set()

    def _publish_info(self, client: Any) -> None:
        topic = gate_topic(self.prefix, self.site, self.gate, "info")
        client.publish(topic, json.dumps(self._info, default=str), qos=1, retain=True)

    def _on_status(self, client: Any, _u: Any, message: Any) -> None:
        if message.payload == b"offline" and self.connected and not self._closing:
            log.info("retained status says offline while connected; republishing online")
            client.publish(self._status_topic, b"online", qos=1, retain=True)

    def _on_command_message(self, _c: Any, _u: Any, message: Any) -> None:
        callback = self._on_command
        if callback is None:
            return
        try:
            callback(message.topic, bytes(message.payload), bool(message.retain))
        except Exception:  # never into paho's loop; the message itself is not logged
            self.counters["command_callback_errors"] += 1
            log.exception("on_command callback failed; command dropped")

    def _on_publish(self, _c: Any, _u: Any, mid: int, _reason: Any, _p: Any) -> None:
        # paho calls this holding its own message lock, which publish() also takes: only queue
        # the mid here and let the drain thread (which owns the mid -> seq map) do the ack.
        with self._cv:
            self._puback_mids.append(mid)
            self._cv.notify_all()

    # -- drain thread -------------------------------------------------------------------

    def _drain_loop(self) -> None:
        while True:
            try:
                if not self._drain_once():
                    return
            except Exception:  # e.g. SQLite I/O error: keep the thread, events stay on disk
                log.exception("MQTT drain step failed; retrying in 1 s")
                with self._cv:
                    self._dirty = True
                    self._cv.wait_for(lambda: self._drain_stop, 1.0)

    def _drain_once(self) -> bool:
        with self._cv:
            # Acks the outbox could not delete (disk full) are retried every second.
            self._cv.wait_for(self._drain_has_work, 1.0 if self._unacked else None)
            mids = list(self._puback_mids)
            self._puback_mids.clear()
            delivered = [self._inflight.pop(m) for m in mids if m in self._inflight]
            acked = self._unacked + delivered
            self._unacked = []
            room = self._max_inflight - len(self._inflight)
            send = self._dirty and room > 0 and self.connected and not self._closing
            if send:
                self._dirty = False
            cursor, stop = self._cursor_seq, self._drain_stop
        if delivered and self._taps.ack:
            self._tell_listeners(delivered)
        if acked:
            self._ack(acked)
        if send:
            self._send_rows(cursor, room)
        with self._cv:
            self._cv.notify_all()  # wake flush() after acks
        return not stop

    def _tell_listeners(self, seqs: list[int]) -> None:
        acked_ns = time.monotonic_ns()
        rows = [row for row in (self._taps.rows.pop(seq, None) for seq in seqs) if row]
        for listener in self._taps.ack:
            try:
                listener(rows, acked_ns)
            except Exception:  # a statistic must never stop the delivery of events
                log.exception("PUBACK listener failed")

    def _ack(self, seqs: list[int]) -> None:
        try:
            self._outbox.ack_many(seqs)
        except OutboxWriteError as exc:  # the events were delivered; delete them later
            with self._cv:
                self._unacked = seqs + self._unacked
            if not self._ack_failing:
                log.error("%s (delivered events are deleted once it works)", exc)
            self._ack_failing = True
            return
        if self._ack_failing:
            log.info("outbox writable again: delivered events deleted")
        self._ack_failing = False
        self.counters["acked"] += len(seqs)

    def _drain_has_work(self) -> bool:
        can_send = (self._dirty and self.connected and not self._closing
                    and len(self._inflight) < self._max_inflight)
        return self._drain_stop or bool(self._puback_mids) or can_send

    def _send_rows(self, cursor_seq: int, room: int) -> None:
        rows = self._outbox.pending(room, after_seq=cursor_seq)
        for row in rows:
            topic = gate_topic(self.prefix, self.site, self.gate, "event", row.type)
            # Queued by paho even if the link just dropped; it is sent after the reconnect.
            info = self._client.publish(topic, row.payload.encode("utf-8"), qos=1)
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                # Not queued by paho: keep the cursor so the row is offered again later.
                log.error("paho refused event seq %d: %s", row.seq, mqtt.error_string(info.rc))
                return
            with self._cv:
                self._inflight[info.mid] = row.seq
                self._cursor_seq = row.seq
            if self._taps.ack:
                self._taps.rows[row.seq] = row
                if len(self._taps.rows) > _MAX_SENT_ROWS:  # rows re-sent after a reconnect
                    del self._taps.rows[next(iter(self._taps.rows))]
            self.counters["published"] += 1
        if len(rows) == room:
            with self._cv:
                self._dirty = True
