"""Lepton Y16 parser on byte layouts built to the documented format: 160x120 little-endian
centikelvin, and 160x122 with telemetry row A (Lepton Software IDD word map) at the end
(PureThermal's default) or the start."""

from __future__ import annotations

import numpy as np
import pytest

from edge.sources.cameras import DeviceError, FrameFormatError
from edge.sources.cameras.lepton import (
    FFC_STATES,
    IMAGE_BYTES,
    TELEMETRY_FRAME_BYTES,
    parse_lepton,
    parse_telemetry_row_a,
)


def _image(seed: int = 0) -> np.ndarray:
    """160x120 centikelvin: a 20..40 degC gradient plus noise, so rows differ."""
    rng = np.random.default_rng(seed)
    base = np.linspace(29315, 31315, 160 * 120).reshape(120, 160)
    return (base + rng.integers(0, 50, size=(120, 160))).astype(np.uint16)


def _row_a(*, ffc_state: int = 3, ffc_desired: bool = False, uptime_ms: int = 0x0001_2345,
           frame_counter: int = 0x0002_0007, fpa_ck: int = 30415, housing_ck: int = 0,
           last_ffc_ms: int = 0x0001_0000, revision: int = 0x000E) -> np.ndarray:
    row = np.zeros(160, np.uint16)  # row A is the first 80 words of the first telemetry row
    status = (ffc_state << 4) | (int(ffc_desired) << 3)
    row[0] = revision
    row[1], row[2] = uptime_ms & 0xFFFF, uptime_ms >> 16  # least significant word first
    row[3], row[4] = status & 0xFFFF, status >> 16
    row[20], row[21] = frame_counter & 0xFFFF, frame_counter >> 16
    row[22], row[23], row[24] = 8100, 5321, fpa_ck
    row[26] = housing_ck
    row[29] = 30215
    row[30], row[31] = last_ffc_ms & 0xFFFF, last_ffc_ms >> 16
    row[80:] = 0xBEEF  # row B: not decoded; must not leak into the image
    return row


def _frame(image: np.ndarray, row_a: np.ndarray, where: str = "footer") -> bytes:
    tele = np.stack([row_a, np.full(160, 0xCAFE, np.uint16)])
    rows = np.vstack([image, tele] if where == "footer" else [tele, image])
    return rows.astype("<u2").tobytes()  # the wire layout: little-endian words


def test_plain_frame_is_centikelvin_little_endian() -> None:
    image = _image()
    raw = image.astype("<u2").tobytes()
    assert len(raw) == IMAGE_BYTES == 38400
    frame = parse_lepton(raw)
    assert frame.data.dtype == np.uint16 and frame.data.shape == (120, 160)
    np.testing.assert_array_equal(frame.data, image)
    assert frame.ffc is False and frame.telemetry is None
    # Byte order: the first pixel's low byte comes first on the wire.
    assert raw[0] == int(image[0, 0]) & 0xFF


@pytest.mark.parametrize("shape_dtype", ["u16-2d", "u8-flat", "u8-opencv-row"])
def test_array_inputs_as_opencv_hands_them_out(shape_dtype: str) -> None:
    image = _image(1)
    raw = _frame(image, _row_a())
    arr = {"u16-2d": np.frombuffer(raw, "<u2").reshape(122, 160),
           "u8-flat": np.frombuffer(raw, np.uint8),
           "u8-opencv-row": np.frombuffer(raw, np.uint8).reshape(1, -1)}[shape_dtype]
    frame = parse_lepton(arr)
    np.testing.assert_array_equal(frame.data, image)
    assert frame.telemetry is not None and frame.telemetry["frame_counter"] == 0x0002_0007


