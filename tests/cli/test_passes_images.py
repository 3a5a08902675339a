"""`pass verify --image` on every PNG in ../shared/data/dcc gives the verdict of the payload
text (QR decoding through zxing-cpp on the whole image); prints decode rate and ms/image."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from edge.cli.passes import decode_qr_image, verify_image
from edge.identity.passes.keys import StaticTrust
from edge.identity.passes.verify import PassVerifier
from tests.identity.passes.helpers import DCC_DIR, NOW, dcc_vectors, png_for
from tests.shared import skip_or_fail

pytestmark = pytest.mark.shared
VECTORS = {str(p): v for v in dcc_vectors() if (p := png_for(v.name)) is not None}
PNGS = sorted(DCC_DIR.glob("**/*.png")) if DCC_DIR.is_dir() else []


@pytest.mark.parametrize("png", PNGS, ids=[str(p.relative_to(DCC_DIR)) for p in PNGS])
def test_image_verdict_is_the_text_verdict(png: Path) -> None:
    vector = VECTORS.get(str(png))
    if vector is None:  # an image without a raw vector (IT/png/1.png): it must decode to a DCC
        texts = decode_qr_image(png)
        assert len(texts) == 1 and texts[0].startswith("HC1:")
        return
    verifier = PassVerifier(vector.trust())
    from_image = verify_image(verifier, png, vector.clock)
    assert from_image["checks"].pop("qr") is True
    assert from_image == verifier.verify(vector.data["PREFIX"], vector.clock).to_json()


def test_decode_rate_and_time(capsys: pytest.CaptureFixture[str]) -> None:
    if not PNGS:
        skip_or_fail(f"no QR images under {DCC_DIR}")
    verifier = PassVerifier(StaticTrust())
    decoded, t0 = 0, time.perf_counter()
    for png in PNGS:
        decoded += bool(decode_qr_image(png))
    per_ms = 1000 * (time.perf_counter() - t0) / len(PNGS)
    t0 = time.perf_counter()
    for png in PNGS:
        verify_image(verifier, png, NOW)
    full_ms = 1000 * (time.perf_counter() - t0) / len(PNGS)
    with capsys.disabled():
        print(f"\nDCC PNGs: {decoded}/{len(PNGS)} decoded, {per_ms:.1f} ms/image decode "
              f"(read + zxing-cpp), {full_ms:.1f} ms/image decode + verify")
    assert decoded == len(PNGS)
