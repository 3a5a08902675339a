"""One capture thread per camera: the latest frame wins, and a sick camera is noticed.

The thread reads its device, stamps each frame on one monotonic clock the moment the read
returns, and leaves it in a one-slot handoff. A consumer slower than the camera finds only the
newest frame there: the one it replaced is dropped and counted (never a queue, so latency and
memory stay bounded however slow the pipeline gets).

What can go wrong with a camera, and what the thread does:
- it vanishes (unplugged, reset, stream closed): the read raises DeviceError -> state "lost";
- it stalls (the device is there but no frame for `stall_s`) -> "lost";
- it freezes (a driver that repeats its last buffer): the same bytes `freeze_frames` times in
  a row (a hash of a subsample; real sensors have noise, so live frames never repeat) ->
  "frozen"; repeated frames past that are never handed over (they would measure one instant
  again and again);
then it closes the device and reopens it after an exponential backoff (`min_backoff_s`
doubling up to `max_backoff_s`; a camera that delivered for `healthy_s` starts again from the
minimum). Thermal frames taken during a flat-field correction (DeviceFrame.ffc: the shutter is
closed, the image is of the shutter) are dropped and counted as `ffc`: nothing measures them,
and a frozen-looking shutter image is not a frozen stream.

`read_blocked_s` says how long the thread has been inside one device call (a read or an open);
the watchdog uses it: a read that never returns is a hang no reopen can end.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from edge.sources.cameras.base import DeviceError, DeviceFrame, DeviceOpener, FrameDevice

log = logging.getLogger(__name__)

# "ended": a finite device (a recording played as a camera) has no more frames.
State = Literal["opening", "ok", "frozen", "lost", "ended"]
# A flapping camera (lost, back, lost...) logs at most LOUD_LOGS state changes per LOG_WINDOW_S
# at INFO/WARNING; the others go to DEBUG and are counted in the next loud line.
LOG_WINDOW_S = 60.0
LOUD_LOGS = 4
# Elements hashed per frame for freeze detection: enough to see sensor noise anywhere in the
# frame, cheap enough (~16 k bytes) to do on every frame of every camera.
FREEZE_SAMPLE = 4096


class StreamEnded(DeviceError):
    """A finite device (edge.sources.cameras.fake) has no more frames: capture ends that
    camera instead of reopening it."""


@dataclass(frozen=True, slots=True)
class CapturedFrame:
    """A device frame stamped by capture: `seq` counts the device's frames since the thread
    started (gaps are drops), `t_ns` is the monotonic clock when the read returned."""

    seq: int
    t_ns: int
    data: np.ndarray
    telemetry: object = None


@dataclass(frozen=True, slots=True)
class CameraStats:
    """A snapshot of one camera's counters (for metrics and the retained info)."""

    name: str
    state: State
    frames: int = 0  # read from the device and handed over (or dropped for a newer one)
    drops: int = 0  # replaced in the slot before the consumer took them
    ffc: int = 0  # thermal frames during a flat-field correction, not handed over
    freezes: int = 0  # times the stream froze
    stalls: int = 0  # times no frame came for stall_s
    errors: int = 0  # DeviceError (or other failures) opening or reading
    reopens: int = 0  # successful opens after the first
    last_error: str | None = None
    since_ns: int = 0  # clock time of the last state change


