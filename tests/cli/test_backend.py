"""The backend commands `gate-edge keygen` and `gate-edge push`.

The push test needs a real Mosquitto.
"""

from __future__ import annotations

import argparse
import random
import socket
from pathlib import Path

import pytest

from edge.cli.backend import add_backend_commands
from edge.commands.handlers import COMMAND_ARGS
from edge.commands.keys import generate_keypair, load_public_keys
from edge.commands.verify import Command, CommandVerifier
from edge.errors import BrokerError, ConfigError
from edge.sim.broker import PrivateBroker
from edge.transport.mqtt import BrokerOptions, Subscriber
from tests.commands.envelopes import SITE, S, write_pem

# -- CLI helpers -----------------------------------------------------------------------------------


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gate-edge")
    sub = parser.add_subparsers(dest="command", required=True)
    add_backend_commands(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


@pytest.mark.parametrize("command", ["keygen", "push"])
def test_backend_commands_have_help_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        run_cli([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "example:\n  gate-edge " + command in out


def test_keygen_prints_kid_and_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["keygen", str(tmp_path / "k")]) == 0
    out = capsys.readouterr().out
    [public_path] = (tmp_path / "k").glob("*.pub.pem")
    [kid] = load_public_keys([public_path])
    assert f"kid {kid}" in out and str(public_path) in out
    assert "PRIVATE KEY" not in out


def test_push_bad_args_and_unreachable_broker(tmp_path: Path) -> None:
    private_path, _ = generate_keypair(tmp_path)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = ["push", "screening.set", "--key", str(private_path), "--site", SITE]
    with pytest.raises(BrokerError, match="cannot connect"):
        run_cli([*base, "--gate", "g", "--broker", f"mqtt://127.0.0.1:{port}"])
    with pytest.raises(ConfigError, match="--gate"):
        run_cli([*base, "--gate", "a/b"])
    with pytest.raises(SystemExit):
        run_cli([*base, "--gate", "g", "--args", "[1]"])
    with pytest.raises(ConfigError, match="not a PEM private key"):
        run_cli(["push", "screening.set", "--key", str(write_pem(tmp_path / "x", b"x")),
                 "--site", SITE, "--all-gates"])


@pytest.mark.parametrize(("name", "extra", "message"), [
    ("screening.set", [], "push needs a target: --gate NAME or --all-gates"),
    ("screening.set", ["--gate", "*"], "use --all-gates"),
    ("screening.set", ["--gate", "g", "--args", '{"threshold_c": 50}'],
     "bad args for screening.set: threshold_c: Input should be less than or equal to 40"),
    ("screening.set", ["--gate", "g", "--args", '{"threshold_c": "37.5"}'],
     "threshold_c: Input should be a valid"),
    ("screening.set", ["--all-gates", "--args", '{"mode": "x"}'],
     "mode: Extra inputs are not permitted"),
    ("quarantine.set", ["--all-gates"],
     "unknown command 'quarantine.set'; gates implement: screening.set"),
])
def test_push_refuses_what_a_gate_would_before_signing(
    tmp_path: Path, name: str, extra: list[str], message: str
) -> None:
    """No target, an unknown name, or args the gate's schema (COMMAND_ARGS) refuses: a
    one-line ConfigError (exit 2) before the key is read or any broker is contacted."""
    with pytest.raises(ConfigError) as info:
        run_cli(["push", name, "--key", str(tmp_path / "missing.pem"), "--site", SITE,
                 "--broker", "mqtt://127.0.0.1:1", *extra])
    assert message in str(info.value) and "\n" not in str(info.value)


def test_push_needs_one_target_not_both(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as info:
        run_cli(["push", "screening.set", "--key", "k", "--site", SITE, "--gate", "g",
                 "--all-gates"])
    assert info.value.code == 2


@pytest.mark.broker
def test_push_reaches_the_gate_and_verifies(
    broker: PrivateBroker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private_path, public_path = generate_keypair(tmp_path)
    gate = f"push{random.randrange(10**9)}"
    with Subscriber(BrokerOptions(url=broker.url, connect_timeout_s=5),
                    [f"gate/{SITE}/{gate}/cmd/#", f"gate/{SITE}/cmd/#"]) as sub:
        assert sub.subscribed.wait(10)
        code = run_cli(["push", "screening.set", "--key", str(private_path), "--site", SITE,
                        "--gate", gate, "--args", '{"threshold_c": 37.5}',
                        "--broker", broker.url, "--ttl", "120"])
        assert code == 0
        got = sub.get(10)
    assert got is not None
    assert got[0] == f"gate/{SITE}/{gate}/cmd/screening.set"
    out = capsys.readouterr().out
    assert got[0] in out and "acknowledged" in out
    v = CommandVerifier(load_public_keys([public_path]), SITE, gate,
                        allowed=frozenset(COMMAND_ARGS))
    result = v.verify(*got)
    assert isinstance(result, Command)
    assert result.args == {"threshold_c": 37.5}
    assert result.expires_ns - result.issued_ns == 120 * S
