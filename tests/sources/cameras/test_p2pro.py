"""P2 Pro / TC001 parser on the documented 256x384 YUYV layout: the top half a YUYV image,
the bottom half the raw thermal frame as little-endian uint16 (kelvin = raw / 64)."""

from __future__ import annotations

import numpy as np
import pytest

from edge.core.types import ThermalStreamMeta
from edge.sources.cameras import FrameFormatError
from edge.sources.cameras.p2pro import FRAME_BYTES, HALF_BYTES, image_half, parse_p2pro
from edge.thermal.radiometry import counts_to_c_lut


def _thermal(temp_c: float = 36.5) -> np.ndarray:
    rng = np.random.default_rng(0)
    kelvin = temp_c + 273.15 + rng.normal(0, 0.2, size=(192, 256))
    kelvin[:, :128] -= 15.0  # left half a cooler background
    return np.round(kelvin * 64).astype(np.uint16)


def _frame(thermal: np.ndarray) -> bytes:
    yuyv = np.zeros((192, 256, 2), np.uint8)
    yuyv[..., 0] = 200  # Y: a bright image, so a split at the wrong row would show
    yuyv[..., 1] = 128  # U/V: neutral
    return yuyv.tobytes() + thermal.astype("<u2").tobytes()


def test_split_returns_the_bottom_half_as_uint16() -> None:
    thermal = _thermal()
    raw = _frame(thermal)
    assert len(raw) == FRAME_BYTES == 256 * 384 * 2
    frame = parse_p2pro(raw)
    assert frame.data.dtype == np.uint16 and frame.data.shape == (192, 256)
    np.testing.assert_array_equal(frame.data, thermal)
    assert frame.ffc is False and frame.telemetry is None
    # The existing p2pro encoding turns the counts into the temperature we built.
    lut = counts_to_c_lut(ThermalStreamMeta(width=256, height=192, encoding="p2pro"))
    assert float(np.median(lut[frame.data][:, 128:])) == pytest.approx(36.5, abs=0.05)


@pytest.mark.parametrize("shape", [(384, 256, 2), (1, FRAME_BYTES), (FRAME_BYTES,)])
def test_opencv_shapes(shape: tuple[int, ...]) -> None:
    thermal = _thermal(20.0)
    arr = np.frombuffer(_frame(thermal), np.uint8).reshape(shape)
    np.testing.assert_array_equal(parse_p2pro(arr).data, thermal)
    assert image_half(np.frombuffer(_frame(thermal), np.uint8))[0, 0].tolist() == [200, 128]


@pytest.mark.parametrize("size", [0, FRAME_BYTES - 1, FRAME_BYTES + 512, 256 * 392 * 2])
def test_wrong_sizes_name_expected_and_got(size: int) -> None:
    with pytest.raises(FrameFormatError, match=f"expected {FRAME_BYTES} bytes.*got {size}$"):
        parse_p2pro(bytes(size))


def test_image_only_mode_is_named() -> None:
    with pytest.raises(FrameFormatError, match="image-only 256x192 mode"):
        parse_p2pro(bytes(HALF_BYTES))


@pytest.mark.parametrize("dtype", [np.uint16, np.float32, np.int16])
def test_wrong_dtype(dtype: type) -> None:
    with pytest.raises(FrameFormatError, match="dtype"):
        parse_p2pro(np.zeros((384, 256), dtype))


def test_corrupt_bottom_half() -> None:
    thermal = _thermal()
    with pytest.raises(FrameFormatError, match="not this encoding"):
        parse_p2pro(_frame(np.zeros_like(thermal)))  # the camera sent no thermal data
    with pytest.raises(FrameFormatError, match="not this encoding"):
        parse_p2pro(_frame(np.full_like(thermal, 0xFFFF)))  # saturated / stuck bus
    # A byte-swapped frame can still look plausible (36.5 degC swapped reads as 108 degC):
    # the check catches gross corruption only; FrameGuard and the reference catch the rest.
    assert parse_p2pro(_frame(thermal.byteswap())).data.shape == (192, 256)
