"""`gate-edge run`: the long-running gate, as systemd starts it.

Part of the composition root (edge.app.wiring holds the shared wiring, edge.app.runner the
frame loop it shares with replay). Threads: capture hands over the latest frames (a
recording: edge.sources.guard.Capture; cameras: one thread per camera, edge.app.cameras and
edge.sources.cameras.capture, whose states reach the retained info, the metrics and the
watchdog); this module's loop owns the
pipeline and all mutable state; paho's thread and the drain thread move events from the
outbox to the broker; the watchdog thread pings systemd while this loop makes progress.
The loop never waits on the network: decisions are committed to the outbox and it moves on.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any

from edge.app.cameras import CameraWatch, camera_openers, open_supply
from edge.app.checkpoint import Committer, code_fingerprint, kill_after_from_env, load_checkpoint
from edge.app.recognition import Lists, ListsUnavailable, open_lists
from edge.app.reference_watch import ReferenceWatch
from edge.app.runner import LoopHooks, RunLoop
from edge.app.sdnotify import Notifier, Watchdog
from edge.app.wiring import (
    build_pipeline,
    command_handlers,
    config_hash,
    metrics_payload,
    open_publisher,
)
from edge.commands.inbox import CommandInbox
from edge.commands.keys import load_public_keys
from edge.commands.store import CommandStore
from edge.commands.verify import CommandVerifier
from edge.config import Settings
from edge.core.evidence import Evidence
from edge.core.types import Decision, Frame, StreamInfo
from edge.errors import ConfigError
from edge.pipeline.base import Pipeline
from edge.sources import open_recording
from edge.sources.cameras.supply import CameraSupply
from edge.sources.feed import ReplayFeed
from edge.sources.guard import Capture, FrameCheck, FrameGuard
from edge.transport.mqtt import Publisher

log = logging.getLogger(__name__)


def _install_signals(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # tests drive `stop` directly

    def handler(signum: int, _frame: Any) -> None:
        log.info("received %s: shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _source_info(settings: Settings) -> StreamInfo:
    """The configured source's description; a bad recording is an error at start, not later."""
    src = settings.source
    if src.path is None:
        raise ConfigError("source.path: required (a recording folder or .cptv) for kind 'replay'")
    meta = open_recording(src.path).meta
    if meta.thermal is None:
        raise ConfigError(f"source.path = {str(src.path)!r}: the recording has no thermal stream")
    return meta


def _command_inbox(settings: Settings, pipeline: Pipeline, lists: Lists | None) -> CommandInbox:
    """Verifier + handlers; the replay memory and the applied settings persist in state.dir
    (edge.commands.store), and the stored settings are applied here, over the config."""
    handlers = command_handlers(pipeline, lists)
    store = CommandStore.open(settings.state.dir)
    verifier = CommandVerifier(
        load_public_keys(list(settings.commands.trusted_keys)),
        settings.gate.site,
        settings.gate.gate,
        allowed=handlers.names(),
        prefix=settings.mqtt.prefix,
        max_skew_s=settings.commands.max_skew_s,
        seen_store=store,
    )
    inbox = CommandInbox(verifier, handlers, store=store)
    inbox.restore()
    return inbox


def _open_lists(settings: Settings) -> tuple[Lists | None, str | None]:
    """The list store, or (None, why) when it cannot be opened: temperatures are still
    screened; recognition waits for a restart with a usable store."""
    try:
        return open_lists(settings), None
    except ListsUnavailable as exc:
        log.error("%s; recognition is OFF until the gate restarts with a usable list store "
                  "(temperature screening goes on)", exc)
        return None, str(exc)


