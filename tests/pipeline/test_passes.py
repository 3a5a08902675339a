"""edge.pipeline.passes: codes read on every Nth frame, each pass verified once while it is
held up, verdicts handed to the core without the payload, and the trust chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.identity.passes.issue import issue_pass
from edge.identity.passes.keys import StaticTrust
from edge.identity.passes.verify import PassVerifier
from edge.pipeline.passes import PassReader, TrustChain
from edge.vision.qr import QrCodes

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class FakeQr:
    """Stands in for zxing-cpp: returns the same codes for every frame it is asked about."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.reads = 0

    def read(self, bgr: npt.NDArray[np.uint8]) -> QrCodes:
        self.reads += 1
        k = len(self.texts)
        boxes = np.tile(np.array([[300, 200, 60, 60]], np.float32), (k, 1))
        return QrCodes(tuple(self.texts), boxes, np.zeros((k, 4, 2), np.float32),
                       np.ones(k, bool), np.zeros(k, bool))


class CountingVerifier:
    def __init__(self, verifier: PassVerifier) -> None:
        self.inner = verifier
        self.calls = 0

    def verify(self, text: str, at: datetime):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.inner.verify(text, at)


def _pass(key: Ed25519PrivateKey, **kw: object) -> str:
    args: dict[str, object] = dict(subject="vic", kind="visitor",
                                   valid_from=NOW - timedelta(days=1),
                                   valid_to=NOW + timedelta(days=1))
    args.update(kw)
    return issue_pass(key, **args)  # type: ignore[arg-type]


def _reader(texts: list[str], trust: StaticTrust, every: int = 1,
            clock: list[float] | None = None) -> tuple[PassReader, FakeQr, CountingVerifier]:
    qr = FakeQr(texts)
    verifier = CountingVerifier(PassVerifier(TrustChain([trust]), gate="north"))
    t = clock if clock is not None else [0.0]
    return (PassReader(qr, verifier, every_n_frames=every, now=lambda: NOW,
                       monotonic_s=lambda: t[0]), qr, verifier)


FRAME = np.zeros((480, 640, 3), np.uint8)


def test_a_held_pass_is_verified_once_and_reaches_the_core_without_its_payload() -> None:
    key = Ed25519PrivateKey.generate()
    trust = StaticTrust()
    trust.add(key.public_key())
    text = _pass(key)
    reader, qr, verifier = _reader([text], trust, every=3)
    seen = [reader.sightings(FRAME) for _ in range(30)]  # 2 s at 15 fps
    assert qr.reads == 10  # every third frame
    assert verifier.calls == 1
    hits = [s for frame in seen for s in frame]
    assert len(hits) == 10
    first = hits[0]
    assert first.reading.valid and first.reading.holder == "vic"
    assert first.reading.ref.kind == "compound" and first.reading.ref.expires is not None
    assert text not in repr(first)  # only the digest travels, never the pass text
    assert first.box == (300.0, 200.0, 60.0, 60.0)


def test_a_verdict_is_checked_again_after_a_while() -> None:
    key = Ed25519PrivateKey.generate()
    trust = StaticTrust()
    trust.add(key.public_key())
    clock = [0.0]
    reader, _, verifier = _reader([_pass(key)], trust, clock=clock)
    reader.sightings(FRAME)
    clock[0] = 5.0
    reader.sightings(FRAME)
    clock[0] = 30.0
    reader.sightings(FRAME)
    assert verifier.calls == 2


def test_an_untrusted_signer_and_a_revoked_pass_are_denied_by_the_chain() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    trusted = StaticTrust()
    trusted.add(key.public_key())
    forged = _reader([_pass(other)], trusted)[0].sightings(FRAME)[0].reading
    assert not forged.valid and forged.reason == "bad_signature"
    chain = TrustChain([trusted, StaticTrust()])
    assert chain.public_key(b"\0" * 8) is None
    assert not chain.is_revoked("compound", [b"\1" * 16])
    revoking = StaticTrust(revoked=[b"\1" * 16])
    assert TrustChain([trusted, revoking]).is_revoked("compound", [b"\1" * 16])
