"""Composition root: builds the pipeline (and its parameters), the outbox and the MQTT
publisher from the config, and the metrics body.

The only place that knows about every stage. Everything here is glue; decisions live in
edge.pipeline and edge.core.decide, I/O in edge.sources and edge.transport.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping

import numpy as np

from edge import __version__
from edge.app.passes import open_pass_reader, pass_params
from edge.app.recognition import Lists, identity_params, register_list_handlers
from edge.commands.handlers import HandlerRegistry, ScreeningSetArgs
from edge.config import Settings
from edge.core.types import StreamInfo
from edge.errors import BrokerError, ConfigError
from edge.pipeline.base import FaceParams, Pipeline, PipelineParams, ScreeningParams
from edge.pipeline.thermal import ThermalPipeline
from edge.thermal.front import FrontParams
from edge.thermal.heads import HeadSizing
from edge.transport.events import info_payload
from edge.transport.mqtt import BrokerOptions, Publisher
from edge.transport.outbox import Outbox

log = logging.getLogger(__name__)


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


def _models_info(meta: StreamInfo | None) -> dict[str, object]:
    """name -> sha256 of the face models this gate uses (RGB streams only)."""
    if meta is None or not meta.has_rgb:
        return {}
    from edge.models import manifest

    return {name: spec.sha256 for name, spec in manifest().items() if spec.default}


def open_publisher(
    settings: Settings,
    meta: StreamInfo | None,
    *,
    wait_for_broker: bool = True,
    on_command: Callable[[str, bytes, bool], None] | None = None,
    extra_info: Mapping[str, object] | None = None,
    lazy_outbox: bool = False,
) -> tuple[Publisher, Outbox]:
    """Outbox + publisher, connected (BrokerError when the broker cannot be reached);
    `extra_info` is merged into the retained `info` message (e.g. the command settings).
    `lazy_outbox` (the live gate): a state dir that cannot be written at start is no error;
    the outbox's `open_error` says why, `info` says `state: degraded`, and the first commit
    that works opens it (edge.transport.outbox)."""
    site, gate = settings.gate.site, settings.gate.gate
    outbox = Outbox.open(settings.state.dir, site=site, gate=gate, lazy=lazy_outbox)
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
    info.update(extra_info or {})
    if outbox.open_error is not None:
        info.update({"state": "degraded", "outbox_error": outbox.open_error})
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


def metrics_payload(
    pipeline: Pipeline,
    publisher: Publisher,
    frames: Mapping[str, int],
    wall_s: float,
    lists: Lists | None = None,
) -> dict[str, object]:
    """The `metrics` topic's body; `frames` counts processed frames by stream."""
    report = pipeline.last
    ref = report.reference if report else None
    streams = ("thermal", "rgb") if pipeline.uses_rgb else ("thermal",)
    return {
        "fps": {s: round(frames.get(s, 0) / wall_s, 2) if wall_s > 0 else None for s in streams},
        "frames": {s: frames.get(s, 0) for s in streams},
        "heads": report.heads if report else 0,
        # The room temperature measured in the thermal frame (screening.ambient_c, when set,
        # overrides it in the decisions, not here).
        "room_c": round(report.room_c, 2) if report and report.room_c is not None else None,
        "reference": {
            "temp_c": round(ref.reading_c, 2) if ref and ref.reading_c is not None else None,
            "ok": bool(ref and ref.ok),
            "expected": pipeline.evidence.reference_expected,
            "reason": ref.reason if ref else "no thermal frame yet",
            "offset_c": round(ref.offset_c, 3) if ref else 0.0,
        },
        "outbox": publisher.stats(),
        **({"lists": lists.info()} if lists is not None else {}),
        **_pass_counts(pipeline),
    }


def _pass_counts(pipeline: Pipeline) -> dict[str, object]:
    """QR codes read and verifications run since start (passes on only)."""
    reader = getattr(pipeline, "passes", None)
    if reader is None:
        return {}
    return {"passes": {"codes_read": reader.codes_read, "verified": reader.verified}}


