"""Command state across restarts (edge.commands.store): applied settings, replay memory,
and the inbox that records, restores and reports them. Clocks are injected; nothing sleeps."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from edge.commands.handlers import HandlerRegistry
from edge.commands.inbox import CommandInbox
from edge.commands.keys import key_id
from edge.commands.store import STORE_FILENAME, CommandStore
from edge.commands.verify import Command, CommandVerifier, Rejection, sign_command
from tests.commands.envelopes import ALLOWED, GATE, KEY, SITE, T0, Clock, S, topic


class ModeArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    mode: str | None = None
    level: int | None = None


def verifier(store: CommandStore, clock: Clock) -> CommandVerifier:
    return CommandVerifier({key_id(KEY.public_key()): KEY.public_key()}, SITE, GATE,
                           allowed=ALLOWED, clock_ns=clock, seen_store=store)


def signed(at_ns: int = T0, ttl_s: float = 300.0, **args: object) -> bytes:
    return sign_command(KEY, "set_mode", args or {"mode": "strict"}, SITE, GATE, ttl_s,
                        lambda: at_ns)


def test_settings_merge_persist_and_report(tmp_path: Path) -> None:
    store = CommandStore.open(tmp_path)
    assert store.info() == {"source": "config"} and store.settings() == {}
    store.record_applied("screening.set", {"threshold_c": 37.5, "skin_offset_c": None}, "A1")
    store.record_applied("screening.set", {"skin_offset_c": 1.25}, "A2")
    again = CommandStore.open(tmp_path)  # a restart
    assert again.settings() == {"screening.set": {"threshold_c": 37.5, "skin_offset_c": 1.25}}
    info = again.info()
    assert info["screening.threshold_c"] == 37.5 and info["screening.skin_offset_c"] == 1.25
    assert str(info["source"]).startswith("command A2 at ")
    assert not (tmp_path / (STORE_FILENAME + ".tmp")).exists()
    again.forget("screening.set")
    assert CommandStore.open(tmp_path).settings() == {}


def test_seen_ids_survive_a_restart_and_expired_ones_are_dropped(tmp_path: Path) -> None:
    clock = Clock()
    first = verifier(CommandStore.open(tmp_path), clock)
    short, long = signed(ttl_s=60), signed(ttl_s=7 * 86400, mode="x")
    assert isinstance(first.verify(topic(), short), Command)
    assert isinstance(first.verify(topic(), long), Command)
    doc = json.loads((tmp_path / STORE_FILENAME).read_text())
    assert len(doc["seen"]) == 2

    after = verifier(CommandStore.open(tmp_path), clock)  # restarted
    result = after.verify(topic(), long)
    assert isinstance(result, Rejection) and result.reason == "replayed"

    clock.now_ns = T0 + 3600 * S  # the short one expired: dropped at the next write
    assert isinstance(after.verify(topic(), signed(at_ns=clock.now_ns)), Command)
    ids = json.loads((tmp_path / STORE_FILENAME).read_text())["seen"]
    assert json.loads(short)["id"] not in ids and json.loads(long)["id"] in ids
    assert len(ids) == 2


def test_memory_only_without_state_dir() -> None:
    store = CommandStore.open(None)
    store.record_applied("screening.set", {"threshold_c": 38.0}, "A")
    store.save_seen({"X": (1, 2**62)}, -1, 0)
    assert store.path is None and store.load_seen() == ({"X": (1, 2**62)}, -1)


def test_unreadable_file_is_logged_and_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / STORE_FILENAME).write_text('{"schema": "gate-edge/command-state/1", "seen": 5')
    store = CommandStore.open(tmp_path)
    assert store.settings() == {} and store.load_seen() == ({}, -1)
    assert "cannot be read" in caplog.text


def test_write_failure_keeps_memory_and_logs_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edge.commands")
    state = tmp_path / "state"  # vanished: every write fails (as root too, unlike chmod)
    store = CommandStore.open(state)
    store.record_applied("screening.set", {"threshold_c": 38.0}, "A")
    store.record_applied("screening.set", {"threshold_c": 38.5}, "B")
    assert store.settings() == {"screening.set": {"threshold_c": 38.5}}
    assert caplog.text.count("cannot be written") == 1
    state.mkdir()
    store.record_applied("screening.set", {"skin_offset_c": 0.5}, "C")  # works again
    assert CommandStore.open(state).settings() == {
        "screening.set": {"threshold_c": 38.5, "skin_offset_c": 0.5}}
    assert "written again" in caplog.text


def inbox_with(store: CommandStore, seen: list[dict[str, object]], state: dict[str, object],
               clock: Clock) -> CommandInbox:
    handlers = HandlerRegistry()
    handlers.register("set_mode", ModeArgs,
                      lambda a: state.update(a.model_dump(exclude_none=True)))
    inbox = CommandInbox(verifier(store, clock), handlers, store=store)
    inbox.on_result = seen.append
    return inbox


def test_inbox_records_restores_and_reports(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edge.commands")
    clock, results, state = Clock(), [], {}  # type: ignore[var-annotated]
    inbox = inbox_with(CommandStore.open(tmp_path), results, state, clock).start()
    good, bad = signed(mode="strict"), signed(mode="x", level="high")
    try:
        for message in (good, bad, b"\xff", good):
            inbox.on_message(topic(), message)
        inbox.on_message(topic(), signed(mode="y"), True)
    finally:
        inbox.stop()
    assert inbox.apply_pending() == 1 and state == {"mode": "strict"}
    got = {(r["id"], r["status"], r["reason"]) for r in results}
    assert got == {(json.loads(good)["id"], "applied", None),
                   (json.loads(bad)["id"], "rejected", "bad_args"),
                   (None, "rejected", "not_utf8"),
                   (json.loads(good)["id"], "rejected", "replayed"),
                   (got_retained := next(r["id"] for r in results if r["reason"] == "retained"),
                    "rejected", "retained")}
    assert got_retained is not None and all(r["name"] in (None, "set_mode") for r in results)

    restarted: dict[str, object] = {"mode": "config"}
    again = inbox_with(CommandStore.open(tmp_path), [], restarted, clock)
    again.restore()
    assert restarted == {"mode": "strict"}
    assert again.settings_info()["set_mode.mode"] == "strict"


def test_commands_that_persist_themselves_are_not_settings_nor_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """List sync (settings=False): applied and reported, but its arguments (face templates)
    are neither written to commands.json nor logged; a handler's own refusal is reported
    with its reason."""
    from edge.commands.handlers import CommandRejected

    caplog.set_level(logging.INFO, logger="edge.commands")
    clock, results = Clock(), []  # type: ignore[var-annotated]
    store = CommandStore.open(tmp_path)
    applied: list[str] = []

    def apply(args: ModeArgs) -> None:
        if args.mode == "gap":
            raise CommandRejected("version_gap", "base 5, gate at 3")
        applied.append(args.mode)

    handlers = HandlerRegistry()
    handlers.register("set_mode", ModeArgs, apply, settings=False)
    inbox = CommandInbox(verifier(store, clock), handlers, store=store)
    inbox.on_result = results.append
    inbox.start()
    try:
        inbox.on_message(topic(), signed(mode="TEMPLATE-BYTES"))
        inbox.on_message(topic(), signed(at_ns=T0 + 1, mode="gap"))
    finally:
        inbox.stop()
    assert inbox.apply_pending() == 1 and applied == ["TEMPLATE-BYTES"]
    assert sorted((r["status"], r["reason"]) for r in results) == [
        ("applied", None), ("rejected", "version_gap")]
    assert "TEMPLATE-BYTES" not in caplog.text and "(list data)" in caplog.text
    assert CommandStore.open(tmp_path).settings() == {}
