"""Issue 10, list sync at the gate level: a real Mosquitto, a real `gate-edge run` child with
recognition on and an EMPTY list store in its state dir, replaying an identity synth scene in a
loop. The backend side is `gate-edge push lists` (a snapshot in several parts) and signed
`lists.update` increments.

(a) the snapshot is applied (version, counts) and afterwards residents' temperature events
carry `match` with their labelled subject; (b) an increment quarantining a resident gives a
`quarantine.breach` for that subject; (d) unsigned, wrongly signed, unknown-key, replayed,
stale and malformed list commands are each rejected and change nothing; (c) an increment with
a gap is rejected `version_gap` and the metrics say a snapshot is needed; (e) with the broker
stopped, the gate restarted keeps recognising from its own store (resuming from its
checkpoint), and the events it held arrive, with their `match`, once the broker is back.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from edge.cli.main import main
from edge.commands.envelope import command_topic
from edge.commands.keys import generate_keypair, load_private_key
from edge.commands.verify import sign_command
from edge.transport.mqtt import BrokerOptions, Subscriber, publish_once
from tests.integration.gate_process import SITE, start_gate
from tests.shared import shared_data_dir

pytestmark = [pytest.mark.broker, pytest.mark.shared]

WAIT_S = 45.0  # generous: one loop of the scene is 12 s at SPEED
SPEED = 2.0
FAR_FUTURE = "2099-12-31T00:00:00Z"
UPDATE = "lists.update"
TEMPERATURE = ("screening", "fever", "recheck")
# A known gate-side bug (reported, not ours to fix): with recognition on, `run` pickles the
# pipeline's Evidence into its crash checkpoint, and its subject lookup (Evidence.lookup, or
# Evidence.access.lookup) is bound to the Recognition holding the embedder's onnxruntime
# session, which cannot be pickled. Once fixed, (e) also checks the lookup is bound again
# after the evidence is restored (a breach after the restart).


def _config(path: Path, broker_url: str, gate: str, scene: Path, state: Path,
            key: Path) -> Path:
    path.write_text(
        f'[gate]\nsite = "{SITE}"\ngate = "{gate}"\n'
        f'[mqtt]\nbroker = "{broker_url}"\nmetrics_interval_s = 1\nconnect_timeout_s = 2\n'
        f'[source]\nkind = "replay"\npath = "{scene}"\nspeed = {SPEED}\nloop = true\n'
        f'[state]\ndir = "{state}"\n'
        f'[commands]\ntrusted_keys = ["{key}"]\n'
        f'[identity]\nenabled = true\nlists_dir = "{state / "lists"}"\n'
    )
    return path


class Watch:
    """What a backend sees of one gate: cmd_result, info, metrics and events."""

    def __init__(self, url: str, gate: str) -> None:
        base = f"gate/{SITE}/{gate}"
        self.sub = Subscriber(BrokerOptions(url=url), [
            f"{base}/{t}" for t in ("cmd_result", "info", "metrics", "event/#")]).start()
        assert self.sub.subscribed.wait(10.0)
        self.results: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.info: dict[str, Any] = {}
        self.metrics: dict[str, Any] = {}
        self.metrics_seen = 0
        self.alive: Callable[[], None] = lambda: None  # raises when the gate died

    def until(self, predicate: Callable[[Watch], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while not predicate(self):
            self.alive()
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"timed out waiting for {what}: results {self.results[-6:]}, lists "
                    f"{self.metrics.get('lists')}, {len(self.events)} events, last "
                    f"{[(e['type'], e.get('match')) for e in self.events[-4:]]}")
            message = self.sub.get(min(left, 0.5))
            if message is None:
                continue
            body = json.loads(message[1])
            leaf = message[0].split("/")[3]
            if leaf == "cmd_result":
                self.results.append(body)
            elif leaf == "event":
                self.events.append(body)
            elif leaf == "metrics":
                self.metrics, self.metrics_seen = body, self.metrics_seen + 1
            else:
                self.info = body

    def result(self, command_id: str, since: int = 0) -> dict[str, Any]:
        """The first cmd_result of `command_id` from the `since`-th one received on."""
        self.until(lambda w: any(r["id"] == command_id for r in w.results[since:]),
                   f"cmd_result of {command_id}")
        return next(r for r in self.results[since:] if r["id"] == command_id)

    def fresh_metrics(self) -> dict[str, Any]:
        """Metrics published after everything received so far (two, to be past any queued)."""
        target = self.metrics_seen + 2
        self.until(lambda w: w.metrics_seen >= target, "fresh metrics")
        return self.metrics


def _lists(doc: dict[str, Any]) -> tuple[int, dict[str, int]]:
    return doc["lists"]["version"], doc["lists"]["counts"]


def _fold(events: list[dict[str, Any]], scene: Path) -> list[dict[str, Any]]:
    """Event times mapped back into the recording (edge.sources.feed adds one loop length,
    last - first + one frame period over both streams, per pass)."""
    stamps = sorted(int(line.split(",")[1]) for name in ("rgb.csv", "thermal.csv")
                    for line in (scene / name).read_text().splitlines()[1:])
    loop_ns = stamps[-1] - stamps[0] + max(1, (stamps[-1] - stamps[0]) // (len(stamps) - 1))
    return [{**e, "t_ns": stamps[0] + (int(e["t_ns"]) - stamps[0]) % loop_ns} for e in events]


def _matches(events: list[dict[str, Any]], scene: Path) -> dict[str, set[str | None]]:
    """Labelled person -> the subjects their temperature events were matched to. The scene
    has no pairs (--pair-fraction 0), so the person in view when the event's frame was taken
    (labels' enter/exit, the evaluation's margins) is the one it is about; "?" when nobody."""
    labels = json.loads((scene / "labels.json").read_text())["people"]
    out: dict[str, set[str | None]] = {}
    for e in _fold([e for e in events if e["type"] in TEMPERATURE], scene):
        t = int(e["t_ns"])
        cands = [p for p in labels
                 if int(p["enter_ns"]) - 500_000_000 <= t <= int(p["exit_ns"]) + 1_000_000_000]
        who = min(cands, key=lambda p: abs(t - int(p["closest_ns"])))["label"] if cands else "?"
        out.setdefault(str(who), set()).add((e.get("match") or {}).get("subject"))
    return out


def _update(key: Any, gate: str, base: int, version: int, **fields: Any) -> bytes:
    args = {"base_version": base, "version": version, "upsert": [], "remove": [], **fields}
    return sign_command(key, UPDATE, args, SITE, gate, 600)


def _check_alive(gate: subprocess.Popen[bytes], log: Path) -> None:
    if gate.poll() is None:
        return
    text = log.read_text()
    raise AssertionError(f"the gate exited with {gate.returncode}:\n{text[-3000:]}")


def _start(b: Backend, config: Path, log: Path) -> subprocess.Popen[bytes]:
    gate = start_gate(config, log)
    b.watch.alive = lambda: _check_alive(gate, log)
    return gate


def _stop(gate: subprocess.Popen[bytes], log: Path) -> None:
    gate.send_signal(signal.SIGTERM)
    assert gate.wait(30.0) == 0, log.read_text()[-3000:]


def _held_events(state: Path) -> list[dict[str, Any]]:
    path = state / "outbox.sqlite3"
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
    try:
        rows = conn.execute("SELECT payload FROM outbox ORDER BY seq").fetchall()
    except sqlite3.OperationalError:  # the gate has not created the table yet
        rows = []
    finally:
        conn.close()
    return [json.loads(payload) for (payload,) in rows]


@pytest.fixture
def scene(tmp_path: Path, models_ready: None) -> Path:
    out = tmp_path / "scene"
    faces = shared_data_dir("faces")
    assert main(["synth", str(out), "--rgb", "--faces", str(faces), "--residents", "3",
                 "--strangers", "1", "--quarantined", "0", "--pair-fraction", "0",
                 "--seed", "5", "--quiet"]) == 0
    return out


class Backend:
    """The test's backend: keys, the gate's topics, and what it has seen."""

    def __init__(self, tmp_path: Path, broker_url: str, scene: Path) -> None:
        self.gate = f"lists{uuid.uuid4().hex[:8]}"
        self.private, self.public = generate_keypair(tmp_path / "keys")
        self.key = load_private_key(self.private)
        self.url, self.scene, self.state = broker_url, scene, tmp_path / "state"
        self.topic = command_topic("gate", SITE, self.gate, UPDATE)
        self.watch = Watch(broker_url, self.gate)
        labels = json.loads((scene / "labels.json").read_text())["people"]
        self.subject_of = {p["label"]: p["subject"] for p in labels}
        self.residents = sorted(p["subject"] for p in labels if p["role"] == "resident")

    def config(self, path: Path, broker_url: str) -> Path:
        return _config(path, broker_url, self.gate, self.scene, self.state, self.public)

    def send(self, payload: bytes, topic: str | None = None) -> str:
        publish_once(BrokerOptions(url=self.url), topic or self.topic, payload)
        return str(json.loads(payload)["id"])

    def right_matches(self, events: list[dict[str, Any]]) -> dict[str, set[str | None]]:
        """Per person the subjects matched, asserting none is another person's."""
        found = _matches(events, self.scene)
        for person, subjects in found.items():
            assert subjects <= {None, self.subject_of.get(person)}, (person, subjects)
        return found