def pipeline_params(settings: Settings) -> PipelineParams:
    """The stages' parameters from the config: the only place that reads `Settings` for them."""
    ref, scr, det, rgb = (
        settings.thermal.reference, settings.screening, settings.detect, settings.rgb
    )
    h = settings.registration.rgb_to_thermal
    return PipelineParams(
        front=FrontParams(
            rotate_deg=settings.thermal.rotate_deg,
            reference_mode=ref.mode,
            reference_roi=(ref.roi[0], ref.roi[1], ref.roi[2], ref.roi[3]) if ref.roi else None,
            reference_temp_c=ref.temp_c,
        ),
        screening=ScreeningParams(
            threshold_c=scr.threshold_c,
            min_samples=scr.min_samples,
            decide_samples=scr.decide_samples,
            ambient_c=scr.ambient_c,
            skin_offset_c=scr.skin_offset_c,
            reference_expected=ref.mode != "off",
            recheck_margin_c=scr.recheck_margin_c,
            early_margin_c=scr.early_margin_c if scr.early else None,
            baseline_margin_c=scr.baseline_margin_c,
            baseline_samples=scr.baseline_samples,
            baseline_min_samples=scr.baseline_min_samples,
            statistic=scr.statistic,
            window_px=scr.window_px,
        ),
        heads=HeadSizing(
            person_delta_c=det.person_delta_c,
            skin_floor_c=det.skin_floor_c,
            face_band_c=det.face_band_c,
            min_face_frac=det.min_face_frac,
            min_face_px=det.min_face_px,
        ),
        faces=FaceParams(
            threads=rgb.threads,
            score_threshold=rgb.score_threshold,
            min_face_px=rgb.min_face_px,
            detect_every=rgb.detect_every,
            canthus_radius_px=scr.canthus_radius_px,
            min_thermal_face_px=scr.min_thermal_face_px,
            max_pair_ms=scr.max_pair_ms,
            rgb_to_thermal=None if h is None else np.asarray(h, dtype=np.float64),
        ),
        identity=identity_params(settings),
        passes=pass_params(settings),
    )


def build_pipeline(settings: Settings, meta: StreamInfo, lists: Lists | None = None) -> Pipeline:
    """Thermal-only or RGB + thermal, by `mode` (auto: what the source has); with `lists`,
    recognition against them (RGB + thermal only: the thermal image cannot recognise)."""
    if meta.thermal is None:
        raise ConfigError(
            f"{meta.origin}: screening needs a thermal stream; the source has none"
        )
    has_registration = (
        meta.rgb_to_thermal is not None or settings.registration.rgb_to_thermal is not None
    )
    mode = settings.mode
    if mode == "auto":
        mode = "rgb_thermal" if meta.has_rgb and has_registration else "thermal"
    params = pipeline_params(settings)
    if mode == "rgb_thermal":
        if not meta.has_rgb:
            raise ConfigError(f"mode = 'rgb_thermal': {meta.origin} has no RGB stream")
        from edge.pipeline.rgb_thermal import RgbThermalPipeline

        recognition = lists.recognition if lists is not None else None
        passes = open_pass_reader(settings, lists)
        return RgbThermalPipeline(params, meta, recognition=recognition, passes=passes)
    if lists is not None or settings.passes.enabled:
        raise ConfigError(
            f"identity / passes: recognition and QR passes need the RGB + thermal mode; "
            f"{meta.origin} is screened thermal-only (no RGB stream or no registration)"
        )
    return ThermalPipeline(params, meta.thermal, meta.reference)


def flush_or_fail(publisher: Publisher, settings: Settings) -> None:
    """Replay's promise: it returns only once the broker acknowledged every event."""
    if not publisher.flush(settings.mqtt.flush_timeout_s):
        # Only a state dir keeps them: without one the outbox lives in memory and ends here.
        rest = (
            f"the rest stay in {settings.state.dir / 'outbox.sqlite3'} for the next run"
            if settings.state.dir is not None
            else "the rest are lost (no state.dir: the outbox was in memory)"
        )
        raise BrokerError(
            f"broker {settings.mqtt.broker} did not acknowledge every event within "
            f"{settings.mqtt.flush_timeout_s:.0f} s; {rest}"
        )


def command_handlers(pipeline: Pipeline, lists: Lists | None = None) -> HandlerRegistry:
    """What each backend command does on this gate (applied on the pipeline thread); list
    sync only with recognition on."""
    registry = HandlerRegistry()
    if lists is not None:
        register_list_handlers(registry, lists)
    evidence = pipeline.evidence

    def screening_set(args: ScreeningSetArgs) -> None:
        evidence.apply_screening(threshold_c=args.threshold_c, skin_offset_c=args.skin_offset_c)

    registry.register("screening.set", ScreeningSetArgs, screening_set)
    return registry
