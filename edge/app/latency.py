"""Decision latency and overload numbers of the run loop (`gate-edge run`, `replay`).

A decision's latency runs from the capture of the first frame in which the person was
measurable (`Decision.first_t_ns`, the frame of their first measured sample) to the broker's
PUBACK of its event. Frame t_ns is the footage clock (a replay's recording time), not wall
time, so the run loop notes, for each frame it processes, the monotonic time that frame was
captured (`FrameClock`): its processing time minus its age then. `Capture` stamps each frame
when it is read from the source (for a replay that is the Pacer's release time, i.e. when a
camera would have delivered it); a supply that stamps nothing makes the age 0.

    latency = monotonic at PUBACK - (monotonic when processed - age at processing)

The latency "at the gate" (`near_p50`, `near_p95`) starts instead at the first frame the
temperature decision used (`Decision.near_t_ns`: the person at their closest, face within
`near_share` of its widest): what someone standing at the gate waits, without their walk-up.
In RGB + thermal mode a face is measurable from about 45 px, seconds before the person
arrives; in thermal-only mode from about two thirds of its closest size.

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
        # start, near (None: not known), decided
        self._pending: OrderedDict[EventKey, tuple[int, int | None, int]] = OrderedDict()
        self._max_pending = max_pending  # events never acked (broker away for hours)
        self._latencies_ms: deque[float] = deque(maxlen=window)
        self._publish_ms: deque[float] = deque(maxlen=window)  # decided -> PUBACK
        self._near_ms: deque[float] = deque(maxlen=window)  # first frame used -> PUBACK
        self.unmatched = 0  # PUBACKs of events this process did not start (outbox backlog)

    def start(self, decision: Decision, start_ns: int, near_ns: int | None = None) -> None:
        """A decision made now, whose first measurable frame was captured at `start_ns` and
        the first frame it used at `near_ns` (None: not known)."""
        decided_ns = time.monotonic_ns()
        with self._lock:
            self._pending[event_key(decision)] = (start_ns, near_ns, decided_ns)
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
                    start_ns, near_ns, decided_ns = times
                    self._latencies_ms.append((acked_ns - start_ns) / 1e6)
                    self._publish_ms.append((acked_ns - decided_ns) / 1e6)
                    if near_ns is not None:
                        self._near_ms.append((acked_ns - near_ns) / 1e6)

    def summary(self) -> dict[str, float | int | None]:
        """p50 / p95 in ms over the last `window` decisions (None before the first), n, and
        `publish_p95`: the p95 of the part after the decision was made (commit, PUBACK); the
        rest is the screening waiting for its samples; `near_p50` / `near_p95`: from the first
        frame the decision used (the person at their closest)."""
        with self._lock:
            values = np.asarray(self._latencies_ms, dtype=np.float64)
            publish = np.asarray(self._publish_ms, dtype=np.float64)
            near = np.asarray(self._near_ms, dtype=np.float64)
        out: dict[str, float | int | None] = {
            "p50": None, "p95": None, "n": int(values.size), "publish_p95": None,
            "near_p50": None, "near_p95": None,
        }
        if values.size:
            p50, p95 = np.percentile(values, [50, 95])
            out.update(p50=round(float(p50), 1), p95=round(float(p95), 1),
                       publish_p95=round(float(np.percentile(publish, 95)), 1))
        if near.size:
            p50, p95 = np.percentile(near, [50, 95])
            out.update(near_p50=round(float(p50), 1), near_p95=round(float(p95), 1))
        return out


class Rate:
    """Frames processed per second between two reports (the first: since `started_s`)."""

    def __init__(self, started_s: float) -> None:
        self._last = (started_s, 0)

    def per_s(self, now_s: float, frames: int) -> float | None:
        t0, n0 = self._last
        self._last = (now_s, frames)
        return round((frames - n0) / (now_s - t0), 2) if now_s > t0 else None
