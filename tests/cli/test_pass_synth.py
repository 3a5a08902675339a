"""`gate-edge synth --passes` through main(): usage errors in one line changing nothing, a
given pass key used (and its public key trusted in OUT/lists), the list store holding what the
scene assumes (health, trusted key, revocation: `pass verify --lists` says revoked), gate.toml,
and `eval` offline scoring every pass decision right."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.cli.main import main
from edge.identity.store import ListStore
from tests.shared import shared_data_dir

pytestmark = pytest.mark.shared


def _synth(out: Path, *extra: str) -> int:
    faces = shared_data_dir("faces")
    return main(["synth", str(out), "--rgb", "--faces", str(faces), "--quiet", *extra])


@pytest.mark.parametrize(("extra", "message"), [
    (("--passes", "valid,stolen"), "unknown case 'stolen'"),
    (("--passes", "all,valid"), "case 'valid' given twice"),
    (("--passes", "valid", "--pair-fraction", "0.5"), "pass holders walk alone"),
    (("--pass-key", "k.pem"), "--pass-key and --gate need --passes"),
    (("--passes", "borrowed"), "a visitor to lend it"),
    (("--passes", "valid", "--people", "3"), "--people 3 but"),
])
def test_usage_errors(tmp_path: Path, models_ready: None, capsys: pytest.CaptureFixture[str],
                      extra: tuple[str, ...], message: str) -> None:
    out = tmp_path / "scene"
    assert _synth(out, *extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_passes_need_rgb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", str(tmp_path / "s"), "--passes", "valid", "--quiet"]) == 2
    assert "--passes needs --rgb" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_pass_scene_with_a_given_key_lists_and_eval(
    tmp_path: Path, models_ready: None, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "keys"
    assert main(["keygen", str(keys), "--purpose", "pass"]) == 0
    key = next(keys.glob("pass-*.key.pem"))
    kid = key.name.removeprefix("pass-").removesuffix(".key.pem")
    out = tmp_path / "scene"
    cases = "valid,revoked,health_code,quarantined,resident_face,unknown,stranger_pass"
    assert _synth(out, "--passes", cases, "--pass-key", str(key), "--seed", "2",
                  "--gate", "north") == 0
    printed = capsys.readouterr().out
    assert f"(key {kid}, gate north)" in printed
    assert "1 health statuses, 1 trusted pass keys, 1 revoked passes" in printed
    plan = json.loads((out / "passes.json").read_text())
    assert plan["kid"] == kid and plan["gate"] == "north" and not (out / "keys").exists()
    assert sorted(p["case"] for p in plan["passes"]) == sorted(
        ["valid", "revoked", "health_code", "quarantined", "stranger_pass"])
    with ListStore.open(out / "lists", create=False) as store:
        health = {s.id: s.health for s in store.subjects()}
        assert [s for s, h in health.items() if h is not None] == list(plan["health"])
        assert [k.kid.hex() for k in store.trusted()] == [kid]
    config = (out / "gate.toml").read_text()
    assert 'gate = "north"' in config and "[passes]\nenabled = true" in config
    assert "trusted_keys" not in config  # trusted through the list store
    revoked = next(p for p in plan["passes"] if p["case"] == "revoked")
    capsys.readouterr()
    code = main(["pass", "verify", revoked["text"], "--lists", str(out / "lists"),
                 "--gate", "north", "--at", "2023-11-14T22:13:20Z"])
    assert code == 1 and json.loads(capsys.readouterr().out)["reason"] == "revoked"
    assert main(["eval", str(out), "--offline", "--config", str(out / "gate.toml")]) == 0
    report = capsys.readouterr().out
    assert "| pass decisions right / expected | 6 / 6 |" in report
    assert "| pass decisions wrong (outcome / reason / extra / unmatched) | 0 / 0 / 0 / 0 |" in (
        report)
    assert "| verdict | PASS |" in report
