"""Backend commands on a live gate: verify off the pipeline thread, apply on it.

paho's thread only enqueues raw (topic, payload); a verifier thread checks signatures,
expiry, replay and arguments (a flood of hostile payloads costs its time, not the
pipeline's); the pipeline loop applies the few accepted commands between frames, so the
pipeline state has exactly one writer.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter

from pydantic import ValidationError

from edge.commands.handlers import HandlerRegistry
from edge.commands.verify import Command, CommandVerifier

log = logging.getLogger("edge.commands")  # one logger name for every command outcome


class CommandInbox:
    def __init__(
        self, verifier: CommandVerifier, handlers: HandlerRegistry, max_queued: int = 1000
    ) -> None:
        self._verifier = verifier
        self._handlers = handlers
        self._raw: queue.Queue[tuple[str, bytes] | None] = queue.Queue(max_queued)
        self._accepted: queue.Queue[Command] = queue.Queue()
        self.counters: Counter[str] = Counter()
        self._thread = threading.Thread(target=self._verify_loop, name="commands", daemon=True)

    def start(self) -> CommandInbox:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._raw.put(None)
        self._thread.join(5.0)

    def on_message(self, topic: str, payload: bytes) -> None:
        """paho's thread: enqueue only. A full inbox drops (counted), never blocks paho."""
        try:
            self._raw.put_nowait((topic, payload))
        except queue.Full:
            self.counters["dropped"] += 1

    def _verify_loop(self) -> None:
        while (item := self._raw.get()) is not None:
            result = self._verifier.verify(*item)
            if isinstance(result, Command):
                self._accepted.put(result)

    def apply_pending(self) -> int:
        """Pipeline thread: apply every verified command waiting; returns how many applied."""
        applied = 0
        while True:
            try:
                command = self._accepted.get_nowait()
            except queue.Empty:
                return applied
            try:
                self._handlers[command.name](command.args)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "args"
                log.warning(
                    "command rejected: bad_args: %s %s: %s (id %s)",
                    command.name,
                    where,
                    first["msg"],
                    command.id,
                )
                self.counters["bad_args"] += 1
                continue
            log.info(
                "command applied: %s %s (id %s, key %s)",
                command.name,
                command.args,
                command.id,
                command.kid,
            )
            self.counters["applied"] += 1
            applied += 1

    def stats(self) -> dict[str, object]:
        return {**self._verifier.stats(), **self.counters}
