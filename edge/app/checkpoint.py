"""The live gate's one durable step: decide -> commit -> mark decided, and its crash checkpoint.

The checkpoint (the t_ns of the last frame fully processed, the boxes of people already
decided and still in view, and a snapshot of the pipeline's `Evidence`: the tracks and the
samples of the people being measured) lives in the outbox's SQLite file and is written in the same
transaction as the events of the frames it accounts for (`Outbox.put_many`). After any kill
or power loss the two agree: a person whose event is committed is marked decided in the
checkpoint the restarted gate resumes from, and a person whose event is not committed is not,
so it is measured again and decided once. There is no moment between "committed" and "marked".
The evidence snapshot lets a person half-measured at the kill be finished from the samples
taken before it (without it, someone killed at their closest approach may leave before being
measured again). It is restored only by the same code and config (`fingerprint`), else the
decided boxes alone are; it is a pickle read back with an allow-list of classes (edge.core
types, numpy arrays, deque), from the gate's own 0700 state directory.

Why this and not an event id derived from the track: track numbers start again in every
process and the restarted gate sees the person as a new track, so a derived id would only
be "the same" if the checkpoint already carried the track's identity, i.e. it needs the same
atomic write anyway. The shared transaction costs nothing extra (the event's commit already
pays the fsync, ~0.3 ms), keeps `id` a ULID and asks nothing new of consumers.

When the outbox cannot be written (disk full, read-only or vanished state directory) the
decisions are held in memory (bounded: `max_held`; over it the oldest `screening` events go
first, alarms last), the error is reported (`outbox_error` in metrics, `state` in info) and
the commit is retried with backoff (1 s doubling to 30 s); the held events and the newest
checkpoint are written in one transaction once it works again. The checkpoint is never
written alone while events are held, so it never claims a decision that is not on disk.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import pickle
import signal
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from edge.core.types import Decision
from edge.transport.events import ALARM_TYPES
from edge.transport.outbox import OUTBOX_FILENAME, Outbox, OutboxWriteError

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]
Event = tuple[str, Mapping[str, object]]
LEGACY_FILE = "replay-position.json"  # the checkpoint before it moved into the outbox
KILL_AFTER_ENV = "GATE_EDGE_FAULT_KILL_AFTER_COMMIT"  # test seam: SIGKILL after N events
DEFAULT_MAX_HELD = 10_000
_BACKOFF_S = (1.0, 30.0)
_REMIND_S = 60.0
_UNCHANGED_EVERY_S = 60.0


_ALLOWED = {("collections", "deque"), ("numpy", "dtype"), ("numpy", "ndarray")} | {
    (f"numpy.{core}.{module}", name)
    for core in ("core", "_core")
    for module, name in (("multiarray", "scalar"), ("multiarray", "_reconstruct"),
                         ("numeric", "_frombuffer"))
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        if module.startswith("edge.core."):
            found = super().find_class(module, name)
            if isinstance(found, type):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} has no place in a checkpoint")


def code_fingerprint(config_hash: str) -> str:
    """Same code (edge.core sources) and same config -> same fingerprint."""
    digest = hashlib.sha256(config_hash.encode())
    core = Path(__file__).resolve().parent.parent / "core"
    for source in sorted(core.glob("*.py")):
        digest.update(source.name.encode() + source.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Resume:
    """A decoded checkpoint: where to resume and what the pipeline knew there."""

    t_ns: int | None = None
    decided: tuple[Box, ...] = ()
    evidence: bytes | None = None
    fingerprint: str | None = None

    def restore_evidence(self, fingerprint: str) -> object | None:
        """The pickled Evidence, if written by this code and config and readable; else None."""
        if self.evidence is None or self.fingerprint != fingerprint:
            return None
        try:
            restored: object = _Unpickler(io.BytesIO(self.evidence)).load()
        except Exception as exc:  # any damage: fall back to the decided boxes
            log.warning("checkpoint evidence unreadable (%s); resuming with decided people only",
                        exc)
            return None
        return restored


def encode(t_ns: int, decided: Sequence[Box], evidence: object | None = None,
           fingerprint: str | None = None) -> str:
    doc: dict[str, object] = {"decided": [list(b) for b in decided]}
    if evidence is not None and fingerprint is not None:
        blob = pickle.dumps(evidence, protocol=pickle.HIGHEST_PROTOCOL)
        doc["evidence"] = base64.b64encode(blob).decode("ascii")
        doc["fingerprint"] = fingerprint
    return json.dumps({"t_ns": int(t_ns), **doc})


def _same_but_time(a: str | None, b: str) -> bool:
    """Two checkpoints that differ at most in t_ns (encode puts it first)."""
    return a is not None and a[a.index(",") :] == b[b.index(",") :]


def decode_resume(text: str) -> Resume:
    """ValueError (or KeyError/TypeError/IndexError) when `text` is not a checkpoint."""
    doc = json.loads(text)
    boxes = tuple((int(b[0]), int(b[1]), int(b[2]), int(b[3])) for b in doc.get("decided", []))
    blob = doc.get("evidence")
    return Resume(int(doc["t_ns"]), boxes,
                  base64.b64decode(blob) if isinstance(blob, str) else None,
                  str(doc["fingerprint"]) if "fingerprint" in doc else None)


def decode(text: str) -> tuple[int, list[Box]]:
    resume = decode_resume(text)
    assert resume.t_ns is not None
    return resume.t_ns, list(resume.decided)


def load_checkpoint(state_dir: Path | None, site: str, gate: str) -> Resume:
    """Where a restart resumes: the outbox's checkpoint, else the legacy JSON file, else none."""
    if state_dir is None:
        return Resume()
    text, origin = None, state_dir / OUTBOX_FILENAME
    if origin.exists():
        text = _stored_checkpoint(origin, site, gate)
    if text is None:
        t_ns, boxes = Checkpoint(state_dir / LEGACY_FILE).load()
        return Resume(t_ns, tuple(boxes))
    try:
        return decode_resume(text)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        log.warning("ignoring unreadable checkpoint in %s: %s", origin, exc)
        return Resume()


