"""systemd notify and watchdog protocol in pure Python (no python-systemd dependency).

systemd passes a datagram socket in ``NOTIFY_SOCKET`` (a file system path, or an abstract
socket name written with a leading ``@``); the service sends newline-separated ``KEY=value``
lines to it: ``READY=1`` when it is serving, ``STATUS=...`` free text for ``systemctl
status``, ``STOPPING=1``, ``RELOADING=1``, ``WATCHDOG=1`` keep-alives, ``MAINPID=...``.
With ``WatchdogSec=`` set, systemd exports ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``) and
restarts the service when no ``WATCHDOG=1`` arrives within that interval.

`Watchdog` pings on behalf of the processing loop, not of the process: the loop calls
`Watchdog.kick` once per processed frame, and the ping thread withholds ``WATCHDOG=1`` as soon
as the last kick is older than ``stall_after_s``. A wedged camera read or a deadlocked
pipeline then gets the service restarted by systemd, whereas a ping thread that pinged
unconditionally would keep a dead gate "active (running)" forever.

Outside systemd everything here is a cheap no-op, so the same code path runs in tests and
replays. Nothing here raises into the pipeline: a failing send is logged once and counted.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Literal

log = logging.getLogger(__name__)

WatchdogState = Literal["disabled", "ok", "stalled"]


def _socket_address(value: str | None) -> str | None:
    """The AF_UNIX address for a NOTIFY_SOCKET value; None when unset or unsupported."""
    if not value:
        return None
    if value.startswith("@"):
        return "\0" + value[1:]  # Linux abstract namespace
    if value.startswith("/"):
        return value
    # systemd >= 254 may also hand out vsock:CID:PORT (VMs); a gate box does not need it.
    log.warning("NOTIFY_SOCKET=%r is not a unix socket path; systemd notify disabled", value)
    return None


class Notifier:
    """Sends sd_notify datagrams to one socket; every method is a no-op without a socket.

    Methods return True when the datagram was handed to the kernel. Errors are logged once
    (then only counted in `send_errors`) and never raised.
    """

    def __init__(self, address: str | None) -> None:
        """`address`: a socket path, ``@name`` for the abstract namespace, or None (no-op)."""
        self._address = _socket_address(address)
        self._display = address
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._error_logged = False
        self.sent = 0
        self.send_errors = 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """The notifier systemd asked for (``NOTIFY_SOCKET``); a no-op one when unset."""
        env = os.environ if environ is None else environ
        return cls(env.get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, *lines: str) -> bool:
        """Send ``KEY=value`` lines as one datagram (systemd applies them atomically)."""
        if self._address is None or not lines:
            return False
        payload = "\n".join(lines).encode("utf-8", "replace")
        try:
            with self._lock:
                if self._sock is None:
                    self._sock = socket.socket(
                        socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                    )
                sock = self._sock
            sock.sendto(payload, self._address)
        except OSError as exc:
            with self._lock:  # the watchdog thread sends too
                self.send_errors += 1
                first, self._error_logged = not self._error_logged, True
            if first:
                log.error(
                    "systemd notify via %s failed: %s (further failures are only counted)",
                    self._display,
                    exc,
                )
            return False
        with self._lock:
            self.sent += 1
        return True

    def ready(self, status: str | None = None) -> bool:
        """``READY=1``: start-up finished (Type=notify units stay "activating" until then)."""
        return self.notify("READY=1", *_status(status))

    def status(self, text: str) -> bool:
        """``STATUS=text``: one line shown by ``systemctl status``."""
        return self.notify(*_status(text))

    def stopping(self, status: str | None = None) -> bool:
        """``STOPPING=1``: clean shutdown has begun."""
        return self.notify("STOPPING=1", *_status(status))

    def reloading(self, status: str | None = None) -> bool:
        """``RELOADING=1`` (follow with `ready` when done). MONOTONIC_USEC is what
        Type=notify-reload (systemd >= 253) requires; older systemd ignores it."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}", *_status(status))

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: one keep-alive. Prefer `Watchdog`, which checks the loop first."""
        return self.notify("WATCHDOG=1")

    def mainpid(self, pid: int | None = None) -> bool:
        """``MAINPID=pid`` (default: this process)."""
        return self.notify(f"MAINPID={os.getpid() if pid is None else pid}")

    def extend_timeout(self, seconds: float) -> bool:
        """``EXTEND_TIMEOUT_USEC``: ask for more start/stop time (slow model loading, flush)."""
        return self.notify(f"EXTEND_TIMEOUT_USEC={max(0, int(seconds * 1e6))}")

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _status(text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    return ("STATUS=" + " ".join(text.splitlines()),)  # a newline would end the field


def watchdog_interval_s(environ: Mapping[str, str] | None = None) -> float | None:
    """systemd's watchdog interval in seconds, or None when the watchdog is off for us.

    Off when ``WATCHDOG_USEC`` is unset, not a positive integer, or when ``WATCHDOG_PID``
    is set to another process (the variable was inherited from a parent service).
    """
    env = os.environ if environ is None else environ
    usec_text = env.get("WATCHDOG_USEC")
    if not usec_text:
        return None
    try:
        usec = int(usec_text)
    except ValueError:
        usec = 0
    if usec <= 0:
        log.warning("WATCHDOG_USEC=%r is not a positive integer; watchdog disabled", usec_text)
        return None
    pid_text = env.get("WATCHDOG_PID")
    if pid_text:
        try:
            pid = int(pid_text)
        except ValueError:
            pid = -1
        if pid != os.getpid():
            log.info("WATCHDOG_PID=%s is not us (%d); watchdog disabled", pid_text, os.getpid())
            return None
    return usec / 1e6


def _env_interval(notifier: Notifier, environ: Mapping[str, str] | None) -> float | None:
    interval = watchdog_interval_s(environ)
    if interval is not None and not notifier.enabled:
        log.warning("WATCHDOG_USEC is set but NOTIFY_SOCKET is not; watchdog disabled")
        return None
    return interval


class Watchdog:
    """Pings systemd's watchdog only while the processing loop makes progress.

    The loop calls `kick` once per processed frame (one attribute store). A daemon thread
    wakes every ``interval_s / 2`` and sends ``WATCHDOG=1`` only if the last kick is newer
    than ``stall_after_s`` (default ``interval_s / 2``). Otherwise the state becomes
    ``"stalled"``, one ERROR is logged and pings stop, so systemd kills and restarts the
    service (Restart=on-failure) between ``stall_after_s - period_s + interval_s`` and
    ``stall_after_s + interval_s`` after the stall (30 to 45 s with WatchdogSec=30).
    When kicks come back before that, pings resume and the state returns to ``"ok"``.

    `start` counts as a kick, so the loop gets ``stall_after_s`` to produce its first frame
    (send READY=1 before starting: systemd arms the watchdog once start-up has finished).

    ``Watchdog(notifier)`` follows systemd (``WATCHDOG_USEC``/``WATCHDOG_PID``); an explicit
    ``interval_s`` works without systemd (tests, other supervisors); ``interval_s=None`` or
    no watchdog requested by systemd gives a disabled watchdog whose methods are no-ops.
    """

    def __init__(
        self,
        notifier: Notifier,
        interval_s: float | Literal["env"] | None = "env",
        *,
        stall_after_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`interval_s`: ``"env"`` (default) takes systemd's (see `from_env`), a number
        gives an explicit interval (tests, other supervisors), None disables."""
        if isinstance(interval_s, str):
            if interval_s != "env":
                raise ValueError(f"watchdog interval_s: number, None or 'env', not {interval_s!r}")
            interval_s = _env_interval(notifier, None)
        if interval_s is not None and not interval_s > 0:
            raise ValueError(f"watchdog interval_s must be > 0, got {interval_s}")
        if stall_after_s is not None and not stall_after_s > 0:
            raise ValueError(f"watchdog stall_after_s must be > 0, got {stall_after_s}")
        self.notifier = notifier
        self.interval_s = interval_s
        self.stall_after_s = (
            stall_after_s
            if stall_after_s is not None
            else (interval_s / 2 if interval_s is not None else 0.0)
        )
        self.period_s = interval_s / 2 if interval_s is not None else 0.0
        self._clock = clock
        self._last_kick = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Guards state and counters; tests wait on it for state transitions and checks.
        self.changed = threading.Condition()
        self._state: WatchdogState = "disabled" if interval_s is None else "ok"
        self.pings = 0  # WATCHDOG=1 datagrams handed to the kernel
        self.ping_failures = 0
        self.checks = 0  # wake-ups of the ping thread (pinged or withheld)
        self.withheld = 0  # wake-ups that withheld the ping because the loop stalled
        self.stalls = 0  # ok -> stalled transitions
        self._failure_logged = False

    @classmethod
    def from_env(
        cls,
        notifier: Notifier,
        environ: Mapping[str, str] | None = None,
        *,
        stall_after_s: float | None = None,
    ) -> Watchdog:
        """The watchdog systemd configured (disabled without ``WATCHDOG_USEC`` for us, or
        when `notifier` has no socket). Same as ``Watchdog(notifier)`` with the real
        environment; `environ` lets tests pass their own."""
        return cls(notifier, _env_interval(notifier, environ), stall_after_s=stall_after_s)

    @property
    def enabled(self) -> bool:
        return self.interval_s is not None

    @property
    def state(self) -> WatchdogState:
        return self._state

    def kick(self) -> None:
        """The loop made progress. Cheap: one clock read and one attribute store."""
        self._last_kick = self._clock()

    def last_kick_age_s(self) -> float:
        return self._clock() - self._last_kick

    def stats(self) -> dict[str, object]:
        """For the metrics message."""
        with self.changed:
            return {
                "state": self._state,
                "interval_s": self.interval_s,
                "pings": self.pings,
                "ping_failures": self.ping_failures,
                "stalls": self.stalls,
                "last_kick_age_s": round(self.last_kick_age_s(), 3),
            }

    def start(self) -> Watchdog:
        """Start the ping thread (no-op when disabled or already started); counts as a kick."""
        if self.interval_s is None or self._thread is not None:
            return self
        self.kick()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sd-watchdog", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stop pinging and join the thread (prompt: the thread waits on an Event).
        True when no ping thread is left running."""
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        self._stop.set()
        thread.join(timeout_s)
        return not thread.is_alive()

    def __enter__(self) -> Watchdog:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for_state(self, state: WatchdogState, timeout_s: float) -> bool:
        """Block until `state` is reached (True) or `timeout_s` passes (False)."""
        with self.changed:
            return self.changed.wait_for(lambda: self._state == state, timeout_s)

    def wait_for_checks(self, count: int, timeout_s: float) -> bool:
        """Block until the ping thread has woken at least `count` times in total."""
        with self.changed:
            return self.changed.wait_for(lambda: self.checks >= count, timeout_s)

    def _run(self) -> None:
        while True:
            try:
                self.check()
            except Exception:  # a bug here must not kill pinging silently
                if not self._failure_logged:
                    self._failure_logged = True
                    log.exception("watchdog check failed")
            if self._stop.wait(self.period_s):
                return

    def check(self) -> bool:
        """One wake-up of the ping thread: ping if the loop is alive. True when pinged."""
        if self.interval_s is None:
            return False
        age_s = self.last_kick_age_s()
        alive = age_s <= self.stall_after_s
        with self.changed:
            if not alive:
                if self._state != "stalled":
                    self._state = "stalled"
                    self.stalls += 1
                    log.error(
                        "pipeline stalled for %.1f s: withholding watchdog pings so systemd "
                        "restarts us",
                        age_s,
                    )
                self.withheld += 1
                self.checks += 1
                self.changed.notify_all()
                return False
            if self._state == "stalled":
                log.warning("pipeline running again: watchdog pings resumed")
            self._state = "ok"
        # Send outside the lock; counters are updated after, so a test that saw `checks`
        # grow knows this ping already sits in the socket's queue.
        sent = self.notifier.watchdog()
        with self.changed:
            if sent:
                self.pings += 1
            elif self.notifier.enabled:
                self.ping_failures += 1
            self.checks += 1
            self.changed.notify_all()
        return sent
