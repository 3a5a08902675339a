"""`gate-edge keygen --purpose pass`, `pass issue`, `pass verify` (text and --image)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from edge.cli.main import main
from tests.identity.passes.helpers import dcc_vectors


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def issued(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path, str]:
    code, out, _ = _run(["keygen", str(tmp_path / "keys"), "--purpose", "pass"], capsys)
    assert code == 0
    (priv,) = (tmp_path / "keys").glob("pass-*.key.pem")
    (pub,) = (tmp_path / "keys").glob("pass-*.pub.pem")
    assert priv.name.removesuffix(".key.pem") == pub.name.removesuffix(".pub.pem")
    assert priv.name.removeprefix("pass-").removesuffix(".key.pem") in out
    code, out, err = _run(["pass", "issue", "--key", str(priv), "--subject", "v-0042",
                           "--kind", "visitor", "--from", "2026-12-01T08:00Z", "--to",
                           "2026-12-01T18:00Z", "--gates", "north,south", "--out",
                           str(tmp_path / "pass.png")], capsys)
    assert code == 0 and (tmp_path / "pass.png").stat().st_size > 0 and "QR version" in err
    text = out.strip()
    assert text.startswith("GE1:") and "\n" not in text
    return pub, tmp_path / "pass.png", text


def test_command_keys_stay_cmd(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["keygen", str(tmp_path)], capsys)[0] == 0
    assert [p.name[:4] for p in tmp_path.iterdir()] == ["cmd-", "cmd-"]


def test_verify_text_and_image_agree(issued: tuple[Path, Path, str],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    pub, png, text = issued
    at = ["--trust", str(pub), "--at", "2026-12-01T12:00Z", "--gate", "north"]
    code, out, _ = _run(["pass", "verify", text, *at], capsys)
    verdict = json.loads(out)
    assert code == 0 and verdict["valid"] is True and verdict["subject"] == "v-0042"
    assert {"valid", "reason", "kind", "subject", "kid", "not_before", "expires",
            "checks"} <= set(verdict)
    assert {"decode", "signature", "expiry"} <= set(verdict["checks"])
    code, out, _ = _run(["pass", "verify", "--image", str(png), *at], capsys)
    from_image = json.loads(out)
    assert code == 0 and from_image.pop("checks").pop("qr") is True
    verdict.pop("checks")
    assert from_image == verdict


@pytest.mark.parametrize(("extra", "reason"), [
    (["--at", "2026-12-01T18:00Z"], "expired"),
    (["--at", "2026-12-01T07:59Z"], "not_yet_valid"),
    (["--at", "2026-12-01T12:00Z", "--gate", "west"], "wrong_gate"),
])
def test_verify_denials_exit_1(issued: tuple[Path, Path, str], extra: list[str], reason: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    pub, _, text = issued
    code, out, _ = _run(["pass", "verify", text, "--trust", str(pub), *extra], capsys)
    assert (code, json.loads(out)["reason"]) == (1, reason)


def test_verify_without_trust_is_bad_signature(issued: tuple[Path, Path, str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["pass", "verify", issued[2]], capsys)
    assert (code, json.loads(out)["reason"]) == (1, "bad_signature")


def test_image_without_a_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import cv2
    import numpy as np

    cv2.imwrite(str(tmp_path / "blank.png"), np.full((64, 64), 255, np.uint8))
    code, out, _ = _run(["pass", "verify", "--image", str(tmp_path / "blank.png")], capsys)
    verdict = json.loads(out)
    assert (code, verdict["reason"], verdict["checks"]["qr"]) == (1, "unreadable", False)


@pytest.mark.parametrize("argv", [
    ["pass", "verify"], ["pass", "verify", "GE1:X", "--image", "x.png"],
    ["pass", "verify", "GE1:X", "--at", "yesterday"], ["pass"],
    ["pass", "issue", "--key", "nope.pem", "--subject", "s", "--kind", "visitor",
     "--from", "2026-12-01", "--to", "2026-12-02"],
    ["pass", "verify", "GE1:X", "--trust", "missing.pem"],
])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(argv, capsys)[0] == 2


def test_verify_dcc_with_a_der_certificate(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    vector = next((v for v in dcc_vectors() if v.name == "common/CO1"), None)
    if vector is None:
        pytest.skip("DCC vectors not present")
    cert = tmp_path / "dsc.der"
    cert.write_bytes(base64.b64decode(vector.data["TESTCTX"]["CERTIFICATE"]))
    code, out, _ = _run(["pass", "verify", vector.data["PREFIX"], "--trust", str(cert),
                         "--at", vector.clock.isoformat()], capsys)
    verdict = json.loads(out)
    assert (code, verdict["kind"], verdict["checks"]["signature"]) == (0, "dcc", True)
    assert verdict["pass_id"] and verdict["subject"] is None


def test_verify_with_the_list_store(issued: tuple[Path, Path, str], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """--lists: the store's trusted pass keys and revocations (edge.identity.trust)."""
    trust = pytest.importorskip("edge.identity.trust")
    import hashlib

    from edge.identity.store import ListStore
    from edge.identity.trustlists import Revocations

    pub, _, text = issued
    store = ListStore.open(tmp_path / "lists")
    store.add_trusted(trust.trusted_keys_from_file(pub))
    argv = ["pass", "verify", text, "--lists", str(tmp_path / "lists"), "--at",
            "2026-12-01T12:00Z"]
    code, out, _ = _run(argv, capsys)
    assert (code, json.loads(out)["valid"]) == (0, True)
    pass_id = json.loads(out)["pass_id"]
    store.revoke([Revocations("compound", hashlib.sha256(pass_id.encode()).digest()[:16])])
    code, out, _ = _run(argv, capsys)
    assert (code, json.loads(out)["reason"]) == (1, "revoked")
    assert _run(["pass", "verify", text, "--lists", str(tmp_path / "none")], capsys)[0] == 6
