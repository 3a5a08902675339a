"""The registry of what accepted commands do, filled by the composition root.

The commands package verifies; it does not know the pipeline. `edge.app` registers one
handler per command name, each with the pydantic model of its arguments and a function
bound to the state it changes. The verifier accepts only registered names, and arguments
are validated against the model before the handler runs, on the pipeline thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.commands.lists import ListsSnapshotArgs, ListsUpdateArgs

Args = TypeVar("Args", bound=BaseModel)


class ScreeningSetArgs(BaseModel):
    """`screening.set`: change the fever threshold or the site calibration remotely."""

    model_config = ConfigDict(extra="forbid", strict=True)
    threshold_c: float | None = Field(None, ge=35.0, le=40.0)
    skin_offset_c: float | None = Field(None, ge=-5.0, le=5.0)


# The argument schema of every command a gate implements: the gate's registry (edge.app) must
# register these models for these names, and `gate-edge push` validates against them before
# signing. Imports nothing of the pipeline.
COMMAND_ARGS: Mapping[str, type[BaseModel]] = {
    "screening.set": ScreeningSetArgs,
    "lists.snapshot": ListsSnapshotArgs,
    "lists.update": ListsUpdateArgs,
}


def validate_args(name: str, args: Mapping[str, Any]) -> BaseModel:
    """`args` checked against the schema of command `name`: ValueError with a one-line
    reason when the name is unknown or the arguments fail (what a gate would refuse)."""
    model = COMMAND_ARGS.get(name)
    if model is None:
        raise ValueError(f"unknown command {name!r}; gates implement: {', '.join(COMMAND_ARGS)}")
    try:
        return model.model_validate(dict(args))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "args"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ValueError(f"bad args for {name}: {where}: {first['msg']}{more}") from None


class CommandRejected(Exception):
    """A handler refuses a valid command (e.g. a list increment that does not follow the
    gate's version); `reason` goes to the sender's `cmd_result` and the log."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Handler(Generic[Args]):
    args_model: type[Args]
    apply: Callable[[Args], None]
    # The command's arguments are settings to keep (commands.json) and apply again at start;
    # False for commands that persist their own effect (list sync: the list store).
    settings: bool = True

    def __call__(self, args: Mapping[str, Any]) -> None:
        """Validate `args` (pydantic ValidationError when bad), then apply them."""
        self.apply(self.args_model.model_validate(dict(args)))


class HandlerRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler[Any]] = {}

    def register(
        self,
        name: str,
        args_model: type[Args],
        apply: Callable[[Args], None],
        *,
        settings: bool = True,
    ) -> None:
        if name in self._handlers:
            raise ValueError(f"command {name!r} is already registered")
        if name in COMMAND_ARGS and args_model is not COMMAND_ARGS[name]:
            raise ValueError(f"command {name!r} takes {COMMAND_ARGS[name].__name__} "
                             "(COMMAND_ARGS), the schema `push` checks against")
        self._handlers[name] = Handler(args_model, apply, settings)

    def __getitem__(self, name: str) -> Handler[Any]:
        return self._handlers[name]

    def __contains__(self, name: object) -> bool:
        return name in self._handlers

    def __iter__(self) -> Iterator[str]:
        return iter(self._handlers)

    def names(self) -> frozenset[str]:
        return frozenset(self._handlers)
