"""App fixtures: no test sees (or talks to) a NOTIFY_SOCKET of whatever runs pytest."""

from __future__ import annotations

import pytest

ENV_KEYS = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests must not see (or talk to) a NOTIFY_SOCKET of whatever runs pytest."""
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
