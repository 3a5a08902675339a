"""Pass benchmarks, run on demand; prints tables, asserts nothing.

  - verify: PassVerifier.verify per pass (whole chain: prefix, Base45, zlib, COSE, claims,
    signature, expiry, revocation) for Ed25519 (a compound pass issued here), ES256 and PS256
    (EU DCC test vectors from ../shared/data/dcc, RSA 2048 and 3072), with the decode-only
    share; median and p95 over many runs, 1 process;
  - issued QR legibility: a compound pass's QR, scaled to N pixels per module and pasted
    into a grey 640x480 frame (slight blur, as a camera sees it), decoded by zxing-cpp on the
    whole frame: the smallest module size that reads (backs the 2 mm rule in issue.py).
(QR decode time per camera frame is the QR owner's section: bench/bench_qr.py.)
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import segno
import zxingcpp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.identity.passes import codec, cose
from edge.identity.passes.issue import issue_pass
from edge.identity.passes.verify import PassVerifier
from tests.identity.passes.helpers import dcc_vectors, fixed_key, trust_for

RUNS = 2000
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _times_ms(fn: object, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - t0) * 1e3)
    return sorted(out)


def _cases() -> list[tuple[str, str, PassVerifier, datetime]]:
    text = issue_pass(fixed_key(), subject="v-0042", kind="visitor",
                      valid_from=NOW - timedelta(hours=1), valid_to=NOW + timedelta(hours=8),
                      gates=["north"], pass_id="bench-0001")
    cases = [("Ed25519 (compound)", text, PassVerifier(trust_for(), gate="north"), NOW)]
    names = {"common/CO3": "ES256 (DCC CO3)", "DE/1": "ES256 (DCC DE/1)",
             "common/CO1": "PS256 RSA-2048 (CO1)", "common/CO2": "PS256 RSA-3072 (CO2)"}
    for vector in dcc_vectors():
        if vector.name in names:
            cases.append((names[vector.name], vector.data["PREFIX"],
                          PassVerifier(vector.trust()), vector.clock))
    return cases


def verify_table() -> None:
    print(f"verify per pass ({RUNS} runs each; ms)")
    print(f"{'pass':<24}{'chars':>6}{'median':>9}{'p95':>8}{'decode':>9}{'valid':>7}")
    for name, text, verifier, at in _cases():
        assert verifier.verify(text, at).checks["signature"]
        full = _times_ms(lambda t=text, v=verifier, a=at: v.verify(t, a), RUNS)
        decode = _times_ms(lambda t=text: cose.parse_sign1(codec.inflate(
            codec.b45decode(t[4:]))), RUNS)
        print(f"{name:<24}{len(text):>6}{statistics.median(full):>9.3f}"
              f"{full[int(0.95 * RUNS)]:>8.3f}{statistics.median(decode):>9.3f}"
              f"{verifier.verify(text, at).valid!s:>7}")


def legibility_table() -> None:
    text = _cases()[0][1]
    qr = segno.make_qr(text, error="M", mode="alphanumeric", boost_error=False)
    modules = np.array(qr.matrix, dtype=np.uint8)
    symbol = np.pad(np.where(modules > 0, 0, 255).astype(np.uint8), 4, constant_values=255)
    print(f"\nissued QR (version {qr.version}, {symbol.shape[0]} modules with quiet zone) "
          "in a 640x480 frame")
    print(f"{'px/module':>10}{'size px':>9}{'decoded':>9}{'ms':>7}")
    for px in (1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 6.0):
        side = round(symbol.shape[0] * px)
        if side > 470:
            break
        scaled = cv2.resize(symbol, (side, side), interpolation=cv2.INTER_AREA)
        frame = np.full((480, 640), 128, np.uint8)
        frame[240 - side // 2: 240 - side // 2 + side, 320 - side // 2: 320 - side // 2 + side] \
            = scaled
        frame = cv2.GaussianBlur(frame, (3, 3), 0.8)
        t0 = time.perf_counter()
        found = zxingcpp.read_barcodes(frame, formats=zxingcpp.BarcodeFormats(
            zxingcpp.BarcodeFormat.QRCode))
        ms = (time.perf_counter() - t0) * 1e3
        ok = any(code.text == text for code in found)
        print(f"{px:>10.2f}{side:>9}{ok!s:>9}{ms:>7.1f}")


if __name__ == "__main__":
    verify_table()
    legibility_table()
