"""`gate-edge models`: verify, fetch, bundle, install, and the help texts.

The cached models come from `make models` (run by `make test` before pytest). Without a
cache the tests that need it skip (and fail under CI=true).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from edge.cli.models import add_model_commands

# ---------------------------------------------------------------------------- command line


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gate-edge")
    sub = parser.add_subparsers(dest="command", required=True)
    add_model_commands(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_cli_verify_fetch_bundle_install(
    cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(["models", "verify", "--dir", str(tmp_path / "empty")]) == 1
    out = capsys.readouterr().out
    assert "onet                   missing" in out and "models: NOT ok" in out
    assert _cli(["models", "--dir", str(cache), "verify"]) == 0  # --dir before the action
    assert "models: ok" in capsys.readouterr().out
    assert _cli(["models", "--dir", str(cache)]) == 0  # bare = fetch: nothing to download
    assert "onet: ok (cached, sha256 verified)" in capsys.readouterr().out
    bundle = tmp_path / "b.tar.gz"
    assert _cli(["models", "bundle", str(bundle), "--dir", str(cache)]) == 0
    assert _cli(["models", "install", str(bundle), "--dir", str(tmp_path / "gate")]) == 0
    assert "verified and installed" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["models"], ["models", "fetch"], ["models", "bundle"],
                                  ["models", "install"], ["models", "verify"]])
def test_cli_help_has_an_example(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        _cli([*argv, "--help"])
    assert done.value.code == 0
    assert "example:\n  gate-edge models" in capsys.readouterr().out
