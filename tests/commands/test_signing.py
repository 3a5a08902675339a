"""Timestamps, and what sign_command and CommandVerifier refuse to be built with."""

from __future__ import annotations

import json
from typing import Any

import pytest

from edge.commands.envelope import parse_iso_utc_ns
from edge.commands.verify import CommandVerifier, sign_command
from edge.errors import ConfigError
from tests.commands.envelopes import ALLOWED, GATE, KEY, SITE, T0


def test_iso_parsing() -> None:
    assert parse_iso_utc_ns("1970-01-01T00:00:00Z") == 0
    assert parse_iso_utc_ns("1970-01-01T00:00:01.5Z") == 1_500_000_000
    assert parse_iso_utc_ns("2027-01-15T08:00:00.000000001Z") == T0 + 1
    for bad in ("2027-01-15T08:00:00+00:00", "2027-02-30T00:00:00Z", "0000-01-01T00:00:00Z"):
        with pytest.raises(ValueError):
            parse_iso_utc_ns(bad)


# -- signing errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"args": {"x": float("nan")}}, "not plain JSON"),
    ({"args": {"x": object()}}, "not plain JSON"),
    ({"args": {1: "x"}}, "args.1"),
    ({"args": {"x": 10**60}}, "not plain JSON"),
    ({"name": "Bad/Name"}, "name: invalid format"),
    ({"gate": "a/b"}, "gate: invalid format"),
    ({"ttl_s": 0}, "must be > 0"),
    ({"ttl_s": 8 * 86400}, "must be > 0"),
    ({"args": {"pad": "x" * 20000}}, "gates accept at most 16384"),
    ({"args": {"d": json.loads("[" * 40 + "]" * 40)}}, "nested deeper"),
])
def test_sign_command_refuses_what_a_gate_would_reject(
    kwargs: dict[str, Any], message: str
) -> None:
    params: dict[str, Any] = {"name": "set_mode", "args": {}, "site": SITE, "gate": GATE,
                              "ttl_s": 60.0}
    params.update(kwargs)
    with pytest.raises(ConfigError, match=message):
        sign_command(KEY, params["name"], params["args"], params["site"], params["gate"],
                     params["ttl_s"])


def test_verifier_refuses_a_mislabelled_trusted_key() -> None:
    with pytest.raises(ConfigError, match="does not match its key"):
        CommandVerifier({"0" * 16: KEY.public_key()}, SITE, GATE, allowed=ALLOWED)
    with pytest.raises(ConfigError, match="not one topic level"):
        CommandVerifier({}, SITE, "a/b", allowed=ALLOWED)