class CameraThread:
    """Reads one device on its own thread; `take`/`wait` hand over the latest frame.

    `cond` may be shared by several cameras (edge.sources.cameras.supply): frames are stamped
    and left in the slot under it, so a frame handed over later never has an earlier stamp.
    `sleep(s)` waits out a backoff and returns True when capture is stopping (default: the stop
    event's wait); tests inject it and `clock_ns`.
    """

    def __init__(
        self,
        opener: DeviceOpener,
        *,
        name: str = "camera",
        clock_ns: Callable[[], int] = time.monotonic_ns,
        freeze_frames: int = 30,
        read_timeout_s: float = 1.0,
        stall_s: float = 5.0,
        min_backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        healthy_s: float = 30.0,
        cond: threading.Condition | None = None,
        sleep: Callable[[float], bool] | None = None,
    ) -> None:
        if freeze_frames < 2:
            raise ValueError("freeze_frames must be at least 2")
        self._opener = opener
        self.name = name
        self._clock_ns = clock_ns
        self._freeze_frames = freeze_frames
        self._read_timeout_s = read_timeout_s
        self._stall_ns = int(stall_s * 1e9)
        self._min_backoff_s = min_backoff_s
        self._max_backoff_s = max_backoff_s
        self._healthy_ns = int(healthy_s * 1e9)
        self.cond = cond or threading.Condition()
        self._stop = threading.Event()
        self._reopen = threading.Event()
        self._sleep = sleep or self._stop.wait  # True: stopping
        self._slot: CapturedFrame | None = None
        self._stats = CameraStats(name, "opening", since_ns=clock_ns())
        self._stats_lock = threading.Lock()
        self._call_since_ns: int | None = None  # clock at the start of the device call
        self._failures = 0  # failures in a row (backoff exponent)
        self._loud_ns: list[int] = []  # clock of the state changes logged loudly, recent
        self._quiet = 0  # state changes since, logged at DEBUG only
        self._opened = 0
        self.encoding: str | None = None  # the open device's, once opened
        self._thread = threading.Thread(target=self._run, name=f"capture {name}", daemon=True)

    # --- consumer side ---------------------------------------------------------------------

    def start(self) -> CameraThread:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        with self.cond:
            self.cond.notify_all()
        self._thread.join(timeout_s)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def request_reopen(self) -> None:
        """Drop the current stream and open the device anew (the consumer saw nothing)."""
        self._reopen.set()

    def take(self) -> CapturedFrame | None:
        """The latest frame, if one is waiting (caller holds `cond` or does not care)."""
        with self.cond:
            frame, self._slot = self._slot, None
            return frame

    def peek(self) -> CapturedFrame | None:
        """The waiting frame without taking it (call with `cond` held)."""
        return self._slot

    def wait(self, timeout_s: float) -> CapturedFrame | None:
        """The latest frame, waiting up to `timeout_s` for one; None on timeout."""
        with self.cond:
            self.cond.wait_for(lambda: self._slot is not None or self._stop.is_set(), timeout_s)
            frame, self._slot = self._slot, None
            return frame

    @property
    def stats(self) -> CameraStats:
        with self._stats_lock:
            return self._stats

    def read_blocked_s(self) -> float:
        """Seconds the thread has been inside one device call (read or open); 0 outside."""
        since = self._call_since_ns
        return 0.0 if since is None else max(0.0, (self._clock_ns() - since) / 1e9)

    # --- capture thread ---------------------------------------------------------------------

    def _count(self, **increments: int) -> None:
        with self._stats_lock:
            stats = self._stats
            self._stats = replace(
                stats, **{k: getattr(stats, k) + n for k, n in increments.items()}
            )

    def _note(self, **values: object) -> None:
        with self._stats_lock:
            self._stats = replace(self._stats, **values)  # type: ignore[arg-type]

    def _set_state(self, state: State, why: str = "") -> None:
        before = self.stats.state
        if state == before:
            return
        now = self._clock_ns()
        self._note(state=state, since_ns=now)
        self._loud_ns = [t for t in self._loud_ns if now - t < LOG_WINDOW_S * 1e9]
        loud = len(self._loud_ns) < LOUD_LOGS
        quiet, self._quiet = self._quiet, 0 if loud else self._quiet + 1
        if loud:
            self._loud_ns.append(now)
        more = f" ({quiet} state changes not logged before this)" if loud and quiet else ""
        if state == "ok":
            level = logging.INFO
            text = "delivering frames" + ("" if before == "opening" and self._opened <= 1
                                          else f" again after {before}")
        else:
            level = logging.INFO if state == "ended" else logging.WARNING
            text = f"{state}: {why}"
        log.log(level if loud else logging.DEBUG, "camera %s: %s%s", self.name, text, more)

    def _run(self) -> None:
        try:
            self._capture()
        except StreamEnded as exc:
            self._note(last_error=str(exc))
            self._set_state("ended", str(exc))
        finally:
            with self.cond:
                self.cond.notify_all()  # a consumer waiting for frames learns the camera ended

    def _capture(self) -> None:
        while not self._stop.is_set():
            device = self._open()
            if device is not None:
                try:
                    why = self._pump(device)
                except StreamEnded:
                    raise
                except Exception as exc:  # a camera or parser fault must not end capture
                    why = f"{type(exc).__name__}: {exc}" if not isinstance(exc, DeviceError) \
                        else str(exc)
                    self._count(errors=1)
                    self._note(last_error=why)
                    self._set_state("lost", why)
                finally:
                    self._call_since_ns = None
                    _close(device)
                if why == "":
                    return  # stopping
            if self._sleep(self._backoff_s()) or self._stop.is_set():
                return

    def _open(self) -> FrameDevice | None:
        if self.stats.state != "opening" and self._opened:
            log.info("camera %s: reopening", self.name)
        self._call_since_ns = self._clock_ns()
        try:
            device = self._opener()
        except StreamEnded:
            raise
        except Exception as exc:  # DeviceError, or an opener bug: retried the same way
            why = str(exc) if isinstance(exc, DeviceError) else f"{type(exc).__name__}: {exc}"
            self._count(errors=1)
            self._note(last_error=why)
            self._set_state("lost", f"cannot open: {why}")
            return None
        finally:
            self._call_since_ns = None
        self._opened += 1
        if self._opened > 1:
            self._count(reopens=1)
        self.encoding = device.encoding
        return device

    def _backoff_s(self) -> float:
        self._failures += 1
        wait_s = min(self._min_backoff_s * 2.0 ** min(self._failures - 1, 30), self._max_backoff_s)
        log.info("camera %s: reopening in %g s (failure %d in a row)", self.name, wait_s,
                 self._failures)
        return wait_s

    def _pump(self, device: FrameDevice) -> str:
        """Read until stop ("" returned) or a failure (its description returned)."""
        opened_ns = last_ns = self._clock_ns()
        last_hash, repeats = -1, 0
        while not self._stop.is_set():
            if self._reopen.is_set():
                self._reopen.clear()
                self._count(stalls=1)
                self._set_state("lost", "reopen requested: no frame reached the consumer")
                return "reopen requested"
            frame = self._read(device)
            now = self._clock_ns()
            if frame is None:
                if now - last_ns > self._stall_ns:
                    why = f"no frame for {(now - last_ns) / 1e9:.1f} s"
                    self._count(stalls=1)
                    self._note(last_error=why)
                    self._set_state("lost", why)
                    return why
                continue
            last_ns = now
            if frame.ffc:
                self._count(ffc=1)  # the shutter, not the scene; not a freeze either
                continue
            digest = _sample_hash(frame.data)
            # A uniform frame (a colour camera in the dark, a lens cap) repeats honestly: not
            # a freeze (the frame guard drops such dead frames anyway).
            repeats = 0 if digest is None else repeats + 1 if digest == last_hash else 1
            last_hash = -1 if digest is None else digest
            if repeats >= self._freeze_frames:
                return self._frozen(repeats)
            self._hand_over(frame)
            if now - opened_ns >= self._healthy_ns:
                self._failures = 0  # a long good run: the next failure is a new one
        return ""

    def _frozen(self, repeats: int) -> str:
        why = f"the same frame {repeats} times in a row"
        self._count(freezes=1)
        self._note(last_error=why)
        self._set_state("frozen", why)
        return why

    def _read(self, device: FrameDevice) -> DeviceFrame | None:
        self._call_since_ns = self._clock_ns()
        try:
            return device.read(self._read_timeout_s)
        finally:
            self._call_since_ns = None

    def _hand_over(self, frame: DeviceFrame) -> None:
        with self.cond:
            # Stamped under the (possibly shared) condition: a frame handed over later cannot
            # carry an earlier stamp than one already in a slot.
            t_ns = self._clock_ns()
            seq = self.stats.frames
            dropped = self._slot is not None
            self._slot = CapturedFrame(seq, t_ns, frame.data, frame.telemetry)
            self.cond.notify_all()
        self._count(frames=1, drops=int(dropped))
        if self.stats.state != "ok":
            self._set_state("ok", "frames again")


def _sample_hash(data: npt.NDArray[np.generic]) -> int | None:
    """CRC of a strided subsample of the frame's bytes (an odd stride, so it walks across
    rows and columns rather than down one column); None when the subsample is uniform."""
    flat = np.ascontiguousarray(data).reshape(-1)
    step = max(1, flat.size // FREEZE_SAMPLE) | 1
    sample = np.ascontiguousarray(flat[::step])
    if sample.size == 0 or sample.min() == sample.max():
        return None
    return zlib.crc32(sample.tobytes()) ^ flat.size


def _close(device: FrameDevice) -> None:
    try:
        device.close()
    except Exception as exc:  # a device that is gone may fail to close; it is gone anyway
        log.debug("closing %s: %s", device.name, exc)
