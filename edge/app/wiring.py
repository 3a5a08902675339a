"""Composition root: wires a source, the pipeline, the outbox and the MQTT publisher.

The only place that knows about every stage. Everything here is glue; decisions live in
edge.pipeline.thermal / edge.core.decide, I/O in edge.sources and edge.transport.mqtt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from edge import __version__
from edge.config import Settings
from edge.core.evidence import Evidence
from edge.core.types import Decision, Frame, RecordingMeta, ThermalFrame
from edge.errors import BrokerError, ConfigError
from edge.pipeline.thermal import FrameReport, ThermalPipeline
from edge.sources import open_recording
from edge.sources.feed import Pacer
from edge.transport.events import info_payload
from edge.transport.mqtt import BrokerOptions, Publisher
from edge.transport.outbox import Outbox

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ReplayResult:
    meta: RecordingMeta
    decisions: list[Decision] = field(default_factory=list)
    thermal_frames: int = 0
    rgb_frames: int = 0
    footage_s: float = 0.0
    wall_s: float = 0.0
    published: int = 0


def broker_options(settings: Settings) -> BrokerOptions:
    cfg = settings.mqtt
    return BrokerOptions(
        url=cfg.broker,
        credentials_file=cfg.credentials_file,
        ca_file=cfg.ca_file,
        cert_file=cfg.cert_file,
        key_file=cfg.key_file,
        connect_timeout_s=cfg.connect_timeout_s,
    )


def config_hash(settings: Settings) -> str:
    """Short hash of the effective config, so the backend can tell gates' setups apart."""
    blob = json.dumps(settings.model_dump(mode="json"), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _models_info(meta: RecordingMeta | None) -> dict[str, object]:
    """name -> sha256 of the face models this gate uses (RGB streams only)."""
    if meta is None or not meta.has_rgb:
        return {}
    from edge.models import manifest

    return {name: spec.sha256 for name, spec in manifest().items() if spec.default}


def open_publisher(
    settings: Settings,
    meta: RecordingMeta | None,
    *,
    wait_for_broker: bool = True,
    on_command: Callable[[str, bytes], None] | None = None,
) -> tuple[Publisher, Outbox]:
    """Outbox + publisher, connected (BrokerError when the broker cannot be reached)."""
    site, gate = settings.gate.site, settings.gate.gate
    outbox = Outbox.open(settings.state.dir, site=site, gate=gate)
    sensors: dict[str, object] = {}
    if meta is not None and meta.thermal is not None:
        sensors["thermal"] = {
            "width": meta.thermal.width,
            "height": meta.thermal.height,
            "encoding": meta.thermal.encoding,
            "source": meta.source or meta.kind,
        }
    info = info_payload(
        version=__version__,
        config_hash=config_hash(settings),
        sensors=sensors,
        models=_models_info(meta),
        started_wall_ns=time.time_ns(),
    )
    publisher = Publisher(
        broker_options(settings),
        site=site,
        gate=gate,
        outbox=outbox,
        prefix=settings.mqtt.prefix,
        info=info,
        on_command=on_command,
    )
    try:
        return publisher.start(wait_for_broker=wait_for_broker), outbox
    except BaseException:
        outbox.close()
        raise


class Pipeline(Protocol):
    """What every screening mode offers the composition root."""

    evidence: Evidence
    last: FrameReport | None
    uses_rgb: bool  # whether RGB frames are worth feeding it

    def process(self, frame: Frame) -> list[Decision]: ...
    def finish(self) -> list[Decision]: ...


def metrics_payload(
    pipeline: Pipeline, publisher: Publisher, frames: int, wall_s: float
) -> dict[str, object]:
    report = pipeline.last
    ref = report.reference if report else None
    return {
        "fps": {"thermal": round(frames / wall_s, 2) if wall_s > 0 else None},
        "frames": {"thermal": frames},
        "heads": report.heads if report else 0,
        "reference": {
            "temp_c": round(ref.reading_c, 2) if ref and ref.reading_c is not None else None,
            "ok": bool(ref and ref.ok),
            "offset_c": round(ref.offset_c, 3) if ref else 0.0,
        },
        "outbox": publisher.stats(),
    }


def build_pipeline(settings: Settings, meta: RecordingMeta) -> Pipeline:
    """Thermal-only or RGB + thermal, by `mode` (auto: what the source has)."""
    if meta.thermal is None:
        raise ConfigError(f"{meta.path}: screening needs a thermal stream; the source has none")
    has_registration = (
        meta.rgb_to_thermal is not None or settings.registration.rgb_to_thermal is not None
    )
    mode = settings.mode
    if mode == "auto":
        mode = "rgb_thermal" if meta.has_rgb and has_registration else "thermal"
    if mode == "rgb_thermal":
        if not meta.has_rgb:
            raise ConfigError(f"mode = 'rgb_thermal': {meta.path} has no RGB stream")
        from edge.pipeline.rgb_thermal import RgbThermalPipeline

        return RgbThermalPipeline(settings, meta)
    return ThermalPipeline(settings, meta.thermal, meta.reference)


def _flush_or_fail(publisher: Publisher, settings: Settings) -> None:
    """Replay's promise: it returns only once the broker acknowledged every event."""
    if not publisher.flush(settings.mqtt.flush_timeout_s):
        raise BrokerError(
            f"broker {settings.mqtt.broker} did not acknowledge every event within "
            f"{settings.mqtt.flush_timeout_s:.0f} s; the rest stay in the outbox"
        )


def replay(
    settings: Settings,
    recording: Path,
    *,
    speed: float | None = None,
    publish: bool = True,
    on_decision: Callable[[Decision], None] | None = None,
) -> ReplayResult:
    """Replay a recording through the pipeline; with `publish`, every decision goes to the
    broker and this returns only after the broker acknowledged all of them."""
    source = open_recording(recording)
    meta = source.meta
    pipeline = build_pipeline(settings, meta)
    publisher, outbox = open_publisher(settings, meta) if publish else (None, None)
    result = ReplayResult(meta)
    pacer = Pacer(speed)
    started = time.monotonic()
    next_metrics = started + settings.mqtt.metrics_interval_s
    first_ns = last_ns = None

    def emit(decisions: list[Decision]) -> None:
        for decision in decisions:
            result.decisions.append(decision)
            if publisher is not None:
                publisher.submit(decision)
                result.published += 1
            if on_decision is not None:
                on_decision(decision)

    try:
        for frame in source.frames():
            pacer.wait(frame.t_ns)
            first_ns = frame.t_ns if first_ns is None else first_ns
            last_ns = frame.t_ns
            if isinstance(frame, ThermalFrame):
                result.thermal_frames += 1
            else:
                result.rgb_frames += 1
            emit(pipeline.process(frame))
            now = time.monotonic()
            if publisher is not None and now >= next_metrics:
                publisher.publish_metrics(
                    metrics_payload(pipeline, publisher, result.thermal_frames, now - started)
                )
                next_metrics = now + settings.mqtt.metrics_interval_s
        emit(pipeline.finish())
        if publisher is not None:
            uptime_s = time.monotonic() - started
            publisher.publish_metrics(
                metrics_payload(pipeline, publisher, result.thermal_frames, uptime_s)
            )
            _flush_or_fail(publisher, settings)
    finally:
        if publisher is not None:
            publisher.close()
        if outbox is not None:
            outbox.close()
    result.wall_s = time.monotonic() - started
    if first_ns is not None and last_ns is not None:
        fps = meta.thermal.fps if meta.thermal else None
        frame_s = 1.0 / fps if fps else 0.0
        result.footage_s = (last_ns - first_ns) / 1e9 + frame_s
    return result
