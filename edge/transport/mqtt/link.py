"""A paho client in its own network thread; the base of every MQTT role here."""

from __future__ import annotations

import logging
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.errors import BrokerError, ConfigError
from edge.transport.address import (
    BrokerAddress,
    BrokerOptions,
    parse_broker_url,
    read_credentials,
    tls_context,
)
from edge.transport.mqtt.outage import OutageLog

log = logging.getLogger(__name__)

DEFAULT_MAX_INFLIGHT = 100

# The largest MQTT packet a gate accepts, sent as MQTT 5's Maximum Packet Size on CONNECT: a
# broker that honours it (Mosquitto >= 1.6, EMQX, HiveMQ, VerneMQ) drops a bigger message for
# this client instead of sending it, so a 100 MB publish on a command topic is never buffered
# by paho. The packet includes the topic and headers: 16,384 bytes of command
# (edge.commands.envelope.DEFAULT_MAX_BYTES; tests check the two agree) + 4,096 for the fixed
# header, the topic (site, gate and name are at most 64 characters each) and properties.
# Commands between 16,384 bytes and this size still arrive and are refused as too_large.
MAX_PACKET_BYTES = 16384 + 4096


def _not_shutdown_noise(record: logging.LogRecord) -> bool:
    # paho 2.2's network thread runs once more after a clean disconnect() and logs this at
    # ERROR; operators would read it as a fault.
    return not record.getMessage().startswith("Client is not connected.")


_paho_log = logging.getLogger(f"{__name__}.paho")
_paho_log.addFilter(_not_shutdown_noise)


class _Client(mqtt.Client):
    """paho's client, remembering why the last connect attempt failed: paho's
    on_connect_fail callback is not told."""

    last_error: OSError | None = None

    def reconnect(self) -> MQTTErrorCode:
        try:
            return super().reconnect()
        except OSError as exc:
            self.last_error = exc
            raise


def connect_properties(max_packet_bytes: int | None) -> Properties | None:
    """CONNECT properties of an MQTT 5 link (None for 3.1.1). No Session Expiry Interval:
    it defaults to 0, so the session ends with the connection (3.1.1's clean session)."""
    if max_packet_bytes is None:
        return None
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.MaximumPacketSize = max_packet_bytes
    return properties


def _new_client(
    options: BrokerOptions, address: BrokerAddress, client_id: str, clean_session: bool,
    max_packet_bytes: int | None,
) -> Any:
    has_tls_files = any((options.ca_file, options.cert_file, options.key_file))
    if has_tls_files and not address.tls:
        raise ConfigError(f"TLS files are configured but the broker URL is {address}; use mqtts://")
    # A clean session either way: the outbox (not the broker's session) is what keeps
    # unacknowledged events across reconnects and restarts. MQTT 5 (clean start on every
    # connect, session expiry 0) only where a packet size cap is wanted; else 3.1.1.
    if max_packet_bytes is None:
        client = _Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session,
            protocol=MQTTProtocolVersion.MQTTv311,
        )
    else:
        if not clean_session:
            raise ValueError("an MQTT 5 link here always starts clean")
        client = _Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
        )
    client.enable_logger(_paho_log)
    client.suppress_exceptions = True  # a bug in a callback must not kill the network thread
    client.connect_timeout = options.connect_timeout_s
    client.reconnect_delay_set(options.reconnect_min_s, options.reconnect_max_s)
    if options.credentials_file is not None:
        client.username_pw_set(*read_credentials(options.credentials_file))
    if address.tls:
        client.tls_set_context(tls_context(options))
    return client


class _Link:
    """A paho client in its own network thread, with fail-fast first-connect rules.

    The first connect must succeed within the timeout or raise BrokerError (bad URL, nothing
    listening, TLS failure, refused credentials). After that, outages are survived by paho's
    reconnect loop with bounded exponential backoff.
    """

    def __init__(
        self, options: BrokerOptions, client_id: str, clean_session: bool = True,
        max_packet_bytes: int | None = MAX_PACKET_BYTES,
    ) -> None:
        """`max_packet_bytes` (default: the gate's cap) selects MQTT 5 with that Maximum
        Packet Size on CONNECT; None selects MQTT 3.1.1 and no cap (`tail`, tests)."""
        self.options = options
        self.address = parse_broker_url(options.url)
        self._client = _new_client(
            options, self.address, client_id, clean_session, max_packet_bytes
        )
        self._connect_kwargs: dict[str, Any] = {}
        if max_packet_bytes is not None:
            self._connect_kwargs = {
                "clean_start": True, "properties": connect_properties(max_packet_bytes),
            }
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_connect_fail = self._on_connect_fail
        self.outage = OutageLog(str(self.address), options.credentials_file)
        self._background = False  # refusals are logged, not raised (no caller to raise to)
        self._first_connack = threading.Event()
        self._refusal: str | None = None
        self._online = threading.Event()
        self._stopped = False

    @property
    def connected(self) -> bool:
        return self._online.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._online.wait(timeout_s)

    def _open_background(self) -> None:
        """Start connecting without waiting: a live gate must come up and keep measuring
        (events wait in the outbox) when the broker is down at boot."""
        self._background = True
        self._client.connect_async(
            self.address.host, self.address.port, self.options.keepalive_s, **self._connect_kwargs
        )
        self._client.loop_start()

    def _open(self) -> None:
        try:
            self._client.connect(
                self.address.host, self.address.port, self.options.keepalive_s,
                **self._connect_kwargs,
            )
        except OSError as exc:  # refused, unreachable, DNS, TLS handshake/verification
            raise BrokerError(f"cannot connect to MQTT broker {self.address}: {exc}") from exc
        self._client.loop_start()
        timeout_s = self.options.connect_timeout_s
        if not self._first_connack.wait(timeout_s):
            self._stop_client()
            raise BrokerError(
                f"MQTT broker {self.address} accepted TCP but sent no CONNACK within {timeout_s} s "
                "(not an MQTT broker, or TLS expected: try mqtts://)"
            )
        if self._refusal is not None:
            self._stop_client()
            hint = f"check {self.options.credentials_file}" if self.options.credentials_file \
                else "the broker may require a credentials file"
            raise BrokerError(
                f"MQTT broker {self.address} refused the connection: {self._refusal} ({hint})"
            )

    def _stop_client(self) -> None:
        self._stopped = True
        self._client.disconnect()
        self._client.loop_stop()
        self._online.clear()

    def _on_connect(self, client: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            if not self._first_connack.is_set() and not self._background:
                self._refusal = str(reason)  # _open raises it
                self._first_connack.set()
            else:
                self.outage.refused(str(reason))
            return
        self.outage.back(self._queued_events())
        self._online.set()  # before the hook, so work the hook wakes sees the link as up
        self._connected(client)
        self._first_connack.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        was_online = self._online.is_set()
        self._online.clear()
        if was_online and not self._stopped:
            self.outage.lost(str(reason))
        self._disconnected()

    def _on_connect_fail(self, client: Any, _u: Any) -> None:
        if not self._stopped:
            self.outage.failed(str(getattr(client, "last_error", None) or "connection failed"))

    def _queued_events(self) -> int | None:
        """Hook, network thread: events waiting to be sent, for the end-of-outage line."""
        return None

    def _connected(self, client: Any) -> None:
        """Hook, network thread: runs on every successful (re)connect."""

    def _disconnected(self) -> None:
        """Hook, network thread."""
