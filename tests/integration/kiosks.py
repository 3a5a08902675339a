"""Which config each shared kiosk recording is replayed with: one config per kiosk, because
the reference disc's true temperature is a per-device calibration value (data README)."""

from __future__ import annotations

from typing import Any

TKO8, TKO11 = "thermal-kiosk.toml", "thermal-kiosk-tko11.toml"
CONFIG = {
    "20210322-112850": TKO8,  # device 1223 "TKO8", disc 35.8 C
    "20210325-091249": TKO8,
    "fs-1220-816659": TKO8,
    "20210326-110819": TKO11,  # device 1240 "TKO11", disc 37.0 C
    "fs-1228-815109": TKO11,
    "20210326-091927": TKO8,  # device 1482: no calibration value given (overrides below)
}
# Device 1482's disc temperature is unknown: drift-only correction, as an installer would
# run it until the value is known.
OVERRIDES: dict[str, dict[str, Any]] = {
    "20210326-091927": {"thermal": {"rotate_deg": 90, "reference": {"mode": "auto"}}},
}
