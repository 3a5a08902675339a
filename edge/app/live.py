"""`gate-edge run`: the long-running gate, as systemd starts it.

Part of the composition root (edge/app.py holds the shared wiring). Threads: capture
(edge.sources.guard.Capture) hands over the latest frames; this module's loop owns the
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

from edge.app.sdnotify import Notifier, Watchdog
from edge.app.wiring import build_pipeline, metrics_payload, open_publisher
from edge.commands.inbox import HANDLERS, CommandInbox
from edge.commands.verify import CommandVerifier, load_public_keys
from edge.config import Settings
from edge.errors import ConfigError
from edge.sources import open_recording
from edge.sources.feed import Checkpoint, ReplayFeed
from edge.sources.guard import Capture, FrameCheck, FrameGuard
from edge.transport.mqtt import Publisher

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "replay-position.json"


def _install_signals(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # tests drive `stop` directly

    def handler(signum: int, _frame: Any) -> None:
        log.info("received %s: shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


class LiveGate:
    def __init__(
        self,
        settings: Settings,
        *,
        stop: threading.Event | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        src = settings.source
        if src.path is None:
            raise ConfigError(
                "source.path: required (a recording folder or .cptv) for kind 'replay'"
            )
        meta = open_recording(src.path).meta  # a bad recording is an error at start, not later
        if meta.thermal is None:
            raise ConfigError(
                f"source.path = {str(src.path)!r}: the recording has no thermal stream"
            )
        self.settings = settings
        self.stop = stop or threading.Event()
        self.notifier = notifier or Notifier.from_env()
        self.pipeline = build_pipeline(settings, meta)
        self.guard = FrameGuard(FrameCheck(meta.thermal.height, meta.thermal.width))
        state_dir = settings.state.dir
        self.checkpoint = Checkpoint(state_dir / CHECKPOINT_FILE if state_dir else None)
        resume_ns, decided = self.checkpoint.load()
        if resume_ns is not None:
            self.pipeline.evidence.restore_decided(decided, resume_ns)
            log.info(
                "resuming after t_ns %d with %d people already decided", resume_ns, len(decided)
            )
        feed = ReplayFeed(
            Path(src.path),
            speed=src.speed,
            loop=src.loop,
            resume_after_ns=resume_ns,
            rgb=self.pipeline.uses_rgb,
        )
        self.capture = Capture(feed)
        self.watchdog = Watchdog(self.notifier)
        self.publisher: Publisher | None = None
        self._meta = meta
        verifier = CommandVerifier(
            load_public_keys(list(settings.commands.trusted_keys)),
            settings.gate.site,
            settings.gate.gate,
            allowed=frozenset(HANDLERS),
            prefix=settings.mqtt.prefix,
            max_skew_s=settings.commands.max_skew_s,
        )
        self.commands = CommandInbox(verifier)
        self.frames = 0
        self.decisions = 0

    def run(self) -> int:
        """Until SIGTERM/SIGINT (or `stop`), or until a non-looping source ends."""
        _install_signals(self.stop)
        self.commands.start()
        publisher, outbox = open_publisher(
            self.settings, self._meta, wait_for_broker=False, on_command=self.commands.on_message
        )
        self.publisher = publisher
        self.capture.start()
        self.watchdog.start()
        self.notifier.ready()
        ended = False
        try:
            ended = self._loop(publisher)
        finally:
            self.notifier.stopping()
            self.capture.stop()
            self.watchdog.stop()
            self.commands.stop()
            # Open tracks are decided only when the footage ended: after SIGTERM the person
            # is still at the gate and is measured again once the gate is back.
            if ended:
                for decision in self.pipeline.finish():
                    publisher.submit(decision)
                    self.decisions += 1
            if self.guard.last_t_ns is not None:
                self.checkpoint.save(
                    self.guard.last_t_ns, self.pipeline.evidence.decided_boxes(), force=True
                )
            if not publisher.flush(min(5.0, self.settings.mqtt.flush_timeout_s)):
                log.warning(
                    "%s events stay in the outbox for the next start",
                    publisher.stats().get("outbox_depth"),
                )
            publisher.close()
            outbox.close()
        return 0

    def _loop(self, publisher: Publisher) -> bool:
        """True when the source ended, False when asked to stop."""
        cfg = self.settings
        started = last_frame = time.monotonic()
        next_metrics = started + cfg.mqtt.metrics_interval_s
        while not self.stop.is_set():
            self.watchdog.kick()
            self.commands.apply_pending(self.pipeline.evidence)
            try:
                frame = self.capture.get(0.5)
            except EOFError:
                return True
            now = time.monotonic()
            if frame is None:
                if now - last_frame > cfg.source.stall_s:
                    log.error("no frame for %.0f s: reopening the source", now - last_frame)
                    self.capture.request_reopen()
                    last_frame = now
            else:
                last_frame = now
                admitted = self.guard.admit(frame)
                if admitted is not None:
                    self.frames += 1
                    decisions = self.pipeline.process(admitted)
                    for decision in decisions:
                        publisher.submit(decision)  # committed to the outbox: never lost
                        self.decisions += 1
                    # Right after a decision the checkpoint must know it, or a crash in the
                    # next second would have the restarted gate measure that person again.
                    self.checkpoint.save(
                        admitted.t_ns, self.pipeline.evidence.decided_boxes(), force=bool(decisions)
                    )
            if now >= next_metrics:
                publisher.publish_metrics(self.metrics(now - started))
                next_metrics = now + cfg.mqtt.metrics_interval_s
        return False

    def metrics(self, uptime_s: float) -> dict[str, object]:
        assert self.publisher is not None
        payload = metrics_payload(self.pipeline, self.publisher, self.frames, uptime_s)
        stats = self.publisher.stats()
        payload["reconnects"] = max(0, int(str(stats.get("connects", 0))) - 1)
        payload["dropped_frames"] = {
            **dict(self.guard.dropped),
            "queue": self.capture.stats.queue_drops,
        }
        payload["source"] = {
            "reopens": self.capture.stats.reopens,
            "errors": self.capture.stats.source_errors,
            "stalls": self.capture.stats.stalls,
        }
        payload["watchdog"] = self.watchdog.state
        payload["commands"] = self.commands.stats()
        payload["threshold_c"] = self.pipeline.evidence.threshold_c
        payload["decisions"] = self.decisions
        return payload