def _stored_checkpoint(origin: Path, site: str, gate: str) -> str | None:
    """The outbox file's checkpoint; read-only (then without the WAL's newest pages if its
    -shm cannot be made) when the state dir cannot be written at start (the gate runs
    degraded: without the checkpoint it would decide again people already published)."""
    try:
        with Outbox(origin, site=site, gate=gate) as outbox:
            return outbox.load_checkpoint()
    except OutboxWriteError as exc:
        failure = str(exc)
    for mode in ("mode=ro", "immutable=1"):
        try:
            conn = sqlite3.connect(f"{origin.resolve().as_uri()}?{mode}", uri=True)
            try:
                row = conn.execute("SELECT value FROM checkpoint WHERE stream = ?",
                                   (f"{site}/{gate}",)).fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            continue
        log.warning("state.dir not writable: checkpoint read from %s read-only (%s)", origin,
                    mode)
        return str(row[0]) if row else None
    log.error("cannot read the checkpoint in %s (%s): people decided before the restart may "
              "be decided again", origin, failure)
    return None


class Checkpoint:
    """The checkpoint as a JSON file (before it moved into the outbox; still read once as a
    fallback): replaced atomically and durably (write, fsync, rename, fsync the folder). A
    failed write is logged, never raised: the gate keeps running on the previous one."""

    def __init__(self, path: Path | None, every_s: float = 1.0) -> None:
        self.path = path
        self._every_s = every_s
        self._last_write = float("-inf")
        self._written: str | None = None  # the last checkpoint committed
        self._last_check = float("-inf")

    def load(self) -> tuple[int | None, list[Box]]:
        if self.path is None or not self.path.exists():
            return None, []
        try:
            return decode(self.path.read_text())
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            log.warning("ignoring unreadable checkpoint %s: %s", self.path, exc)
            return None, []

    def save(self, t_ns: int, decided: Sequence[Box], force: bool = False) -> bool:
        now = time.monotonic()
        if self.path is None or (not force and now - self._last_write < self._every_s):
            return False
        tmp = self.path.with_suffix(".tmp")
        try:
            with tmp.open("w") as f:
                f.write(encode(t_ns, decided))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        except OSError as exc:
            log.error("cannot write checkpoint %s (%s); free space in its folder", self.path, exc)
            return False
        self._last_write = now
        return True


