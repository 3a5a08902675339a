"""systemd notify/watchdog protocol against a fake NOTIFY_SOCKET.

The fake socket is what systemd itself provides: an AF_UNIX datagram socket, bound either
to a path or in the abstract namespace. Waits are bounded by the socket's receive timeout
and by the watchdog's own state/check notifications, never by sleeping.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.app.sdnotify import Notifier, Watchdog, watchdog_interval_s


def _bind_path(tmp_path: Path) -> tuple[socket.socket, str]:
    path = tmp_path / "notify"
    if len(os.fsencode(path)) >= 100:  # sun_path holds 108 bytes
        path = Path(tempfile.mkdtemp(prefix="sdn")) / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    return sock, str(path)


def _bind_abstract() -> tuple[socket.socket, str]:
    name = f"gate-edge-test-{os.getpid()}-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    return sock, "@" + name


@pytest.fixture(params=["path", "abstract"])
def fake_systemd(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[socket.socket]:
    """A bound notify socket; NOTIFY_SOCKET points at it."""
    sock, address = _bind_path(tmp_path) if request.param == "path" else _bind_abstract()
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    try:
        yield sock
    finally:
        sock.close()


def _recv(sock: socket.socket, timeout_s: float = 5.0) -> str:
    sock.settimeout(timeout_s)
    return sock.recv(4096).decode()


def _drain(sock: socket.socket) -> list[str]:
    """Every datagram already queued (non-blocking)."""
    sock.setblocking(False)
    out: list[str] = []
    try:
        while True:
            out.append(sock.recv(4096).decode())
    except BlockingIOError:
        return out
    finally:
        sock.setblocking(True)


def _kick_until_ping(wd: Watchdog, sock: socket.socket, pings: int, deadline_s: float) -> int:
    """Play the frame loop (kick), until `pings` WATCHDOG=1 arrived; returns how many did."""
    got = 0
    deadline = time.monotonic() + deadline_s
    while got < pings and time.monotonic() < deadline:
        wd.kick()
        try:
            message = _recv(sock, timeout_s=0.02)  # the frame loop's pace, bounded
        except TimeoutError:
            continue
        assert message == "WATCHDOG=1"
        got += 1
    return got


# ---------------------------------------------------------------- notifier


def test_no_notify_socket_is_a_noop() -> None:
    notifier = Notifier.from_env()
    assert not notifier.enabled
    assert not notifier.ready("up")
    assert not notifier.status("x")
    assert not notifier.stopping()
    assert not notifier.watchdog()
    assert notifier.sent == 0 and notifier.send_errors == 0

    assert Watchdog(notifier).state == "disabled"  # the default interval_s="env"
    wd = Watchdog.from_env(notifier).start()
    assert wd.state == "disabled" and not wd.enabled
    wd.kick()
    assert not wd.check()
    assert wd.stop()
    assert wd.stats()["state"] == "disabled"


def test_ready_status_stopping_arrive(fake_systemd: socket.socket) -> None:
    with Notifier.from_env() as notifier:
        assert notifier.enabled
        assert notifier.ready("screening, 2 streams")
        assert _recv(fake_systemd) == "READY=1\nSTATUS=screening, 2 streams"
        assert notifier.status("broker down,\nretrying")
        assert _recv(fake_systemd) == "STATUS=broker down, retrying"  # one line
        assert notifier.stopping("shutting down")
        assert _recv(fake_systemd) == "STOPPING=1\nSTATUS=shutting down"
        assert notifier.watchdog()
        assert _recv(fake_systemd) == "WATCHDOG=1"
        assert notifier.mainpid()
        assert _recv(fake_systemd) == f"MAINPID={os.getpid()}"
        assert notifier.reloading()
        lines = _recv(fake_systemd).split("\n")
        assert lines[0] == "RELOADING=1" and lines[1].startswith("MONOTONIC_USEC=")
        assert notifier.extend_timeout(1.5)
        assert _recv(fake_systemd) == "EXTEND_TIMEOUT_USEC=1500000"
        assert notifier.sent == 7


def test_send_failure_logged_once_never_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))  # systemd went away
    notifier = Notifier.from_env()
    with caplog.at_level(logging.ERROR, logger="edge.app.sdnotify"):
        assert not notifier.ready()
        assert not notifier.watchdog()
        assert not notifier.stopping()
    assert notifier.send_errors == 3
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "systemd notify" in errors[0].getMessage()

    wd = Watchdog(notifier, 10.0)
    assert not wd.check()  # the ping thread's step: a failed send is counted, not raised
    assert wd.ping_failures == 1 and wd.pings == 0 and wd.state == "ok"


def test_unsupported_socket_kind_is_a_noop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")
    assert not Notifier.from_env().enabled


# ---------------------------------------------------------------- watchdog env


def test_watchdog_interval_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert watchdog_interval_s() is None
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert watchdog_interval_s() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval_s() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))  # inherited from a parent
    assert watchdog_interval_s() is None
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    for bad in ("0", "-5", "soon"):
        monkeypatch.setenv("WATCHDOG_USEC", bad)
        assert watchdog_interval_s() is None


def test_watchdog_pid_mismatch_disables(
    fake_systemd: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    notifier = Notifier.from_env()
    wd = Watchdog.from_env(notifier).start()
    try:
        assert wd.state == "disabled" and wd.interval_s is None
        wd.kick()
        with pytest.raises(TimeoutError):  # bounded wait: several would-be intervals
            _recv(fake_systemd, timeout_s=0.5)
        assert wd.pings == 0
    finally:
        assert wd.stop()


def test_watchdog_usec_without_notify_socket_disables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    wd = Watchdog.from_env(Notifier.from_env())
    assert wd.state == "disabled"


def test_watchdog_from_env_pings(
    fake_systemd: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "400000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert Watchdog(Notifier.from_env()).interval_s == pytest.approx(0.4)  # "env" default
    wd = Watchdog.from_env(Notifier.from_env())
    assert wd.interval_s == pytest.approx(0.4)
    assert wd.period_s == pytest.approx(0.2) and wd.stall_after_s == pytest.approx(0.2)
    with wd:
        assert wd.state == "ok"
        assert _kick_until_ping(wd, fake_systemd, pings=2, deadline_s=10) == 2


# ---------------------------------------------------------------- watchdog behaviour


def test_stall_logic_with_a_fake_clock(
    fake_systemd: socket.socket, caplog: pytest.LogCaptureFixture
) -> None:
    """check() is one wake-up of the ping thread; driven by hand, no thread, no timing."""
    now = [100.0]
    wd = Watchdog(Notifier.from_env(), 30.0, clock=lambda: now[0])
    assert wd.stall_after_s == 15.0 and wd.period_s == 15.0
    wd.kick()
    now[0] += 10
    assert wd.check() and _recv(fake_systemd) == "WATCHDOG=1"
    with caplog.at_level(logging.WARNING, logger="edge.app.sdnotify"):
        now[0] += 6  # 16 s since the last frame
        assert not wd.check() and wd.state == "stalled"
        now[0] += 15
        assert not wd.check() and wd.state == "stalled"
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert errors == [
            "pipeline stalled for 16.0 s: withholding watchdog pings so systemd restarts us"
        ]
        wd.kick()
        assert wd.check() and wd.state == "ok"
    assert _drain(fake_systemd) == ["WATCHDOG=1"]  # none while stalled, one after
    assert (wd.pings, wd.withheld, wd.stalls, wd.checks) == (2, 2, 1, 4)
    assert any("resumed" in r.getMessage() for r in caplog.records)
    stats = wd.stats()
    assert stats["state"] == "ok" and stats["pings"] == 2 and stats["stalls"] == 1


def test_watchdog_pings_stop_on_stall_and_resume(
    fake_systemd: socket.socket, caplog: pytest.LogCaptureFixture
) -> None:
    """The real ping thread: pings while kicked, none once stalled, pings again after."""
    wd = Watchdog(Notifier.from_env(), interval_s=0.4)  # wakes every 0.2 s, stall after 0.2 s
    with caplog.at_level(logging.WARNING, logger="edge.app.sdnotify"), wd:
        # 1. The frame loop runs: pings arrive.
        assert _kick_until_ping(wd, fake_systemd, pings=3, deadline_s=10) == 3
        assert wd.state in ("ok", "stalled")  # a loaded CI box may have paused us briefly

        # 2. The loop stalls (no more kicks): the watchdog notices on its own.
        assert wd.wait_for_state("stalled", timeout_s=10)
        _drain(fake_systemd)  # pings sent before the stall was detected
        checks_at_stall = wd.checks
        with pytest.raises(TimeoutError):  # bounded wait: 3 ping periods, nothing comes
            _recv(fake_systemd, timeout_s=3 * wd.period_s)
        # The thread really was awake and withheld (not merely slow): 2 more wake-ups, and
        # a ping sent in any of them would already be queued (sent before it is counted).
        assert wd.wait_for_checks(checks_at_stall + 2, timeout_s=10)
        assert _drain(fake_systemd) == []
        assert wd.state == "stalled" and wd.withheld >= 3
        stalled_logs = [r for r in caplog.records if "pipeline stalled for" in r.getMessage()]
        assert len(stalled_logs) == wd.stalls >= 1
        assert all(r.levelno == logging.ERROR for r in stalled_logs)
        assert stalled_logs[-1].getMessage().endswith(
            "withholding watchdog pings so systemd restarts us"
        )

        # 3. The loop runs again: pings resume.
        assert _kick_until_ping(wd, fake_systemd, pings=2, deadline_s=10) == 2
        assert wd.wait_for_state("ok", timeout_s=10)
    assert not wd.enabled or wd.stats()["pings"] == wd.pings >= 5


def test_stop_is_prompt(fake_systemd: socket.socket) -> None:
    wd = Watchdog(Notifier.from_env(), interval_s=600.0).start()  # wakes every 300 s
    assert wd.wait_for_checks(1, timeout_s=10)  # the first check pings at once
    assert _recv(fake_systemd) == "WATCHDOG=1"
    started = time.monotonic()
    assert wd.stop(timeout_s=10)
    assert time.monotonic() - started < 5  # Event.wait returns on stop, not after 300 s


def test_watchdog_arguments_are_validated() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        Watchdog(Notifier(None), 0.0)
    with pytest.raises(ValueError, match="stall_after_s"):
        Watchdog(Notifier(None), 1.0, stall_after_s=-1)
    with pytest.raises(ValueError, match="env"):
        Watchdog(Notifier(None), "30")  # type: ignore[arg-type]
    assert Watchdog(Notifier(None), 30.0, stall_after_s=5).stall_after_s == 5
    assert Watchdog(Notifier(None), None).state == "disabled"