def test_telemetry_footer_decodes_row_a() -> None:
    image = _image(2)
    raw = _frame(image, _row_a(housing_ck=30115))
    assert len(raw) == TELEMETRY_FRAME_BYTES == 39040
    frame = parse_lepton(raw)
    np.testing.assert_array_equal(frame.data, image)  # telemetry rows cut off
    tele = frame.telemetry
    assert tele is not None
    assert tele["revision"] == 0x0E
    assert tele["uptime_ms"] == 0x0001_2345
    assert tele["frame_counter"] == 0x0002_0007
    assert tele["fpa_temp_c"] == pytest.approx(304.15 - 273.15)
    assert tele["housing_temp_c"] == pytest.approx(301.15 - 273.15)
    assert tele["fpa_temp_last_ffc_c"] == pytest.approx(302.15 - 273.15)
    assert tele["ffc_state"] == "complete" and tele["ffc_in_progress"] is False
    assert tele["since_ffc_ms"] == 0x0001_2345 - 0x0001_0000
    assert frame.ffc is False


@pytest.mark.parametrize("state", [0, 1, 2, 3])
def test_ffc_state_bits_4_5(state: int) -> None:
    frame = parse_lepton(_frame(_image(), _row_a(ffc_state=state, ffc_desired=True)))
    assert frame.telemetry is not None
    assert frame.telemetry["ffc_state"] == FFC_STATES[state]
    assert frame.telemetry["ffc_desired"] is True
    assert frame.ffc is (state == 2)  # only "in progress" makes the frame unusable


def test_ffc_in_progress_frame_is_not_checked_for_scene_temperatures() -> None:
    shutter = np.full((120, 160), 100, np.uint16)  # nonsense pixels while the shutter is shut
    frame = parse_lepton(_frame(shutter, _row_a(ffc_state=2)))
    assert frame.ffc is True
    with pytest.raises(FrameFormatError, match=r"median 1\.0 K"):
        parse_lepton(_frame(shutter, _row_a(ffc_state=3)))


def test_header_location_and_auto() -> None:
    image = _image(3)
    raw = _frame(image, _row_a(ffc_state=1), where="header")
    for where in ("header", "auto"):
        frame = parse_lepton(raw, telemetry=where)  # type: ignore[arg-type]
        np.testing.assert_array_equal(frame.data, image)
        assert frame.telemetry is not None and frame.telemetry["ffc_state"] == "imminent"
    with pytest.raises(FrameFormatError, match="looks like image data"):
        parse_lepton(raw, telemetry="footer")
    footer = parse_lepton(_frame(image, _row_a()), telemetry="auto")
    np.testing.assert_array_equal(footer.data, image)


@pytest.mark.parametrize(("size", "what"), [(IMAGE_BYTES - 2, "short"),
                                            (TELEMETRY_FRAME_BYTES + 320, "oversized"),
                                            (0, "empty"), (39000, "between")])
def test_wrong_sizes_name_expected_and_got(size: int, what: str) -> None:
    with pytest.raises(FrameFormatError) as info:
        parse_lepton(bytes(size))
    message = str(info.value)
    assert "38400" in message and "39040" in message and f"got {size}" in message, what
    assert isinstance(info.value, DeviceError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.float64])
def test_wrong_dtype(dtype: type) -> None:
    with pytest.raises(FrameFormatError, match="dtype"):
        parse_lepton(_image().astype(dtype))
    with pytest.raises(FrameFormatError, match="bytes or a numpy array"):
        parse_lepton("not a frame")


def test_corrupt_telemetry_and_pixels() -> None:
    image = _image()
    with pytest.raises(FrameFormatError, match="FPA temperature word 65535"):
        parse_lepton(_frame(image, _row_a(fpa_ck=0xFFFF)))
    with pytest.raises(FrameFormatError, match="revision word"):
        parse_lepton(_frame(image, _row_a(revision=0xFFFF)))
    # Not centikelvin: TLinear at 0.1 K resolution (decikelvin), TLinear off (14-bit raw
    # counts around 8000), or an all-zero frame (the board lost sync with the Lepton).
    for pixels in (image // 10, np.full_like(image, 8000), np.zeros_like(image)):
        with pytest.raises(FrameFormatError, match="not this encoding"):
            parse_lepton(pixels.astype("<u2").tobytes())


def test_row_a_decoder_alone() -> None:
    tele = parse_telemetry_row_a(_row_a(ffc_state=2, uptime_ms=70_000, last_ffc_ms=69_500)[:80])
    assert tele.ffc_in_progress and tele.since_ffc_ms == 500 and tele.housing_temp_c is None
