"""Decision latency and overload numbers of the run loop (`gate-edge run`, `replay`).

A decision's latency runs from the capture of the first frame in which the person was
measurable (`Decision.first_t_ns`, the frame of their first measured sample) to the broker's
PUBACK of its event. Frame t_ns is the footage clock (a replay's recording time), not wall
time, so the run loop notes, for each frame it processes, the monotonic time that frame was
captured (`FrameClock`): its processing time minus its age then. `Capture` stamps each frame
when it is read from the source (for a replay that is the Pacer's release time, i.e. when a
camera would have delivered it); a supply that stamps nothing makes the age 0.

    latency = monotonic at PUBACK - (monotonic when processed - age at processing)

Decisions are matched to PUBACKs by their event's (type, track, t_ns): unique per decision
within one process (track numbers are not reused). Events of an earlier process (left in the
outbox) are not counted, nor decisions whose first frame is no longer in the clock.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from edge.core.types import Decision

SLOW_ENV = "GATE_EDGE_TEST_SLOW_MS"  # test seam: sleep this long after each processed frame

EventKey = tuple[str, int, int]  # (type, track, t_ns) of a decision's event


def slowdown_s_from_env() -> float:
    """The overload tests' seam: `GATE_EDGE_TEST_SLOW_MS=50` makes the run loop spend 50 ms
    more on every processed frame (a pipeline slower than the camera, on purpose)."""
    value = os.environ.get(SLOW_ENV, "").strip()
    try:
        ms = float(value) if value else 0.0
    except ValueError:
        return 0.0
    return ms / 1e3 if ms > 0 else 0.0


def event_key(decision: Decision) -> EventKey:
    return (decision.type, int(decision.track), int(decision.t_ns))


class AckedRow(Protocol):
    """What the publisher reports per PUBACKed event (edge.transport.outbox.OutboxRow)."""

    @property
    def type(self) -> str: ...

    @property
    def payload(self) -> str: ...


class FrameClock:
    """Frame t_ns -> monotonic ns it was captured, for the last `keep` processed frames
    (4096: minutes of footage, longer than anyone stands at a gate)."""

    def __init__(self, keep: int = 4096) -> None:
        self._keep = keep
        self._captured: OrderedDict[int, int] = OrderedDict()

    def note(self, t_ns: int, captured_ns: int) -> None:
        self._captured[t_ns] = captured_ns
        if len(self._captured) > self._keep:
            self._captured.popitem(last=False)

    def captured_ns(self, t_ns: int) -> int | None:
        return self._captured.get(t_ns)


class LatencyTracker:
    """Start times of decisions awaiting their PUBACK, and the last `window` latencies.

    `start` runs on the pipeline thread, `acked` on the publisher's drain thread."""

    def __init__(self, window: int = 100, max_pending: int = 1000) -> None:
        self._lock = threading.Lock()
        self._pending: OrderedDict[EventKey, tuple[int, int]] = OrderedDict()  # start, decided
        self._max_pending = max_pending  # events never acked (broker away for hours)
        self._latencies_ms: deque[float] = deque(maxlen=window)
        self._publish_ms: deque[float] = deque(maxlen=window)  # decided -> PUBACK
        self.unmatched = 0  # PUBACKs of events this process did not start (outbox backlog)

    def start(self, decision: Decision, start_ns: int) -> None:
        """A decision made now, whose first measurable frame was captured at `start_ns`."""
        decided_ns = time.monotonic_ns()
        with self._lock:
            self._pending[event_key(decision)] = (start_ns, decided_ns)
            while len(self._pending) > self._max_pending:
                self._pending.popitem(last=False)

    def acked(self, rows: Sequence[AckedRow], acked_ns: int) -> None:
        """The broker acknowledged these events at monotonic `acked_ns`."""
        keys = []
        for row in rows:
            try:
                body = json.loads(row.payload)
                keys.append((str(row.type), int(body["track"]), int(body["t_ns"])))
            except (ValueError, KeyError, TypeError):
                continue  # not a decision event
        with self._lock:
            for key in keys:
                times = self._pending.pop(key, None)
                if times is None:
                    self.unmatched += 1
                else:
                    self._latencies_ms.append((acked_ns - times[0]) / 1e6)
                    self._publish_ms.append((acked_ns - times[1]) / 1e6)

    def summary(self) -> dict[str, float | int | None]:
        """p50 / p95 in ms over the last `window` decisions (None before the first), n, and
        `publish_p95`: the p95 of the part after the decision was made (commit, PUBACK); the
        rest is the screening waiting for its samples (screening.decide_samples frames)."""
        with self._lock:
            values = np.asarray(self._latencies_ms, dtype=np.float64)
            publish = np.asarray(self._publish_ms, dtype=np.float64)
        if values.size == 0:
            return {"p50": None, "p95": None, "n": 0, "publish_p95": None}
        p50, p95 = np.percentile(values, [50, 95])
        return {"p50": round(float(p50), 1), "p95": round(float(p95), 1), "n": int(values.size),
                "publish_p95": round(float(np.percentile(publish, 95)), 1)}


class Rate:
    """Frames processed per second between two reports (the first: since `started_s`)."""

    def __init__(self, started_s: float) -> None:
        self._last = (started_s, 0)

    def per_s(self, now_s: float, frames: int) -> float | None:
        t0, n0 = self._last
        self._last = (now_s, frames)
        return round((frames - n0) / (now_s - t0), 2) if now_s > t0 else None
