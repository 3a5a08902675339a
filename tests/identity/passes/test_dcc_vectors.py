"""Conformance over every EU DCC test vector in ../shared/data/dcc (dgc-testdata).

For each EXPECTEDRESULTS key the verifier covers (helpers.EXPECTED_TO_CHECK), the verdict on
the vector's PREFIX text, with its TESTCTX certificate as the only trusted signer and its
VALIDATIONCLOCK as the time, has that check. An expected `false` is met by a check that is
false, or not reached (None) because an earlier step already failed: e.g. CBO2's "wrong CWT
structure" cannot be verified since it does not decode. An expected `true` needs true.
EXPECTEDPICTUREDECODE is checked on the vector's own 2DCODE image where it has one.
"""

from __future__ import annotations

import base64

import cv2
import numpy as np
import pytest
import zxingcpp

from edge.identity.passes.verify import PassVerifier
from tests.identity.passes.helpers import DCC_DIR, EXPECTED_TO_CHECK, Vector, dcc_vectors
from tests.shared import skip_or_fail

pytestmark = pytest.mark.shared
VECTORS = list(dcc_vectors())


def _check_matches(expected: bool, got: bool | None, verdict_valid: bool) -> bool:
    if expected:
        return got is True
    return got is False or (got is None and not verdict_valid)


def conformance(vector: Vector) -> list[tuple[str, bool, bool | None]]:
    """(key, expected, got) for every covered key of the vector whose check differs."""
    verdict = PassVerifier(vector.trust()).verify(vector.data["PREFIX"], vector.clock)
    return [(key, expected, verdict.checks[EXPECTED_TO_CHECK[key]])
            for key, expected in vector.data["EXPECTEDRESULTS"].items()
            if key in EXPECTED_TO_CHECK
            and not _check_matches(expected, verdict.checks[EXPECTED_TO_CHECK[key]],
                                   verdict.valid)]


def test_the_vectors_are_there() -> None:
    if not DCC_DIR.is_dir():
        skip_or_fail(f"DCC test vectors not found at {DCC_DIR}")
    assert len(VECTORS) >= 100
    covered = sum(k in EXPECTED_TO_CHECK for v in VECTORS for k in v.data["EXPECTEDRESULTS"])
    assert covered >= 400


@pytest.mark.parametrize("vector", VECTORS, ids=[v.name for v in VECTORS])
def test_vector_checks_match_expected_results(vector: Vector) -> None:
    assert conformance(vector) == []


def _picture_text(vector: Vector) -> str | None:
    png = np.frombuffer(base64.b64decode(vector.data["2DCODE"]), np.uint8)
    image = cv2.imdecode(png, cv2.IMREAD_GRAYSCALE)
    if image is None:
        return None
    codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormats(
        zxingcpp.BarcodeFormat.QRCode))
    return str(codes[0].text) if codes else None


PICTURES = [v for v in VECTORS
            if "EXPECTEDPICTUREDECODE" in v.data["EXPECTEDRESULTS"] and v.data.get("2DCODE")]


@pytest.mark.parametrize("vector", PICTURES, ids=[v.name for v in PICTURES])
def test_embedded_picture_decodes_to_the_prefix_text(vector: Vector) -> None:
    """dgc-testdata test 1: the 2DCODE picture decodes and equals PREFIX."""
    expected = vector.data["EXPECTEDRESULTS"]["EXPECTEDPICTUREDECODE"]
    assert (_picture_text(vector) == vector.data["PREFIX"]) is expected


def test_conformance_counts_for_the_readme(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints the counts the README quotes (run with -s to see them)."""
    if not VECTORS:
        skip_or_fail(f"DCC test vectors not found at {DCC_DIR}")
    total = failed = 0
    for vector in VECTORS:
        total += sum(k in EXPECTED_TO_CHECK for k in vector.data["EXPECTEDRESULTS"])
        failed += len(conformance(vector))
    with capsys.disabled():
        print(f"\nDCC conformance: {len(VECTORS)} vectors, {total - failed}/{total} checks")
    assert failed == 0
