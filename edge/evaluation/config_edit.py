"""Writing one calibrated value into a TOML config, as the calibration commands do: every
other line and comment is kept (tomlkit), and a config that would fail validation is never
written (the installer would only find out when the gate refuses to start)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomlkit

from edge.config import validate
from edge.errors import ConfigError


def set_config_value(config: Path, section: str, key: str, item: Any, *, create: bool) -> None:
    """Set `[section] key = item` in `config` (created when missing and `create`)."""
    try:
        if config.exists() or not create:
            doc = tomlkit.parse(config.read_text(encoding="utf-8"))
        else:
            doc = tomlkit.document()
    except (OSError, tomlkit.exceptions.TOMLKitError) as exc:
        raise ConfigError(f"{config}: cannot edit config: {exc}") from None
    table = doc.get(section)
    if table is None:
        table = tomlkit.table()
        doc[section] = table
    table[key] = item
    text = tomlkit.dumps(doc)
    validate(tomlkit.parse(text).unwrap(), str(config))  # never write a config we would refuse
    config.write_text(text, encoding="utf-8")