def _snapshot(b: Backend, capsys: pytest.CaptureFixture[str]) -> int:
    """(a) `push lists` in >= 2 parts, all applied; residents then recognised."""
    from edge.identity.store import ListStore

    with ListStore.open(b.scene / "lists", create=False) as store:
        version, counts = store.version, store.counts()
    b.watch.until(lambda w: "lists" in w.info, "the gate's info with lists")
    assert _lists(b.watch.info) == (0, dict.fromkeys(counts, 0))  # starts empty
    capsys.readouterr()
    code = main(["push", "lists", "--lists", str(b.scene / "lists"), "--key", str(b.private),
                 "--site", SITE, "--gate", b.gate, "--broker", b.url, "--part-bytes", "3072",
                 "--wait", "--timeout", "30"])
    out = capsys.readouterr().out
    b.watch.alive()
    parts = [line for line in out.splitlines() if line.startswith("part ")]
    assert code == 0 and len(parts) >= 2, out
    assert all(line.endswith(": applied") for line in parts), out
    b.watch.until(lambda w: w.info["lists"]["version"] == version, "the snapshot's version")
    assert _lists(b.watch.info) == (version, counts)
    assert b.watch.info["lists"]["origin"] == "backend"

    def recognised(w: Watch) -> bool:
        matched = set().union(*b.right_matches(w.events).values())
        return set(b.residents) <= matched

    b.watch.until(recognised, f"temperature events matching {b.residents}")
    return version


