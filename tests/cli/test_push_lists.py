"""`gate-edge push lists`: usage errors (one line, exit 2, nothing sent), the parts a store is
cut into (count, size, every subject exactly once), the signing round trip (the gate's
verifier accepts each part and applying them rebuilds the store, pass trust included), and
`--wait` reporting per part through a real Mosquitto with a stand-in gate answering on
`cmd_result`."""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from edge.cli.lists_push import signed_parts, store_snapshot
from edge.cli.main import main
from edge.commands.envelope import DEFAULT_MAX_BYTES, canonical_json, command_topic
from edge.commands.handlers import COMMAND_ARGS
from edge.commands.inbox import result_body
from edge.commands.keys import generate_keypair, load_private_key, load_public_keys
from edge.commands.verify import Command, CommandVerifier
from edge.identity.store import ListStore
from edge.identity.sync import ARGS_BUDGET_BYTES, SNAPSHOT, change_from_args
from edge.identity.trustlists import REVOCATION_KINDS, Revocations
from edge.sim.broker import PrivateBroker
from edge.transport.mqtt import BrokerOptions, Subscriber, publish_once
from tests.identity.trust_helpers import compound_key, dcc_key

SITE = "s1"
MODEL = "dlib_resnet:0123456789abcdef"
UNTIL = datetime(2099, 1, 2, 3, 4, 5, tzinfo=UTC)


def _store(path: Path, subjects: int, templates: int = 1, seed: int = 0) -> Path:
    """A local store: `subjects` residents with `templates` random unit 128-D templates each;
    the first is quarantined, the second has a health status."""
    rng = np.random.default_rng(seed)
    with ListStore.open(path) as store:
        for i in range(subjects):
            emb = rng.standard_normal((templates, 128)).astype(np.float32)
            store.enroll(f"r-{i:04d}", "resident", emb / np.linalg.norm(emb, axis=1)[:, None],
                         MODEL)
        if subjects:
            store.set_quarantine("r-0000", UNTIL)
        if subjects > 1:
            store.set_health("r-0001", "yellow", UNTIL.replace(year=2026))
    return path


@pytest.fixture
def key(tmp_path: Path) -> Path:
    return generate_keypair(tmp_path / "keys")[0]


def _push(key: Path, *extra: str) -> list[str]:
    return ["push", "lists", "--key", str(key), "--site", SITE, *extra]