class LiveGate:
    def __init__(
        self,
        settings: Settings,
        *,
        stop: threading.Event | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        src = settings.source
        # Cameras: the capture threads' supply (started in run) and its watch; replay: below.
        self.cameras: CameraWatch | None = None
        if src.kind == "cameras":
            cameras = camera_openers(settings)
            supply = open_supply(settings, cameras)
            self.cameras = CameraWatch(supply, cameras, src.stall_s)
            meta = supply.info
        else:
            meta = _source_info(settings)
        assert meta.thermal is not None
        self.settings = settings
        self.stop = stop or threading.Event()
        self.notifier = notifier or Notifier.from_env()
        # The gate's own copy of the lists: recognition works from it with no broker.
        self.lists, self.lists_error = _open_lists(settings)
        self.pipeline = build_pipeline(settings, meta, self.lists)
        self.guard = FrameGuard(FrameCheck(meta.thermal.height, meta.thermal.width))
        self.fingerprint = code_fingerprint(config_hash(settings))
        resume_ns = self._resume()
        self.capture: Capture | CameraSupply = (
            self.cameras.supply if self.cameras is not None else Capture(ReplayFeed(
                Path(str(src.path)), speed=src.speed, loop=src.loop, resume_after_ns=resume_ns,
                rgb=self.pipeline.uses_rgb,
            ))
        )
        self.watchdog = Watchdog(self.notifier)
        self.publisher: Publisher | None = None
        self.committer: Committer | None = None
        self._meta = meta
        self.commands = _command_inbox(settings, self.pipeline, self.lists)
        self.reference = ReferenceWatch(None, expected=settings.thermal.reference.mode != "off")
        self.loop = RunLoop(
            self.pipeline,
            self._submit,
            hooks=LoopHooks(
                before_frame=self._between_frames,
                admit=self.guard.admit,
                after_frame=self._after_frame,
                on_idle=self._on_idle,
                metrics=self._publish_metrics,
            ),
            metrics_interval_s=settings.mqtt.metrics_interval_s,
            stop=self.stop,
        )

    def _resume(self) -> int | None:
        """Restore what the checkpoint knew: the whole evidence when this code and config
        wrote it (people half-measured are finished), else the people already decided."""
        settings = self.settings
        resume = load_checkpoint(settings.state.dir, settings.gate.site, settings.gate.gate)
        if resume.t_ns is None:
            return None
        if self.cameras is not None and resume.t_ns > time.monotonic_ns():
            # Camera frames carry the monotonic clock, which restarted with the machine:
            # what the checkpoint knew belongs to another boot's timeline.
            log.info("checkpoint from before a reboot (t_ns %d): starting afresh", resume.t_ns)
            return None
        evidence = resume.restore_evidence(self.fingerprint)
        if isinstance(evidence, Evidence):
            # The configured screening settings: the commands' stored settings are applied
            # over them next (_command_inbox), from their own store, not from the snapshot.
            fresh = self.pipeline.evidence
            evidence.apply_screening(
                threshold_c=fresh.threshold_c, skin_offset_c=float(fresh.skin_offset_c)
            )
            self.pipeline.evidence = evidence
            what = "the evidence of everyone in view"
        else:
            self.pipeline.evidence.restore_decided(list(resume.decided), resume.t_ns)
            what = "the people already decided only (checkpoint of other code or config)"
        log.info("resuming after t_ns %d with %s; %d people already decided",
                 resume.t_ns, what, len(resume.decided))
        return resume.t_ns

    @property
    def frames(self) -> int:
        return sum(self.loop.frames.values())

    @property
    def decisions(self) -> int:
        return self.loop.decisions

    def run(self) -> int:
        """Until SIGTERM/SIGINT (or `stop`), or until a non-looping source ends."""
        _install_signals(self.stop)
        publisher, outbox = open_publisher(
            self.settings, self._meta, wait_for_broker=False, on_command=self.commands.on_message,
            extra_info=self._info_extra(), lazy_outbox=True,
        )
        self.publisher = publisher
        self.loop.attach(publisher)  # decision latency from PUBACKs; processing/capture metrics
        self.commands.on_result = publisher.publish_command_result
        self.commands.on_applied = lambda: publisher.update_info(self._info_extra())
        # Verified only from here on (paho may enqueue earlier): every result has its sink.
        self.commands.start()
        self.committer = Committer(
            publisher,
            durable=self.settings.state.dir is not None,
            kill_after=kill_after_from_env(),
            on_change=self._outbox_state,
            fingerprint=self.fingerprint,
            error=outbox.open_error,  # degraded from the start: decisions held in memory
        )
        self.reference.sink = publisher
        self.capture.start()
        self.watchdog.start()
        self.notifier.ready()
        ended = False
        try:
            ended = self.loop.run(self.capture)
        finally:
            self.notifier.stopping()
            self.capture.stop()
            self.watchdog.stop()
            self.commands.stop()
            # Open tracks are decided only when the footage ended: after SIGTERM the person
            # is still at the gate and is measured again once the gate is back.
            if ended:
                self.loop.finish()
            evidence = self.pipeline.evidence
            self.committer.close(self.guard.last_t_ns, evidence.decided_boxes(), evidence)
            if not publisher.flush(min(5.0, self.settings.mqtt.flush_timeout_s)):
                log.warning(
                    "%s events %s",
                    publisher.stats().get("outbox_depth"),
                    "stay in the outbox for the next start"
                    if self.settings.state.dir is not None
                    else "are lost: no state.dir, the outbox was in memory",
                )
            publisher.close()
            outbox.close()
            if self.lists is not None:
                self.lists.close()
        return 0

    def _info_extra(self) -> dict[str, object]:
        """What `run` adds to the retained info: command settings, and the lists in force."""
        extra: dict[str, object] = {"settings": self.commands.settings_info()}
        if self.lists is not None:
            extra["lists"] = self.lists.info()
        elif self.lists_error is not None:
            extra["lists"] = {"error": self.lists_error}
        if self.cameras is not None:
            extra["cameras"] = self.cameras.info(self.cameras.supply.stats())
        return extra

    # --- the run loop's hooks (pipeline thread) ---------------------------------------------

    def _submit(self, decision: Decision) -> None:
        # Committed with this frame's checkpoint in _after_frame (edge.app.checkpoint).
        assert self.committer is not None
        self.committer.add(decision)

    def _between_frames(self) -> None:
        # Kick only on evidence: frames come in, or the source is knowingly idle (no frame
        # yet, a backoff before a reopen). A capture read blocked past source.stall_s is a
        # hang the reopen cannot end: no kick, so systemd restarts us (it did spin on).
        # Cameras: a read or open may take its own timeout on top (CameraWatch.hang_s).
        if self.cameras is not None:
            hung = self.cameras.hung()
            update = self.cameras.poll()  # a camera lost, frozen or back: the retained info
            if update is not None and self.publisher is not None:
                self.publisher.update_info(update)
        else:
            hung = self.capture.read_blocked_s() > self.settings.source.stall_s
        if not hung:
            self.watchdog.kick()
        self.commands.apply_pending()

    def _after_frame(self, frame: Frame, decisions: list[Decision]) -> None:
        # The frame's events and the checkpoint that marks those people decided: one
        # transaction, at once when there are events, else at most every second.
        assert self.committer is not None
        evidence = self.pipeline.evidence
        self.committer.after_frame(frame.t_ns, evidence.decided_boxes(), evidence=evidence)
        self.reference(self.pipeline.last)

    def _on_idle(self, idle_s: float) -> bool:
        if self.cameras is not None:
            return False  # each capture thread notices its camera's stall, reopens and logs
        if idle_s <= self.settings.source.stall_s:
            return False
        log.error("no frame for %.0f s: reopening the source", idle_s)
        self.capture.request_reopen()
        return True

    def _capture_drops(self) -> dict[str, int]:
        if isinstance(self.capture, Capture):
            return {"queue": self.capture.stats.queue_drops}
        stats = self.capture.stats().values()
        return {"queue": sum(s.drops for s in stats), "ffc": sum(s.ffc for s in stats)}

    def _source_metrics(self) -> dict[str, object]:
        if isinstance(self.capture, Capture):
            st = self.capture.stats
            return {"reopens": st.reopens, "errors": st.source_errors, "stalls": st.stalls}
        assert self.cameras is not None
        stats = self.capture.stats().values()
        return {"reopens": sum(s.reopens for s in stats), "errors": sum(s.errors for s in stats),
                "stalls": sum(s.stalls for s in stats), "cameras": self.cameras.metrics()}

    def _outbox_state(self, error: str | None) -> None:
        """Degraded (the outbox cannot be written) or back to ok: tell the backend in info."""
        assert self.publisher is not None
        self.publisher.update_info({"state": "degraded" if error else "ok", "outbox_error": error})

    def _publish_metrics(self, uptime_s: float) -> None:
        assert self.publisher is not None
        self.publisher.publish_metrics(self.metrics(uptime_s))

    def metrics(self, uptime_s: float) -> dict[str, object]:
        assert self.publisher is not None
        if self.lists is not None:
            self.lists.refresh()  # the CLI may have edited a local store meanwhile
        payload = metrics_payload(
            self.pipeline, self.publisher, self.loop.frames, uptime_s, self.lists
        )
        stats = self.publisher.stats()
        payload["reconnects"] = max(0, int(str(stats.get("connects", 0))) - 1)
        payload["dropped_frames"] = {**dict(self.guard.dropped), **self._capture_drops()}
        payload["source"] = self._source_metrics()
        payload["watchdog"] = self.watchdog.state
        payload["commands"] = self.commands.stats()
        payload["threshold_c"] = self.pipeline.evidence.threshold_c
        payload["decisions"] = self.decisions
        if self.committer is not None:
            payload.update(self.committer.stats())
        return payload
