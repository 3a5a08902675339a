"""Shared pieces of the pass tests: a pass key, issuing at a fixed clock, the DCC vectors."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.identity.passes.issue import issue_pass
from edge.identity.passes.keys import StaticTrust
from tests.shared import SHARED_DATA

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DCC_DIR = SHARED_DATA / "dcc"
# EXPECTEDRESULTS key -> the verdict's check (dgc-testdata README, "Code Validation").
EXPECTED_TO_CHECK = {
    "EXPECTEDUNPREFIX": "prefix", "EXPECTEDB45DECODE": "base45",
    "EXPECTEDCOMPRESSION": "zlib", "EXPECTEDVERIFY": "signature",
    "EXPECTEDEXPIRATIONCHECK": "expiry", "EXPECTEDDECODE": "decode",
}


def fixed_key(seed: int = 1) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)


def compound(key: Ed25519PrivateKey | None = None, **overrides: Any) -> str:
    """A compound pass valid around NOW (08:00..18:00) at gates north, south."""
    args: dict[str, Any] = {
        "subject": "v-0042", "kind": "visitor", "valid_from": NOW - timedelta(hours=4),
        "valid_to": NOW + timedelta(hours=6), "gates": ["north", "south"],
        "pass_id": "pass-0001", "issued_at": NOW - timedelta(days=1),
    }
    args.update(overrides)
    return issue_pass(key or fixed_key(), **args)


def trust_for(key: Ed25519PrivateKey | None = None, revoked: tuple[bytes, ...] = ()
              ) -> StaticTrust:
    trust = StaticTrust(revoked=revoked)
    trust.add((key or fixed_key()).public_key())
    return trust


@dataclass(frozen=True)
class Vector:
    name: str  # e.g. common/CO3
    data: dict[str, Any]

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(base64.b64decode(self.data["TESTCTX"]["CERTIFICATE"]))

    @property
    def clock(self) -> datetime:
        text = self.data["TESTCTX"]["VALIDATIONCLOCK"].replace("Z", "+00:00")
        if text[-5] in "+-" and text[-3] != ":":  # "+0200" -> "+02:00"
            text = text[:-2] + ":" + text[-2:]
        return datetime.fromisoformat(text)

    def trust(self) -> StaticTrust:
        trust = StaticTrust()
        trust.add(self.certificate)
        return trust


def dcc_vectors() -> Iterator[Vector]:
    for path in sorted(DCC_DIR.glob("*/2DCode/raw/*.json")):
        rel = path.relative_to(DCC_DIR)
        yield Vector(f"{rel.parts[0]}/{path.stem}", json.loads(path.read_text("utf-8")))


def png_for(vector_name: str) -> Path | None:
    """The QR image of a vector in its country's png folder, if there is one."""
    country, stem = vector_name.split("/")
    stem = stem.removesuffix("_Raw")
    for folder in (DCC_DIR / country / "png", DCC_DIR / country / "2DCode" / "png"):
        for candidate in (stem, stem.replace("_", "-", 1)):
            if (folder / f"{candidate}.png").is_file():
                return folder / f"{candidate}.png"
    return None
