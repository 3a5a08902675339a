"""`gate-edge replay` (and `eval`, the demo, the tests): a recording through the run loop,
every decision committed to the outbox and acknowledged by the broker before it returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edge.app.recognition import Lists, open_lists
from edge.app.reference_watch import ReferenceWatch
from edge.app.runner import IteratorSupply, LoopHooks, RunLoop
from edge.app.wiring import build_pipeline, flush_or_fail, metrics_payload, open_publisher
from edge.config import Settings
from edge.core.types import Decision, StreamInfo
from edge.sources import Source, open_recording
from edge.sources.feed import Pacer


@dataclass(slots=True)
class ReplayResult:
    meta: StreamInfo
    decisions: list[Decision] = field(default_factory=list)
    thermal_frames: int = 0
    rgb_frames: int = 0
    footage_s: float = 0.0
    wall_s: float = 0.0
    published: int = 0


def replay(
    settings: Settings,
    recording: Path,
    *,
    speed: float | None = None,
    publish: bool = True,
    on_decision: Callable[[Decision], None] | None = None,
    lists_dir: Path | None = None,
) -> ReplayResult:
    """Replay a recording through the pipeline; with `publish`, every decision goes to the
    broker and this returns only after the broker acknowledged all of them. `lists_dir`: a
    list store to recognise against (else the config's, when `identity.enabled`)."""
    source = open_recording(recording)
    lists = open_lists(settings, lists_dir)
    try:
        return _replay(settings, source, lists, speed, publish, on_decision)
    finally:
        if lists is not None:
            lists.close()


def _replay(
    settings: Settings,
    source: Source,
    lists: Lists | None,
    speed: float | None,
    publish: bool,
    on_decision: Callable[[Decision], None] | None,
) -> ReplayResult:
    meta = source.meta
    pipeline = build_pipeline(settings, meta, lists)
    extra = {"lists": lists.info()} if lists is not None else None
    publisher, outbox = (
        open_publisher(settings, meta, extra_info=extra) if publish else (None, None)
    )
    result = ReplayResult(meta)

    def emit(decision: Decision) -> None:
        result.decisions.append(decision)
        if publisher is not None:
            publisher.submit(decision)
            result.published += 1
        if on_decision is not None:
            on_decision(decision)

    loop = RunLoop(pipeline, emit, metrics_interval_s=settings.mqtt.metrics_interval_s)
    watch = ReferenceWatch(publisher, expected=settings.thermal.reference.mode != "off")
    loop.hooks = LoopHooks(after_frame=lambda _frame, _decisions: watch(pipeline.last))
    if publisher is not None:
        pub = publisher

        def metrics(uptime_s: float) -> None:
            pub.publish_metrics(metrics_payload(pipeline, pub, loop.frames, uptime_s, lists))

        loop.hooks.metrics = metrics
    try:
        loop.run(IteratorSupply(source.frames(), Pacer(speed)))
        loop.finish()
        if publisher is not None:
            publisher.publish_metrics(
                metrics_payload(pipeline, publisher, loop.frames, loop.uptime_s(), lists)
            )
            flush_or_fail(publisher, settings)
    finally:
        if publisher is not None:
            publisher.close()
        if outbox is not None:
            outbox.close()
    result.wall_s = loop.uptime_s()
    result.thermal_frames, result.rgb_frames = loop.frames["thermal"], loop.frames["rgb"]
    if loop.first_t_ns is not None and loop.last_t_ns is not None:
        fps = meta.thermal.fps if meta.thermal else None
        frame_s = 1.0 / fps if fps else 0.0
        result.footage_s = (loop.last_t_ns - loop.first_t_ns) / 1e9 + frame_s
    return result
