"""The command schema table shared by the gate's registry and `gate-edge push`."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from edge.commands.handlers import (
    COMMAND_ARGS,
    HandlerRegistry,
    ScreeningSetArgs,
    validate_args,
)


def test_push_and_the_gate_share_the_schema() -> None:
    assert COMMAND_ARGS["screening.set"] is ScreeningSetArgs
    assert validate_args("screening.set", {"threshold_c": 37.5}) == ScreeningSetArgs(
        threshold_c=37.5)
    with pytest.raises(ValueError, match="unknown command 'nope'"):
        validate_args("nope", {})
    with pytest.raises(ValueError, match=r"skin_offset_c: .* \(and 1 more\)$"):
        validate_args("screening.set", {"skin_offset_c": 9.0, "x": 1})


def test_the_registry_refuses_another_schema_for_a_known_name() -> None:
    class Loose(BaseModel):
        threshold_c: float

    registry = HandlerRegistry()
    with pytest.raises(ValueError, match="ScreeningSetArgs"):
        registry.register("screening.set", Loose, lambda _a: None)
    registry.register("screening.set", ScreeningSetArgs, lambda _a: None)
    registry.register("set_mode", Loose, lambda _a: None)  # names outside the table: tests
    assert registry.names() == {"screening.set", "set_mode"}
