"""Durable outbox: every event is committed to SQLite before anything is published.

Durability choices, for a box on an SD card that may lose power at any moment:

- WAL journal: the pipeline thread's `put` and the publisher thread's reads/acks do not block
  each other for long, and a crash never corrupts the file.
- `synchronous=FULL`: a committed event survives power loss, not just a process crash (with
  NORMAL in WAL mode the last commits can roll back on power loss). The cost is one fsync per
  event; events are rare (one per person), so the cost is negligible next to losing a fever.
- The per-gate sequence number lives in its own `counters` table: it keeps growing after
  every row has been acknowledged and deleted, and across restarts.

The same file keeps the live gate's crash checkpoint (`checkpoint` table, one opaque text per
gate), written in the same transaction as the events it accounts for (`put_many`): after any
kill the outbox and the checkpoint agree, so a person whose event is committed is never
measured again and one whose event is not committed is not marked decided.

Write failures (a full disk, a read-only or vanished state directory, an I/O error) raise
`OutboxWriteError` with a message that says what to do; nothing is half-written.

A lazy outbox (`lazy=True`, the live gate's) starts even when its file cannot be opened or its
folder created: it holds nothing until then, and `put_many` retries the open (OutboxWriteError
while it fails; edge.app.checkpoint.Committer holds the decisions and retries with backoff).
Once open, `seq` continues from the file's counter (1 for a new file).

When the outbox holds `max_rows` or more rows (the broker has been unreachable for a long
time) new events are still accepted: dropping a fever alarm is worse than a bigger file. Each
event accepted over the limit increments `full_count` (published in metrics), and a warning is
logged once per crossing of the limit (re-armed when the depth falls below 90 %).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from edge.errors import EdgeError
from edge.transport.events import check_topic_level, new_event_id, with_identity
from edge.transport.state_dir import write_failure_message

log = logging.getLogger(__name__)

OUTBOX_FILENAME = "outbox.sqlite3"
DEFAULT_MAX_ROWS = 100_000  # ~0.5 kB a row: about 50 MB, days of a busy gate's events
_REARM_FRACTION = 0.9
_SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (
    stream   TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    stream     TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    id         TEXT NOT NULL UNIQUE,
    type       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    PRIMARY KEY (stream, seq)
);
CREATE TABLE IF NOT EXISTS checkpoint (
    stream TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
"""