def _quarantine(b: Backend, version: int) -> bytes:
    """(b) an increment quarantining a resident: applied, then a breach for that subject."""
    subject = b.residents[0]
    payload = _update(b.key, b.gate, version, version + 1, upsert=[
        {"id": subject, "kind": "resident", "quarantine_until": FAR_FUTURE, "templates": None}])
    assert b.watch.result(b.send(payload))["status"] == "applied"
    b.watch.until(lambda w: w.info["lists"]["version"] == version + 1, "the increment")
    assert b.watch.info["lists"]["counts"]["quarantined"] == 1
    b.watch.until(lambda w: any(e["type"] == "quarantine.breach" for e in w.events),
                  f"a quarantine.breach for {subject}")
    breaches = [e for e in b.watch.events if e["type"] == "quarantine.breach"]
    assert {(e["subject"], e["match"]["subject"]) for e in breaches} == {(subject, subject)}
    return payload


def _refusals(b: Backend, version: int, applied: bytes) -> None:
    """(d) each refused with its reason; version and counts unchanged."""
    before = _lists(b.watch.fresh_metrics())
    model = b.watch.info["lists"]["model"]
    # Two valid increments (distinct ids): one loses its signature, one its integrity.
    unsigned = json.loads(_update(b.key, b.gate, version, version + 1))
    del unsigned["sig"]
    tampered = json.loads(_update(b.key, b.gate, version, version + 1))
    tampered["args"]["version"] = version + 2
    other = load_private_key(generate_keypair(b.state.parent / "other-keys")[0])
    short = {"model": model, "data": "AACAPw==" * 1}  # one float: not this model's 128-D
    since = len(b.watch.results)  # the replayed id already has its first result
    stale_snapshot = sign_command(b.key, "lists.snapshot", {
        "version": version - 1, "part": 1, "parts": 1, "subjects": []}, SITE, b.gate, 600)
    sent = {
        "bad_schema": b.send(json.dumps(unsigned).encode()),
        "bad_signature": b.send(json.dumps(tampered).encode()),
        "unknown_key": b.send(_update(other, b.gate, version, version + 1)),
        "replayed": b.send(applied),
        "stale_version": b.send(_update(b.key, b.gate, version - 1, version)),
        "stale_snapshot": b.send(stale_snapshot,
                                 command_topic("gate", SITE, b.gate, "lists.snapshot")),
        "bad_args": b.send(_update(b.key, b.gate, version, version + 1, upsert=[
            {"id": "x-1", "kind": "alien"}])),
        "bad_template": b.send(_update(b.key, b.gate, version, version + 1, upsert=[
            {"id": "x-2", "kind": "visitor", "templates": [short]}])),
    }
    expected = {"stale_snapshot": "stale_version", "bad_template": "bad_args"}
    for what, command_id in sent.items():
        body = b.watch.result(command_id, since)
        assert (body["status"], body["reason"]) == ("rejected", expected.get(what, what)), body
    assert _lists(b.watch.fresh_metrics()) == before
    assert b.watch.metrics["lists"]["snapshot_needed"] is False


