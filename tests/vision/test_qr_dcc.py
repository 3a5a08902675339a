"""QrReader on the real DCC test-vector QR images (../shared/data/dcc): decode rate and exact
payloads, with the margins below what bench/bench_qr.py measured (69/69 PNG files decoded,
68/68 with a raw JSON match its PREFIX; 48/48 loadable 2DCODE images match; 2026-12)."""

from __future__ import annotations

import pytest

from edge.vision.qr import QrReader
from tests.shared import shared_data_dir, skip_or_fail
from tests.vision.qr_dcc_data import DccImage, embedded_pngs, png_files

pytestmark = pytest.mark.shared
MARGIN = 2  # images a future zxing-cpp may lose before this fails


def _images(kind: str) -> list[DccImage]:
    dcc = shared_data_dir("dcc")
    images = png_files(dcc) if kind == "png" else embedded_pngs(dcc)
    if not images:
        skip_or_fail(f"no DCC QR images ({kind}) under {dcc}")
    return images


def _texts(image: DccImage) -> tuple[str, ...]:
    assert image.bgr is not None
    return QrReader().read(image.bgr).decoded().texts


def test_png_files_decode_to_their_prefix() -> None:
    images = _images("png")
    assert len(images) >= 65
    decoded = [image for image in images if image.bgr is not None and _texts(image)]
    assert len(decoded) >= len(images) - MARGIN
    with_truth = [image for image in images if image.truth is not None]
    exact = [image for image in with_truth if image.truth in _texts(image)]
    assert len(with_truth) >= 60 and len(exact) >= len(with_truth) - MARGIN


def test_embedded_2dcode_images_decode_to_their_prefix() -> None:
    images = _images("2dcode")
    expected = [i for i in images if i.expect_decode is not False and i.bgr is not None]
    exact = [image for image in expected if image.truth in _texts(image)]
    assert len(expected) >= 45 and len(exact) >= len(expected) - MARGIN


def test_no_decoded_payload_differs_from_the_truth() -> None:
    # A QR reader that returns a wrong payload is worse than one that returns none.
    for image in _images("png") + _images("2dcode"):
        if image.bgr is not None and image.truth is not None:
            assert set(_texts(image)) <= {image.truth}, image.name


def test_pictures_marked_undecodable_are_not_decoded() -> None:
    refused = [i for i in _images("2dcode") if i.expect_decode is False]
    for image in refused:
        assert image.bgr is None or _texts(image) == (), image.name
