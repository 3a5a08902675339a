"""Backend commands on a live gate: verify off the pipeline thread, apply on it.

paho's thread only enqueues raw (topic, payload, retained); a verifier thread checks
signatures, expiry, replay and arguments (a flood of hostile payloads costs its time, not the
pipeline's); the pipeline loop applies the few accepted commands between frames, so the
pipeline state has exactly one writer.

Every message gets one result for its sender (`on_result`, the `cmd_result` topic): a
rejection from the verifier thread, or "applied" / "rejected" (`bad_args`) once the pipeline
thread applied it. Applied arguments are recorded in the `CommandStore` (state dir) and
`restore()` applies them again at start, over the config.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable

from pydantic import ValidationError

from edge.commands.handlers import CommandRejected, HandlerRegistry
from edge.commands.store import CommandStore
from edge.commands.verify import Command, CommandVerifier
from edge.transport.events import iso_utc_ms

log = logging.getLogger("edge.commands")  # one logger name for every command outcome

ResultSink = Callable[[dict[str, object]], None]


def result_body(
    command_id: str | None, name: str | None, reason: str | None, now_ns: int | None = None
) -> dict[str, object]:
    """The `cmd_result` message: status "applied" when `reason` is None, else "rejected"."""
    return {
        "id": command_id, "name": name, "status": "applied" if reason is None else "rejected",
        "reason": reason, "ts": iso_utc_ms(time.time_ns() if now_ns is None else now_ns),
    }


class CommandInbox:
    def __init__(
        self,
        verifier: CommandVerifier,
        handlers: HandlerRegistry,
        max_queued: int = 1000,
        *,
        store: CommandStore | None = None,
    ) -> None:
        self._verifier = verifier
        self._handlers = handlers
        self._store = store or CommandStore(None)
        self.on_result: ResultSink | None = None  # set once the publisher exists
        self.on_applied: Callable[[], None] | None = None  # e.g. republish `info`
        self._raw: queue.Queue[tuple[str, bytes, bool] | None] = queue.Queue(max_queued)
        self._accepted: queue.Queue[Command] = queue.Queue()
        self.counters: Counter[str] = Counter()
        self._thread = threading.Thread(target=self._verify_loop, name="commands", daemon=True)

    def start(self) -> CommandInbox:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._raw.put(None)
        self._thread.join(5.0)

    def on_message(self, topic: str, payload: bytes, retained: bool = False) -> None:
        """paho's thread: enqueue only. A full inbox drops (counted), never blocks paho."""
        try:
            self._raw.put_nowait((topic, payload, retained))
        except queue.Full:
            self.counters["dropped"] += 1

    def _verify_loop(self) -> None:
        while (item := self._raw.get()) is not None:
            result = self._verifier.verify(*item)
            if isinstance(result, Command):
                self._accepted.put(result)
            else:
                self._report(result.id, result.name, result.reason)

    def _report(self, command_id: str | None, name: str | None, reason: str | None) -> None:
        sink = self.on_result
        if sink is None:
            return
        try:
            sink(result_body(command_id, name, reason))
        except Exception:  # the result is a courtesy; never lose the gate over it
            log.exception("could not publish the result of command %s", command_id)

    def restore(self) -> None:
        """At start, after the config: apply the settings stored by earlier commands."""
        for name, args in self._store.settings().items():
            if name not in self._handlers:
                log.warning("stored settings of %r ignored: not a command this gate knows", name)
                continue
            try:
                self._handlers[name](args)
            except ValidationError as exc:
                log.warning("stored settings of %s no longer valid (%s): dropped, the config's "
                            "values apply", name, exc.errors()[0]["msg"])
                self._store.forget(name)
                continue
            log.info("command settings restored over the config: %s %s", name, args)

    def settings_info(self) -> dict[str, object]:
        """The applied command settings for the `info` message (edge.commands.store)."""
        return self._store.info()

    def apply_pending(self) -> int:
        """Pipeline thread: apply every verified command waiting; returns how many applied."""
        applied = 0
        while True:
            try:
                command = self._accepted.get_nowait()
            except queue.Empty:
                return applied
            if self._apply(command):
                applied += 1

    def _apply(self, command: Command) -> bool:
        try:
            self._handlers[command.name](command.args)
        except CommandRejected as exc:
            log.warning("command rejected: %s %s (id %s)", command.name, exc, command.id)
            self.counters[exc.reason] += 1
            self._report(command.id, command.name, exc.reason)
            return False
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "args"
            log.warning("command rejected: bad_args: %s %s: %s (id %s)",
                        command.name, where, first["msg"], command.id)
            self.counters["bad_args"] += 1
            self._report(command.id, command.name, "bad_args")
            return False
        # Settings are small and worth seeing; list sync carries face templates (biometric
        # data, up to 15 KiB a part), which never go to the journal.
        shown = command.args if self._handlers[command.name].settings else "(list data)"
        log.info("command applied: %s %s (id %s, key %s)",
                 command.name, shown, command.id, command.kid)
        self.counters["applied"] += 1
        if self._handlers[command.name].settings:  # list sync persists in the list store
            self._store.record_applied(command.name, command.args, command.id)
        self._report(command.id, command.name, None)
        if self.on_applied is not None:
            self.on_applied()
        return True

    def stats(self) -> dict[str, object]:
        return {**self._verifier.stats(), **self.counters}