def _gap(b: Backend, version: int) -> None:
    """(c) an increment that does not follow: version_gap, snapshot_needed in the metrics."""
    before = _lists(b.watch.fresh_metrics())
    body = b.watch.result(b.send(_update(b.key, b.gate, version + 3, version + 4)))
    assert (body["status"], body["reason"]) == ("rejected", "version_gap")
    b.watch.until(lambda w: w.metrics["lists"]["snapshot_needed"], "snapshot_needed")
    lists = b.watch.metrics["lists"]
    assert (lists["version"], lists["counts"]) == before
    assert {k: lists["last_gap"][k] for k in ("version", "base_version", "got_version")} == {
        "version": version, "base_version": version + 3, "got_version": version + 4}


def _offline_restart(b: Backend, broker: Any, quarantined: str) -> None:
    """(e) the broker stopped, the gate restarted with the same config: it resumes from its
    checkpoint and its own store, and holds decisions with `match` (and a breach) in the
    outbox; the broker back, the gate restarted again: they arrive as decided."""
    seen = {e["id"] for e in b.watch.events}
    b.watch.sub.close()
    broker.stop()
    config, log = b.state.parent / "gate.toml", b.state.parent / "offline.log"
    gate = _start(b, config, log)
    held: list[dict[str, Any]] = []
    stop, deadline = threading.Event(), time.monotonic() + WAIT_S
    try:
        while not stop.wait(0.5):  # the outbox is the only thing to watch with no broker
            held = [e for e in _held_events(b.state) if e["id"] not in seen]
            if any(e["type"] == "quarantine.breach" for e in held) and any(
                    (e.get("match") or {}).get("subject") in b.residents for e in held):
                break
            b.watch.alive()
            assert time.monotonic() < deadline, (
                f"held: {[(e['type'], e.get('match')) for e in held]}\n"
                f"{log.read_text()[-3000:]}")
    finally:
        _stop(gate, log)
    text = log.read_text()
    assert "recognition on" in text and "with the evidence of everyone in view" in text
    found = b.right_matches(held)
    assert set().union(*found.values()) & set(b.residents), found
    breach = [e for e in held if e["type"] == "quarantine.breach"]
    assert {e["subject"] for e in breach} == {quarantined}
    broker.start()  # same port
    b.watch = Watch(b.url, b.gate)
    gate = _start(b, config, b.state.parent / "gate.log")
    try:
        want = {e["id"]: e.get("match") for e in held}
        b.watch.until(lambda w: want.keys() <= {e["id"] for e in w.events},
                      f"the {len(want)} events held offline")
        assert {e["id"]: e.get("match") for e in b.watch.events if e["id"] in want} == want
    finally:
        _stop(gate, b.state.parent / "gate.log")


def test_lists_sync_at_the_gate(tmp_path: Path, make_broker: Any, scene: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    broker = make_broker()  # this test's own: it is stopped and started again
    b = Backend(tmp_path, broker.url, scene)
    log = tmp_path / "gate.log"
    gate = _start(b, b.config(tmp_path / "gate.toml", broker.url), log)
    try:
        version = _snapshot(b, capsys)
        applied = _quarantine(b, version)
        _refusals(b, version + 1, applied)
        _gap(b, version + 1)
        b.watch.alive = lambda: None
        _stop(gate, log)
        _offline_restart(b, broker, b.residents[0])
    finally:
        if gate.poll() is None:
            gate.kill()
        b.watch.sub.close()
