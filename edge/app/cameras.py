"""Live cameras in `gate-edge run`: the glue between the `[source]` camera tables and the
capture threads, and what the gate tells about its cameras.

Builds the openers (a real device through edge.sources.cameras.opener_for, or `fake`: a
recording played as a camera), the stream description the pipeline is built for (sizes and
encoding known before the first frame: the thermal camera's from its device kind or the
table, a fake's from its recording), and the supply of both cameras. `CameraWatch` turns the
capture threads' states into the retained info (`cameras`: which camera is lost or frozen,
since when, why), the metrics (fps, drops, freezes, reopens, state per camera) and the
watchdog's verdict (a read hung for longer than any read or open may take).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge.config import CameraConfig, Settings
from edge.config_sources import THERMAL_SIZES
from edge.core.types import Encoding, RgbStreamMeta, StreamInfo, ThermalStreamMeta
from edge.errors import ConfigError
from edge.sources.cameras.base import DeviceOpener, encoding_for
from edge.sources.cameras.capture import CameraStats, CameraThread, State
from edge.sources.cameras.fake import Playback
from edge.sources.cameras.supply import CameraSupply, shared_condition

log = logging.getLogger(__name__)

Role = Literal["thermal", "rgb"]


@dataclass(frozen=True, slots=True)
class Camera:
    role: Role
    table: CameraConfig
    opener: DeviceOpener
    name: str  # "thermal:lepton /dev/gate-thermal": logs, metrics, info


def camera_openers(settings: Settings) -> dict[Role, Camera]:
    """The configured cameras by role; fake ones share one Playback per recording (one epoch,
    as two cameras share the scene). ConfigError for a camera the openers refuse."""
    source = settings.source
    if source.kind != "cameras" or source.thermal is None:
        raise ConfigError(f"source.kind = {source.kind!r}: no cameras configured")
    playbacks: dict[str, Playback] = {}
    out: dict[Role, Camera] = {}
    roles: tuple[Role, ...] = ("thermal", "rgb")
    for role in roles:
        table = source.thermal if role == "thermal" else source.rgb
        if table is None:
            continue
        if table.device == "fake":
            assert table.path is not None  # the config requires it
            key = f"{table.path}|{table.speed}|{table.loop}"
            playback = playbacks.get(key) or Playback(
                Path(table.path), speed=table.speed or 1.0, loop=bool(table.loop))
            playbacks[key] = playback
            opener = playback.opener(role)
        else:
            from edge.sources.cameras import opener_for

            try:
                opener = opener_for(_spec_fields(role, table))
            except ValueError as exc:
                raise ConfigError(f"source.{role}: {exc}") from None
        out[role] = Camera(role, table, opener, f"{role}:{table.device} {table.target}")
    return out


def _spec_fields(role: Role, table: CameraConfig) -> dict[str, object]:
    """The CameraSpec fields of a camera table (edge.sources.cameras.as_spec)."""
    return {"kind": role, "device": table.device, "path": table.path, "index": table.index,
            "usb_id": table.usb_id, "url": table.url, "width": table.width,
            "height": table.height, "fps": table.fps, "fourcc": table.fourcc,
            "read_timeout_s": table.read_timeout_s, "open_timeout_s": table.open_timeout_s}


def camera_info(cameras: dict[Role, Camera]) -> StreamInfo:
    """What the pipeline is built for, before the first frame."""
    thermal = cameras["thermal"]
    table = thermal.table
    rgb = cameras.get("rgb")
    if table.device == "fake":
        assert table.path is not None
        recorded = Playback(Path(table.path)).meta.thermal
        assert recorded is not None  # Playback.opener("thermal") refused a recording without
        width, height, encoding = recorded.width, recorded.height, recorded.encoding
    else:
        width, height = THERMAL_SIZES[table.device]
        encoding = encoding_for(table.device)  # type: ignore[assignment]
    return StreamInfo(
        kind="cameras",
        thermal=ThermalStreamMeta(table.width or width, table.height or height,
                                  _encoding(encoding), fps=table.fps),
        rgb=None if rgb is None else RgbStreamMeta(rgb.table.width, rgb.table.height,
                                                   rgb.table.fps),
        source=", ".join(c.name for c in cameras.values()),
        device=thermal.name,
    )


def _encoding(value: str | None) -> Encoding:
    if value not in ("centikelvin", "p2pro", "linear"):
        raise ConfigError(f"thermal camera encoding {value!r} is not one the gate reads")
    return value  # type: ignore[return-value]


def open_supply(settings: Settings, cameras: dict[Role, Camera]) -> CameraSupply:
    """The capture threads (not started) and the supply over them."""
    cond = shared_condition()
    threads = {
        role: CameraThread(
            cam.opener, name=cam.name, cond=cond, freeze_frames=cam.table.freeze_frames,
            read_timeout_s=cam.table.read_timeout_s, stall_s=settings.source.stall_s,
            min_backoff_s=cam.table.min_backoff_s, max_backoff_s=cam.table.max_backoff_s)
        for role, cam in cameras.items()
    }
    return CameraSupply(camera_info(cameras), threads["thermal"], threads.get("rgb"))


class CameraWatch:
    """Per-camera state for the retained info, the metrics and the watchdog (pipeline
    thread). `poll()` between frames returns the info update when a state changed."""

    def __init__(self, supply: CameraSupply, cameras: dict[Role, Camera], stall_s: float) -> None:
        self.supply = supply
        # The longest a device call may take without being a hang: a read or an open that
        # ran into its own timeout, plus the stall allowance.
        self.hang_s = stall_s + max(max(c.table.read_timeout_s, c.table.open_timeout_s)
                                    for c in cameras.values())
        self._seen: dict[str, tuple[State, int]] = {}
        self._last_frames: dict[str, tuple[float, int]] = {}

    def hung(self) -> bool:
        """A camera has been inside one read (or open) for longer than it can legitimately
        take: the watchdog must not be fed (systemd restarts the gate)."""
        return self.supply.read_blocked_s() > self.hang_s

    def poll(self) -> dict[str, object] | None:
        """{"cameras": ...} for the retained info when any camera's state changed, else None."""
        stats = self.supply.stats()
        # since_ns moves with every change: lost and back between two polls is a change too
        states = {role: (s.state, s.since_ns) for role, s in stats.items()}
        if states == self._seen:
            return None
        self._seen = states
        return {"cameras": self.info(stats)}

    @staticmethod
    def info(stats: dict[str, CameraStats]) -> dict[str, object]:
        return {role: {"device": s.name, "state": s.state, "since_ns": s.since_ns,
                       "error": s.last_error if s.state != "ok" else None}
                for role, s in stats.items()}

    def metrics(self) -> dict[str, object]:
        """Per camera: fps since the last call, counters and state."""
        now = time.monotonic()
        out: dict[str, object] = {}
        for role, s in self.supply.stats().items():
            then, frames = self._last_frames.get(role, (now, s.frames))
            self._last_frames[role] = (now, s.frames)
            fps = (s.frames - frames) / (now - then) if now > then else 0.0
            out[role] = {"state": s.state, "fps": round(fps, 2), "frames": s.frames,
                         "drops": s.drops, "ffc": s.ffc, "freezes": s.freezes,
                         "stalls": s.stalls, "reopens": s.reopens, "errors": s.errors,
                         "last_error": s.last_error}
        return out