@pytest.mark.parametrize(("extra", "message"), [
    ([], "push lists needs --lists DIR"),
    (["--lists", "L", "--gate", "g", "--args", '{"version": 1}'], "takes no --args"),
    (["--lists", "L", "--all-gates", "--wait"], "--wait needs --gate"),
    (["--lists", "L", "--gate", "g", "--version", "0"], "--version 0: must be from 1"),
    (["--lists", "L", "--gate", "g", "--part-bytes", "100"], "--part-bytes 100: must be from"),
    (["--lists", "L", "--gate", "g", "--part-bytes", "15361"], "--part-bytes 15361"),
    (["--lists", "L", "--gate", "g", "--wait", "--timeout", "0"], "--timeout 0: must be > 0"),
    (["--lists", "L"], "push needs a target: --gate NAME or --all-gates"),
    (["--lists", "L", "--gate", "a/b"], "--gate 'a/b' contains '/'"),
])
def test_usage_errors_are_one_line_exit_2(key: Path, extra: list[str], message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Checked before the store is opened or a broker contacted (none runs on port 1)."""
    assert main([*_push(key, "--broker", "mqtt://127.0.0.1:1"), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


@pytest.mark.parametrize("flag", [["--lists", "L"], ["--wait"], ["--version", "3"],
                                  ["--part-bytes", "2048"], ["--timeout", "5"]])
def test_list_flags_are_refused_on_other_commands(key: Path, flag: list[str],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["push", "screening.set", "--key", str(key), "--site", SITE, "--gate", "g",
                 "--broker", "mqtt://127.0.0.1:1", *flag]) == 2
    assert "is only for `push lists`" in capsys.readouterr().err


def test_store_problems(tmp_path: Path, key: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing store (exit 6, never created), a never-edited one without --version, and a
    subject too large for --part-bytes (exit 2)."""
    missing = tmp_path / "missing"
    assert main([*_push(key, "--lists", str(missing), "--gate", "g")]) == 6
    assert not missing.exists()
    capsys.readouterr()
    ListStore.open(tmp_path / "empty").close()
    assert main([*_push(key, "--lists", str(tmp_path / "empty"), "--gate", "g")]) == 2
    assert "at version 0 (never edited); give --version N" in capsys.readouterr().err
    big = _store(tmp_path / "big", 1, templates=3)
    assert main([*_push(key, "--lists", str(big), "--gate", "g", "--part-bytes", "1024")]) == 2
    assert "over the 1024-byte part budget" in capsys.readouterr().err


def test_unreachable_broker_is_exit_4(tmp_path: Path, key: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = _store(tmp_path / "lists", 2)
    assert main([*_push(key, "--lists", str(store), "--gate", "g", "--broker",
                        f"mqtt://127.0.0.1:{port}")]) == 4
    err = capsys.readouterr().err
    assert "cannot connect" in err and err.rstrip().endswith("(after 0 of 1 parts)"), err


def test_parts_count_and_size(tmp_path: Path) -> None:
    """40 subjects with one 128-D template (about 850 bytes each): 3 parts at the default
    budget, each within it and all but the last full (no room for one more subject), every
    subject exactly once in id order, at the store's version or the one given."""
    path = _store(tmp_path / "lists", 40)
    with ListStore.open(path, create=False) as store:
        version = store.version
    assert version == 42  # 40 enrolments, a quarantine and a health status
    got_version, parts = store_snapshot(path, None, ARGS_BUDGET_BYTES)
    assert got_version == version
    assert [(p["version"], p["part"], p["parts"]) for p in parts] == [(42, i, 3) for i in (1, 2, 3)]
    ids = [s["id"] for p in parts for s in p["subjects"]]
    assert ids == [f"r-{i:04d}" for i in range(40)]
    for budget in (ARGS_BUDGET_BYTES, 4096):
        _, cut = store_snapshot(path, 7, budget)
        sizes = [len(canonical_json(p)) for p in cut]
        one = max(len(canonical_json(s)) for p in cut for s in p["subjects"])
        assert max(sizes) <= budget and min(sizes[:-1]) > budget - one - 100, (budget, sizes)
        assert {p["version"] for p in cut} == {7}
        assert len(cut) >= (3 if budget == ARGS_BUDGET_BYTES else 10)


def test_signed_parts_verify_and_rebuild_the_store(tmp_path: Path, key: Path) -> None:
    """Each part, signed for a 64-character gate name, fits what a gate accepts, passes the
    gate's verifier, and applying the parts to an empty store reproduces the source store."""
    source = _store(tmp_path / "lists", 20, templates=2)
    gate = "g" * 64
    version, parts = store_snapshot(source, None, ARGS_BUDGET_BYTES)
    signed = signed_parts(load_private_key(key), parts, SITE, gate, 120.0)
    assert len(signed) == len(parts) >= 2
    public = next((tmp_path / "keys").glob("*.pub.pem"))
    verifier = CommandVerifier(load_public_keys([public]), SITE, gate,
                               allowed=frozenset(COMMAND_ARGS))
    topic = command_topic("gate", SITE, gate, SNAPSHOT)
    with ListStore.open(tmp_path / "gate") as target:
        for part, args in zip(signed, parts, strict=True):
            assert len(part.payload) <= DEFAULT_MAX_BYTES
            command = verifier.verify(topic, part.payload)
            assert isinstance(command, Command) and command.id == part.id
            assert command.args == args and command.gate == gate
            result = target.apply(change_from_args(command.name, command.args))
            assert result.applied, result
        assert (target.version, target.origin) == (version, "backend")
        with ListStore.open(source, create=False) as store:
            assert target.subjects() == store.subjects()
            assert target.counts() == store.counts()
            for s in store.subjects():
                np.testing.assert_array_equal(target.templates(s.id)[MODEL],
                                              store.templates(s.id)[MODEL])
    assert verifier.verify(topic, signed[0].payload).reason == "replayed"  # type: ignore[union-attr]


def test_pass_trust_travels_with_the_subjects(tmp_path: Path, key: Path) -> None:
    """A snapshot replaces the gate's trusted pass keys and revocations too, so push sends
    them: applied to an empty store, the parts give the same keys and hashes (1,500 hashes of
    two kinds: more than one entry's 1,000, and more than one part)."""
    source = _store(tmp_path / "lists", 2)
    rng = np.random.default_rng(3)
    with ListStore.open(source, create=False) as store:
        store.add_trusted([compound_key(1), dcc_key()])
        store.revoke([Revocations("compound", rng.bytes(16 * 1200)),
                      Revocations("dcc-uci", rng.bytes(16 * 300))])
    version, parts = store_snapshot(source, None, ARGS_BUDGET_BYTES)
    signed = signed_parts(load_private_key(key), parts, SITE, "g", 60.0)
    assert len(signed) >= 2
    assert (sum(p.subjects for p in signed), sum(p.trusted for p in signed),
            sum(p.revoked for p in signed)) == (2, 2, 1500)
    with ListStore.open(tmp_path / "gate") as target:
        for args in parts:
            assert target.apply(change_from_args(SNAPSHOT, args)).applied
        with ListStore.open(source, create=False) as store:
            assert target.version == version == store.version
            assert [(k.kid, k.kind, k.der) for k in target.trusted()] == [
                (k.kid, k.kind, k.der) for k in store.trusted()]
            for kind in REVOCATION_KINDS:
                assert target.revoked(kind) == store.revoked(kind)
            assert target.subjects() == store.subjects()


class StandInGate:
    """Answers the commands on its topics as a gate would on `cmd_result`: part `reject`
    rejected (stale_version), part `silent` never answered, the others applied. Records
    what it received."""

    def __init__(self, url: str, gate: str, reject: int = 0, silent: int = 0) -> None:
        self.url, self.gate, self.reject, self.silent = url, gate, reject, silent
        self.received: list[dict[str, object]] = []
        self._sub = Subscriber(BrokerOptions(url=url), [f"gate/{SITE}/{gate}/cmd/#"]).start()
        assert self._sub.subscribed.wait(10.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._answer, daemon=True)
        self._thread.start()

    def _answer(self) -> None:
        while not self._stop.is_set():
            message = self._sub.get(0.2)
            if message is None:
                continue
            body = json.loads(message[1])
            self.received.append(body)
            part = body["args"]["part"]
            if part == self.silent:
                continue
            reason = "stale_version" if part == self.reject else None
            publish_once(BrokerOptions(url=self.url), f"gate/{SITE}/{self.gate}/cmd_result",
                         json.dumps(result_body(body["id"], body["name"], reason)).encode())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        self._sub.close()


@pytest.mark.broker
def test_wait_reports_each_part(tmp_path: Path, key: Path, broker: PrivateBroker, gate: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    store = _store(tmp_path / "lists", 12)
    stand_in = StandInGate(broker.url, gate, reject=2, silent=3)
    try:
        code = main([*_push(key, "--lists", str(store), "--gate", gate, "--broker", broker.url,
                            "--part-bytes", "4096", "--wait", "--timeout", "3")])
    finally:
        stand_in.close()
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[0].startswith(f"lists.snapshot version 14: 12 subjects in 3 parts -> "
                             f"gate/{SITE}/{gate}/cmd/lists.snapshot (gate {gate};")
    assert [line.split(": ", 1)[1] for line in out[1:]] == [
        "applied", "rejected: stale_version", "no result within 3 s"]
    assert [b["args"]["part"] for b in stand_in.received] == [1, 2, 3]  # type: ignore[index]
    assert [line.split()[3].rstrip(":") for line in out[1:]] == [
        b["id"] for b in stand_in.received]


@pytest.mark.broker
def test_wait_all_applied_and_no_wait(tmp_path: Path, key: Path, broker: PrivateBroker,
                                      gate: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 0 when every part is applied; without --wait each part is listed as published."""
    store = _store(tmp_path / "lists", 3)
    stand_in = StandInGate(broker.url, gate)
    base = _push(key, "--lists", str(store), "--gate", gate, "--broker", broker.url)
    try:
        assert main([*base, "--wait", "--timeout", "10"]) == 0
        waited = capsys.readouterr().out.splitlines()
        assert main([*base, "--version", "9"]) == 0
        sent = capsys.readouterr().out.splitlines()
    finally:
        stand_in.close()
    assert waited[0].startswith("lists.snapshot version 5: 3 subjects in 1 part ")
    assert waited[1].endswith(": applied") and len(waited) == 2
    assert sent[0].startswith("lists.snapshot version 9: 3 subjects in 1 part ")
    assert sent[1].startswith("part 1/1 id ") and sent[1].endswith(": published")
