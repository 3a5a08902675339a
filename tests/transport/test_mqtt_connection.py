"""Connecting to the broker: unreachable or silent servers, bad URLs, credentials and TLS.

Synchronisation is by events, queues and timeouts only: no sleeps.
"""

from __future__ import annotations

import logging
import queue
import re
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.errors import BrokerError, ConfigError
from edge.sim.broker import make_test_tls
from edge.transport.mqtt import BrokerOptions, check_broker, parse_broker_url
from tests.mqtt_helpers import WAIT_S, MakeBroker, RawSub, decision, publisher
from tests.shared import skip_or_fail

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
        skip_or_fail(str(exc))
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


@pytest.mark.broker
@pytest.mark.fault
def test_tls_broker_requiring_client_certificates(
    make_broker: MakeBroker, gate: str, tmp_path: Path
) -> None:
    import dataclasses

    try:
        tls = make_test_tls(tmp_path / "pki")
    except BrokerError as exc:
        skip_or_fail(str(exc))
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