class OutboxWriteError(EdgeError):
    """The outbox could not commit (disk full, read-only, I/O error); nothing was stored."""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One unsent event. `payload` is the complete event JSON (with id and seq)."""

    seq: int
    id: str
    type: str
    payload: str
    created_ns: int


class Outbox:
    """Events of one gate (`site`/`gate`) waiting for the broker's acknowledgement.

    Thread-safe: one SQLite connection guarded by a lock (calls are short, so a second
    connection per thread would buy nothing but more file handles).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        site: str,
        gate: str,
        max_rows: int = DEFAULT_MAX_ROWS,
        clock_ns: Callable[[], int] = time.time_ns,
        lazy: bool = False,
    ) -> None:
        """`path` is a SQLite file, or ":memory:" for replays that need no durability. `lazy`:
        see the module; `open_error` says why the file is not open yet."""
        for value, what in ((site, "site"), (gate, "gate")):
            check_topic_level(value, what)
        if max_rows < 1:
            raise ValueError(f"outbox max_rows must be >= 1, got {max_rows}")
        self.path = str(path)
        self.site, self.gate = site, gate
        self.max_rows = max_rows
        self._stream = f"{site}/{gate}"
        self._clock_ns = clock_ns
        self._lock = threading.Lock()
        self._lazy = lazy
        self._conn: sqlite3.Connection | None = None
        self._depth = 0
        self._over_limit = False
        self.full_count = 0  # events accepted while the outbox held >= max_rows rows
        self.open_error: str | None = None  # why a lazy outbox is not open (yet)
        try:
            self._open_locked()
        except OutboxWriteError as exc:
            if not lazy:
                raise
            self.open_error = str(exc)

    @classmethod
    def open(
        cls, state_dir: Path | None, *, site: str, gate: str, max_rows: int = DEFAULT_MAX_ROWS,
        lazy: bool = False,
    ) -> Outbox:
        """The outbox file in `state_dir` (created 0700), or in memory when it is None.
        `lazy`: see the class; the folder is then created when the file is opened."""
        if state_dir is None:
            log.info("no state directory: events are kept in memory until acknowledged")
            return cls(":memory:", site=site, gate=gate, max_rows=max_rows)
        if lazy:
            return cls(state_dir / OUTBOX_FILENAME, site=site, gate=gate, max_rows=max_rows,
                       lazy=True)
        try:
            state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise EdgeError(f"cannot create state directory {state_dir}: {exc}") from exc
        return cls(state_dir / OUTBOX_FILENAME, site=site, gate=gate, max_rows=max_rows)

    # -- pipeline side ------------------------------------------------------------------

    def put(
        self, event_type: str, body: Mapping[str, object], *, checkpoint: str | None = None
    ) -> tuple[int, str]:
        """Store one event; returns its (seq, id). Committed (fsynced) when this returns.

        `body` is the event without `id` and `seq`; both are assigned here, in the same
        transaction, so a seq is never reused or skipped even if the process dies right after.
        """
        return self.put_many([(event_type, body)], checkpoint=checkpoint)[0]

    def put_many(
        self,
        events: Sequence[tuple[str, Mapping[str, object]]],
        *,
        checkpoint: str | None = None,
    ) -> list[tuple[int, str]]:
        """Store `events` (type, body) in order and, when given, replace this gate's
        `checkpoint` text, all in one transaction (one fsync); returns each (seq, id).
        OutboxWriteError when the transaction could not be committed: then nothing is stored."""
        created_ns = self._clock_ns()
        with self._lock:
            if self._conn is None:
                self._open_locked()
            try:
                out = self._put_locked(events, checkpoint, created_ns)
            except (sqlite3.OperationalError, OSError) as exc:
                raise OutboxWriteError(write_failure_message(self.path, exc)) from exc
            self._depth += len(out)
            for _ in out:
                self._note_depth_after_put()
        return out

    def _put_locked(
        self,
        events: Sequence[tuple[str, Mapping[str, object]]],
        checkpoint: str | None,
        created_ns: int,
    ) -> list[tuple[int, str]]:
        out: list[tuple[int, str]] = []
        assert self._conn is not None
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            for event_type, body in events:
                event_id = new_event_id()
                # fetchall: step the RETURNING statement to completion before the commit.
                ((seq,),) = self._conn.execute(
                    "INSERT INTO counters (stream, last_seq) VALUES (?, 1) "
                    "ON CONFLICT (stream) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq",
                    (self._stream,),
                ).fetchall()
                payload = json.dumps(
                    with_identity(body, seq=seq, event_id=event_id),
                    separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                )
                self._conn.execute(
                    "INSERT INTO outbox (stream, seq, id, type, payload, created_ns) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (self._stream, seq, event_id, event_type, payload, created_ns),
                )
                out.append((int(seq), event_id))
            if checkpoint is not None:
                self._conn.execute(
                    "INSERT INTO checkpoint (stream, value) VALUES (?, ?) "
                    "ON CONFLICT (stream) DO UPDATE SET value = excluded.value",
                    (self._stream, checkpoint),
                )
        return out

    def load_checkpoint(self) -> str | None:
        """This gate's checkpoint text as last committed, None if none was ever written."""
        with self._lock:
            if self._conn is None:
                return None
            row = self._conn.execute(
                "SELECT value FROM checkpoint WHERE stream = ?", (self._stream,)
            ).fetchone()
        return str(row[0]) if row else None

    def _note_depth_after_put(self) -> None:
        if self._depth <= self.max_rows:
            return
        self.full_count += 1
        if not self._over_limit:
            self._over_limit = True
            log.warning(
                "outbox %s holds %d unsent events (limit %d): the broker has not acknowledged "
                "events for a while; still accepting new events, none are dropped",
                self.path, self._depth, self.max_rows,
            )

    # -- publisher side -----------------------------------------------------------------

    def pending(self, limit: int, after_seq: int = 0) -> list[OutboxRow]:
        """Up to `limit` unacknowledged events with seq > `after_seq`, in seq order."""
        with self._lock:
            if self._conn is None:
                return []
            rows = self._conn.execute(
                "SELECT seq, id, type, payload, created_ns FROM outbox "
                "WHERE stream = ? AND seq > ? ORDER BY seq LIMIT ?",
                (self._stream, after_seq, limit),
            ).fetchall()
        return [OutboxRow(*row) for row in rows]

    def ack(self, seq: int) -> bool:
        """Delete the event the broker acknowledged; False if it was already gone."""
        return self.ack_many((seq,)) == 1

    def ack_many(self, seqs: Iterable[int]) -> int:
        """Delete several acknowledged events in one transaction (one fsync)."""
        params = [(self._stream, s) for s in seqs]
        if not params:
            return 0
        with self._lock:
            if self._conn is None:  # nothing was ever pending
                return 0
            try:
                with self._conn:
                    self._conn.execute("BEGIN IMMEDIATE")
                    before = self._conn.total_changes
                    self._conn.executemany(
                        "DELETE FROM outbox WHERE stream = ? AND seq = ?", params
                    )
                    deleted = self._conn.total_changes - before
            except (sqlite3.OperationalError, OSError) as exc:
                raise OutboxWriteError(write_failure_message(self.path, exc)) from exc
            self._depth -= deleted
            if self._over_limit and self._depth < self.max_rows * _REARM_FRACTION:
                self._over_limit = False
                log.info("outbox back under its limit: %d unsent events", self._depth)
        return deleted

    # -- metrics ------------------------------------------------------------------------

    def depth(self) -> int:
        """Number of events not yet acknowledged by the broker."""
        with self._lock:
            return self._depth

    def oldest_age_s(self) -> float:
        """Age of the oldest unacknowledged event in seconds; 0.0 when the outbox is empty."""
        with self._lock:
            if self._conn is None:
                return 0.0
            (oldest_ns,) = self._conn.execute(
                "SELECT MIN(created_ns) FROM outbox WHERE stream = ?", (self._stream,)
            ).fetchone()
        if oldest_ns is None:
            return 0.0
        return max(0.0, (self._clock_ns() - int(oldest_ns)) / 1e9)

    def last_seq(self) -> int:
        """The seq of the newest event ever stored for this gate (0 if none)."""
        with self._lock:
            if self._conn is None:
                return 0
            return _last_seq(self._conn, self._stream)

    def stats(self) -> dict[str, float | int]:
        return {
            "outbox_depth": self.depth(),
            "outbox_oldest_age_s": round(self.oldest_age_s(), 3),
            "outbox_full_count": self.full_count,
            "outbox_max_rows": self.max_rows,
        }

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _open_locked(self) -> None:
        """Open (and for a lazy outbox first create the folder of) the file; OutboxWriteError
        when it cannot be, and then nothing changed."""
        if self._lazy:
            try:
                Path(self.path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise OutboxWriteError(write_failure_message(self.path, exc)) from exc
        conn = _connect(self.path, running=self._lazy)
        try:
            (n,) = conn.execute(
                "SELECT COUNT(*) FROM outbox WHERE stream = ?", (self._stream,)
            ).fetchone()
            self._warn_other_streams(conn)
        except sqlite3.OperationalError as exc:
            conn.close()
            raise OutboxWriteError(write_failure_message(self.path, exc)) from exc
        self._conn, self._depth = conn, int(n)
        if self.open_error is not None:
            log.info("outbox %s open: %d unsent events, last seq %d", self.path, self._depth,
                     _last_seq(conn, self._stream))
            self.open_error = None

    def _warn_other_streams(self, conn: sqlite3.Connection) -> None:
        # Rows of a renamed gate stay on disk (never silently lost) but are not ours to send.
        others = conn.execute(
            "SELECT stream, COUNT(*) FROM outbox WHERE stream != ? GROUP BY stream",
            (self._stream,),
        ).fetchall()
        for stream, n in others:
            log.warning(
                "outbox %s keeps %d unsent events of gate %s; they are sent only by a process "
                "configured as that gate", self.path, n, stream,
            )


def _last_seq(conn: sqlite3.Connection, stream: str) -> int:
    row = conn.execute("SELECT last_seq FROM counters WHERE stream = ?", (stream,)).fetchone()
    return int(row[0]) if row else 0


def _connect(path: str, *, running: bool = False) -> sqlite3.Connection:
    # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE in put), so the seq
    # reservation and the insert can never be split by the driver's implicit commits.
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    except sqlite3.OperationalError as exc:  # the folder is missing or not ours
        raise OutboxWriteError(write_failure_message(path, exc, running=running)) from exc
    try:
        if path != ":memory:":
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("outbox %s: WAL journal unavailable, using %s", path, mode)
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(_SCHEMA)
    except sqlite3.OperationalError as exc:  # full, read-only, cannot open: not corruption
        conn.close()
        raise OutboxWriteError(write_failure_message(path, exc, running=running)) from exc
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise EdgeError(
            f"outbox {path}: cannot open as a SQLite database ({exc}); move the file aside "
            "to start a new outbox (its unsent events would then have to be recovered by hand)"
        ) from exc
    return conn
