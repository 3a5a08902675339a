"""What the command tests share: the test gate, a trusted key, an injectable clock."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.commands.envelope import command_topic

SITE, GATE = "s1", "north"
T0 = 1_800_000_000 * 10**9  # 2027-01-15, ns
S = 10**9
KEY = Ed25519PrivateKey.generate()
ALLOWED = frozenset({"set_mode", "quarantine.set"})


class Clock:
    def __init__(self, now_ns: int = T0) -> None:
        self.now_ns = now_ns

    def __call__(self) -> int:
        return self.now_ns


def topic(name: str = "set_mode", gate: str = GATE) -> str:
    return command_topic("gate", SITE, gate, name)


def write_pem(path: Path, data: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path
