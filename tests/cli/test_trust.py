"""`gate-edge trust add|remove|list` and `revoke add|remove` on a local list store, then
`pass verify --lists` and `lists show` reading what they wrote."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from edge.cli.main import main
from edge.identity.passes.claims import compound_revocation_hash
from edge.identity.passes.issue import issue_pass
from edge.identity.passes.keys import generate_pass_keypair, load_pass_private_key
from edge.identity.store import ListStore
from tests.identity.trust_helpers import certificate
from tests.shared import REPO_ROOT


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", ["trust", "revoke"])
def test_help_has_an_example(command: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "edge", command, "--help"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0 and "example:\n  gate-edge " + command in proc.stdout


def test_trust_revoke_and_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lists = str(tmp_path / "lists")
    _private, public, kid = generate_pass_keypair(tmp_path / "keys")
    dsc = tmp_path / "dsc.der"
    dsc.write_bytes(certificate())
    code, out, _ = _run(["trust", "add", str(public), str(dsc), "--lists", lists], capsys)
    assert code == 0 and f"kid {base64.b64encode(kid).decode()}" in out
    assert "2 trusted; list version 1" in out
    code, out, _ = _run(["trust", "list", "--json", "--lists", lists], capsys)
    assert sorted(r["kind"] for r in json.loads(out)) == ["compound", "dcc"]

    text = issue_pass(load_pass_private_key(_private), subject="v-1", kind="visitor",
                      valid_from=_now(-1), valid_to=_now(1), pass_id="pass-9")
    verify = ["pass", "verify", text, "--lists", lists]
    code, out, _ = _run(verify, capsys)
    assert code == 0 and json.loads(out)["valid"] is True
    code, out, _ = _run(["revoke", "add", "pass-9", "--dcc-uci", "URN:UVCI:01:XX:1",
                         "--country", "XX", "--lists", lists], capsys)
    assert code == 0 and "3 of 3 hashes revoked" in out
    code, out, _ = _run(verify, capsys)
    assert code == 1 and json.loads(out)["reason"] == "revoked"
    with ListStore.open(Path(lists)) as store:
        assert store.revoked("compound") == compound_revocation_hash("pass-9")
        counts = store.counts()
    assert counts["revoked_dcc_uci"] == counts["revoked_dcc_country_uci"] == 1
    code, out, _ = _run(["revoke", "remove", "pass-9", "--lists", lists], capsys)
    assert code == 0 and "1 of 1 hashes un-revoked" in out
    code, out, _ = _run(["lists", "show", "--lists", lists], capsys)
    assert ("pass trust: 1 compound keys, 1 DCC signer certificates; revoked: 0 compound "
            "pass ids, 2 DCC hashes") in out
    code, out, _ = _run(["trust", "remove", kid.hex(), "--lists", lists], capsys)
    assert code == 0 and "list version 4" in out
    code, out, _ = _run(verify, capsys)
    assert code == 1 and json.loads(out)["reason"] == "bad_signature"


def _now(days: int) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


@pytest.mark.parametrize("argv, needle", [
    (["trust", "add"], "needs FILE"),
    (["trust", "add", "{keys}/cmd-0123456789abcdef.pub.pem"], "a command key"),
    (["trust", "add", "{keys}/junk.pem"], "neither a PEM public key"),
    (["trust", "add", "{keys}/missing.pem"], "No such file"),
    (["trust", "remove", "zz"], "12 base64 characters"),
    (["revoke", "add"], "nothing to revoke"),
    (["revoke", "add", "--country", "AT"], "--country goes with --dcc-uci"),
    (["revoke", "add", "--hash", "dcc-uci:abcd"], "KIND:HASH"),
    (["revoke", "add", "--hash", "passport:" + "00" * 16], "KIND:HASH"),
])
def test_usage_problems_are_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "junk.pem").write_text("hello")
    public = serialization.load_pem_public_key(
        generate_pass_keypair(keys)[1].read_bytes())  # a key, but named as a command key
    (keys / "cmd-0123456789abcdef.pub.pem").write_bytes(public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    with ListStore.open(tmp_path / "lists"):
        pass
    code, _, err = _run([a.replace("{keys}", str(keys)) for a in argv]
                        + ["--lists", str(tmp_path / "lists")], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and needle in err, err
    with ListStore.open(tmp_path / "lists") as store:
        assert store.version == 0 and store.trusted() == []


def test_an_edit_as_an_increment_a_synced_gate_applies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edge.identity.sync import change_from_args, snapshot_args

    backend = str(tmp_path / "backend")
    _private, public, kid = generate_pass_keypair(tmp_path / "keys")
    inc = tmp_path / "inc.json"
    assert _run(["trust", "add", str(public), "--lists", backend], capsys)[0] == 0
    with ListStore.open(Path(backend)) as store, ListStore.open(tmp_path / "gate") as gate:
        keys, revoked = store.trust_lists()
        for args in snapshot_args([], store.version, trust=keys, revoked=revoked):
            assert gate.apply(change_from_args("lists.snapshot", args)).applied
        for argv in (["revoke", "add", "p-1", "p-2", "--dcc-uci", "U1", "--country", "AT"],
                     ["revoke", "remove", "p-2"], ["trust", "remove", kid.hex()]):
            code, out, _ = _run([*argv, "--increment", str(inc), "--lists", backend], capsys)
            assert code == 0 and "gate-edge push lists.update --args" in out
            update = json.loads(inc.read_text())
            assert update["version"] == update["base_version"] + 1 == store.version
            assert gate.apply(change_from_args("lists.update", update)).applied
        assert gate.trust_lists() == store.trust_lists() and gate.version == store.version == 4
    too_many = ["revoke", "add", *[f"p{i}" for i in range(1001)], "--increment", str(inc)]
    code, _, err = _run([*too_many, "--lists", backend], capsys)
    assert code == 2 and "nothing edited" in err


def test_health_and_quarantine_edits_as_increments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    from edge.identity.sync import change_from_args, snapshot_args
    from edge.identity.wire import SubjectEntry, Template

    backend, inc = tmp_path / "backend", tmp_path / "inc.json"
    template = np.arange(128, dtype=np.float32)
    with ListStore.open(backend) as store:
        store.enroll("r-1", "resident", template[None, :], "m1")
    with ListStore.open(backend) as store, ListStore.open(tmp_path / "gate") as gate:
        entries = [SubjectEntry("r-1", "resident", templates=(Template("m1", template),))]
        for args in snapshot_args(entries, store.version):
            assert gate.apply(change_from_args("lists.snapshot", args)).applied
        for argv in (["health", "set", "r-1", "red"],
                     ["quarantine", "add", "r-1", "--until", "2099-01-01T00:00:00Z"]):
            code, out, _ = _run([*argv, "--increment", str(inc), "--lists", str(backend)],
                                capsys)
            assert code == 0 and "written to" in out
            assert gate.apply(change_from_args("lists.update",
                                               json.loads(inc.read_text()))).applied
        assert gate.subjects() == store.subjects() and gate.version == store.version == 3
        np.testing.assert_array_equal(gate.templates("r-1")["m1"][0], template)
