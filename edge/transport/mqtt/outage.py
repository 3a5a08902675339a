"""What a broker outage looks like in the log (issue 9 item 4).

- Every failed connect attempt is logged, rate-limited: the first of an outage at once, then
  at most one line per `every_s` seconds, saying how many attempts failed since the last line.
  A different failure (refused -> unreachable, another error) is logged at once.
- Every refusal (bad credentials, not authorised) is logged at ERROR naming the credentials
  file, never its content; repeats of the same refusal are rate-limited like other attempts.
- Every outage's start ("unreachable since <UTC time>") and end ("back after 41 s, N events
  queued") are logged, with its duration.

Called from paho's network thread; a lock keeps the counters consistent anyway.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_EVERY_S = 60.0


def _utc(wall_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(wall_s))


class OutageLog:
    """Counts one link's failed connect attempts and logs outages (see the module doc)."""

    def __init__(
        self,
        broker: str,
        credentials_file: Path | None,
        *,
        every_s: float = DEFAULT_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.broker = broker
        self.credentials_file = credentials_file
        self.every_s = every_s
        self._clock, self._wall = clock, wall
        self._lock = threading.Lock()
        self._since: float | None = None  # monotonic start of the current outage
        self._since_wall = 0.0
        self.attempts = 0  # failed attempts in the current outage
        self.outages = 0
        self._unlogged = 0  # failed attempts not yet reported in a line
        self._last_line = 0.0
        self._last_what = ""

    @property
    def down(self) -> bool:
        return self._since is not None

    def _start(self, now: float) -> str:
        self._since, self._since_wall = now, self._wall()
        self.attempts, self._unlogged, self._last_what = 0, 0, ""
        self.outages += 1
        return _utc(self._since_wall)

    def lost(self, reason: str) -> None:
        """The connection dropped: an outage starts now."""
        with self._lock:
            since = self._start(self._clock())
        log.warning("lost MQTT broker %s (%s): broker unreachable since %s; events wait in the "
                    "outbox, reconnecting", self.broker, reason, since)

    def failed(self, error: str) -> None:
        """A connect attempt failed before any CONNACK (TCP, DNS, TLS)."""
        self._attempt(logging.WARNING, f"cannot connect to MQTT broker {self.broker}: {error}")

    def refused(self, reason: str) -> None:
        """The broker answered the CONNECT with a refusal (credentials, authorisation)."""
        hint = (f"check the credentials file {self.credentials_file}" if self.credentials_file
                else "no credentials file is configured; the broker may require one")
        self._attempt(logging.ERROR,
                      f"MQTT broker {self.broker} refused the connection: {reason} ({hint})")

    def _attempt(self, level: int, what: str) -> None:
        now = self._clock()
        with self._lock:
            since = self._start(now) if self._since is None else None
            self.attempts += 1
            self._unlogged += 1
            due = what != self._last_what or now - self._last_line >= self.every_s
            if not due:
                return
            count, self._unlogged = self._unlogged, 0
            self._last_line, self._last_what = now, what
            down_s = now - (self._since or now)
        if since is not None:
            log.log(level, "%s; broker unreachable since %s, events wait in the outbox; "
                    "retrying", what, since)
        else:
            log.log(level, "%s (%d failed attempt%s since the last message, down %.0f s)",
                    what, count, "" if count == 1 else "s", down_s)

    def back(self, queued: int | None) -> None:
        """Connected: ends the outage, if there was one."""
        with self._lock:
            if self._since is None:
                return
            down_s = self._clock() - self._since
            attempts, self._since = self.attempts, None
        backlog = "" if queued is None else f", {queued} events queued"
        # WARNING like the start: `run` logs at WARNING (systemd unit), and an outage's start
        # without its end would read as still down.
        log.warning("MQTT broker %s back after %.0f s (%d failed attempts)%s",
                 self.broker, down_s, attempts, backlog)
