"""The config's building blocks, shared by edge.config and its section modules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Strict
from pydantic_core import PydanticCustomError

LaxPath = Annotated[Path, Strict(False)]  # TOML has no path type: a string is the path


class _Section(BaseModel):
    # strict: no "5" -> 5, no true -> 1 (an int is still a float); allow_inf_nan: no nan/inf.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _cross(field: str, value: object, message: str) -> PydanticCustomError:
    """An error raised by a section's model validator that names one of its keys (`field`)
    and that key's value, instead of the whole section."""
    return PydanticCustomError("cross_field", message, {"field": field, "value": value})