def kill_after_from_env() -> int | None:
    """The fault tests' seam: `GATE_EDGE_FAULT_KILL_AFTER_COMMIT=N` makes the process SIGKILL
    itself right after the commit that brings its committed events to N (before publishing)."""
    value = os.environ.get(KILL_AFTER_ENV, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


class CommitSink(Protocol):
    """What the committer writes to (edge.transport.mqtt.Publisher)."""

    def event_of(self, decision: Decision) -> tuple[str, dict[str, object]]: ...

    def commit(
        self, events: Sequence[Event], checkpoint: str | None = None
    ) -> list[tuple[int, str]]: ...


class Committer:
    """Owned by the pipeline thread: `add` each decision of a frame, then `after_frame`."""

    def __init__(
        self,
        sink: CommitSink,
        *,
        durable: bool,
        every_s: float = 1.0,
        max_held: int = DEFAULT_MAX_HELD,
        kill_after: int | None = None,
        on_change: Callable[[str | None], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        fingerprint: str | None = None,
        error: str | None = None,
    ) -> None:
        """`error`: the outbox could not be opened at start (Outbox.open_error): degraded from
        the start, and the first commit is tried at the first frame."""
        self._sink = sink
        self._fingerprint = fingerprint  # with it, checkpoints carry the evidence snapshot
        self._durable = durable  # False: no state dir, nothing to resume from
        self._every_s = every_s
        self._max_held = max_held
        self._kill_after = kill_after
        self._on_change = on_change
        self._clock = clock
        self._frame: list[Event] = []
        self._held: deque[Event] = deque()
        self._state: tuple[int, list[Box], object] | None = None  # encoded when written
        self._last_write = float("-inf")
        self._written: str | None = None  # the last checkpoint committed
        self._last_check = float("-inf")
        self._failures = 0
        self._retry_at = 0.0
        self._failing_since: float | None = None
        self._reminded = 0.0
        self.error: str | None = None
        self.committed = 0
        self.dropped = 0
        if error is not None:
            self._failures, self._failing_since, self._reminded = 1, clock(), clock()
            self.error = error
            log.error("%s", self._with_capacity(error))

    def add(self, decision: Decision) -> None:
        """A decision of the frame being processed; committed with that frame's checkpoint."""
        self._frame.append(self._sink.event_of(decision))

    def after_frame(self, t_ns: int, decided: Sequence[Box], force: bool = False,
                    evidence: object | None = None) -> None:
        """The frame is processed: commit its events and the checkpoint (with a snapshot of
        `evidence`, when a fingerprint was given), or hold them."""
        for event in self._frame:
            self._hold(event)
        self._frame = []
        if self._durable:
            self._state = (t_ns, list(decided), evidence)
        now = self._clock()
        if self._held or self.error is not None:
            due = force or now >= self._retry_at
        else:
            due = self._durable and (force or now - self._last_check >= self._every_s)
        if due:
            self._write(now, force)

    def close(self, t_ns: int | None, decided: Sequence[Box],
              evidence: object | None = None) -> None:
        """Shutdown: one last attempt; what still cannot be stored is logged in full."""
        if t_ns is not None:
            self.after_frame(t_ns, decided, force=True, evidence=evidence)
        elif self._held or self._frame:
            self._frame, held = [], self._frame
            self._held.extend(held)
            self._write(self._clock())
        for event_type, body in self._held:
            log.error("event not stored (state.dir not writable), here in full for the "
                      "record: %s %s", event_type, json.dumps(dict(body), default=str))

    def stats(self) -> dict[str, object]:
        return {
            "state": "degraded" if self.error else "ok",
            "outbox_error": self.error,
            "held_events": len(self._held),
            "held_dropped": self.dropped,
        }

    # -- internals ---------------------------------------------------------------------

    def _hold(self, event: Event) -> None:
        if len(self._held) >= self._max_held:
            victim = next((e for e in self._held if e[0] not in ALARM_TYPES), self._held[0])
            self._held.remove(victim)
            self.dropped += 1
            log.error("in-memory queue full (%d events): dropped a %s event; free space in "
                      "state.dir", self._max_held, victim[0])
        self._held.append(event)

    def _write(self, now: float, force: bool = False) -> None:
        events = list(self._held)
        checkpoint = None
        if self._state is not None:
            t_ns, decided, evidence = self._state
            checkpoint = encode(t_ns, decided, evidence, self._fingerprint)
            # Nothing but the clock moved (nobody in view): an fsync a second would only wear
            # the SD card; resuming a little earlier replays frames that changed nothing.
            self._last_check = now
            if (not events and not force and now - self._last_write < _UNCHANGED_EVERY_S
                    and _same_but_time(self._written, checkpoint)):
                return
        try:
            seq_ids = self._sink.commit(events, checkpoint)
        except OutboxWriteError as exc:
            self._failed(str(exc), now)
            return
        self._held.clear()
        self._last_write = now
        self._written = checkpoint
        self.committed += len(seq_ids)
        if self.error is not None:
            log.info("outbox writable again after %.0f s: %d held events committed",
                     now - (self._failing_since or now), len(seq_ids))
            self.error, self._failures, self._failing_since = None, 0, None
            if self._on_change is not None:
                self._on_change(None)
        if self._kill_after is not None and seq_ids and self.committed >= self._kill_after:
            log.warning("%s: SIGKILL after %d committed events", KILL_AFTER_ENV, self.committed)
            os.kill(os.getpid(), signal.SIGKILL)

    def _with_capacity(self, message: str) -> str:
        cap = f"held in memory ({self._max_held} max, alarms kept longest)"
        if "held in memory" in message:
            return message.replace("held in memory", cap, 1)
        return f"{message}; decisions are {cap}"

    def _failed(self, message: str, now: float) -> None:
        self._failures += 1
        delay = min(_BACKOFF_S[1], _BACKOFF_S[0] * 2 ** (self._failures - 1))
        self._retry_at = now + delay
        if self.error is None:
            self.error, self._failing_since, self._reminded = message, now, now
            log.error("%s", self._with_capacity(message))
            if self._on_change is not None:
                self._on_change(message)
        elif now - self._reminded >= _REMIND_S:
            self._reminded = now
            log.warning("outbox still not writable after %.0f s: %d events held in memory; %s",
                        now - (self._failing_since or now), len(self._held), message)
