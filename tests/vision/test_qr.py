"""QrReader on synthetic 640x480 frames (tests/vision/qr_scenes.py): the case table with bounds
(tests/vision/qr_cases.py), positions in full-frame pixels with ROI and downscaling, payload
kinds, and frames that are not images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import segno
import zxingcpp

from edge.vision.qr import QrCodes, QrReader, read_image_file
from tests.vision.qr_cases import CASES, SEEDS, Case
from tests.vision.qr_scenes import (
    COMPOUND_TEXT,
    DCC_TEXT,
    FRAME_H,
    FRAME_W,
    Placement,
    background,
    render,
    symbol_corners,
)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_table_decodes_within_bounds(case: Case) -> None:
    reader = QrReader()
    results = [reader.read(frame) for frame in case.frames()]
    decoded = sum(case.text in r.decoded().texts for r in results)
    assert case.lo <= decoded <= case.hi, f"{case.name}: {decoded}/{SEEDS} decoded"
    for r in results:  # never a wrong payload, whatever was decoded
        assert set(r.decoded().texts) <= {case.text}


def _close(got: np.ndarray, want: np.ndarray, tol_px: float) -> bool:
    return bool(np.abs(got - want).max() <= tol_px)


@pytest.mark.parametrize(("roll", "tilt"), [(0, 0), (30, 0), (-30, 0), (0, 35), (160, 20)])
def test_corners_are_the_symbol_corners_in_frame_pixels(roll: float, tilt: float) -> None:
    p = Placement(DCC_TEXT, (300.3, 250.7), 3.0, roll, tilt)
    codes = QrReader().read(render([p]))
    assert codes.texts == (DCC_TEXT,) and codes.valid.tolist() == [True]
    assert codes.corners.dtype == np.float32 and codes.corners.shape == (1, 4, 2)
    # The symbol's own corner order (TL, TR, BR, BL), within a module and a half.
    assert _close(codes.corners[0], symbol_corners(p), 4.5)
    x, y, w, h = codes.boxes[0]
    assert codes.boxes.dtype == np.float32
    assert (x, y) == tuple(codes.corners[0].min(axis=0))
    assert (x + w, y + h) == tuple(codes.corners[0].max(axis=0))


def test_two_codes_in_one_frame_both_decode_where_they_are() -> None:
    left = Placement(COMPOUND_TEXT, (170, 240), 3.0, roll_deg=10)
    right = Placement(DCC_TEXT, (470, 250), 3.0, tilt_deg=-25)
    codes = QrReader().read(render([left, right]))
    assert sorted(codes.texts) == sorted([COMPOUND_TEXT, DCC_TEXT])
    for p in (left, right):
        i = codes.texts.index(p.text)
        assert _close(codes.corners[i], symbol_corners(p), 4.5)


def test_roi_gives_full_frame_coordinates_and_hides_codes_outside() -> None:
    p = Placement(DCC_TEXT, (420.4, 260.2), 3.0, roll_deg=12)
    frame = render([p])
    whole = QrReader().read(frame)
    inside = QrReader(roi=(250, 100, 340, 330)).read(frame)
    assert inside.texts == whole.texts == (DCC_TEXT,)
    assert _close(inside.corners, whole.corners, 1.0)
    assert len(QrReader(roi=(0, 0, 200, 480)).read(frame)) == 0
    clipped = QrReader(roi=(250, 100, 5000, 5000)).read(frame)  # clipped to the frame
    assert clipped.texts == (DCC_TEXT,)
    with pytest.raises(ValueError, match="outside the 640x480 frame"):
        QrReader(roi=(700, 0, 10, 10)).read(frame)


def test_downscaling_maps_back_and_loses_small_codes() -> None:
    big = Placement(COMPOUND_TEXT, (320.6, 240.3), 5.0, roll_deg=8)
    small = Placement(COMPOUND_TEXT, (320.6, 240.3), 2.5, roll_deg=8)
    half = QrReader(max_side_px=320)
    codes = half.read(render([big]))
    assert codes.texts == (COMPOUND_TEXT,)
    assert _close(codes.corners[0], symbol_corners(big), 2 * 5.0)
    assert half.read(render([small])).texts == ()  # 1.25 px a module after halving
    assert QrReader().read(render([small])).texts == (COMPOUND_TEXT,)
    assert QrReader(max_side_px=640).read(render([small])).texts == (COMPOUND_TEXT,)  # no-op


def test_no_code_no_result_on_clutter_and_noise() -> None:
    reader = QrReader(include_errors=True)
    rng = np.random.default_rng(3)
    frames = [background(s) for s in range(10)]
    frames += [rng.integers(0, 256, (FRAME_H, FRAME_W, 3), dtype=np.uint8) for _ in range(5)]
    frames += [np.zeros((FRAME_H, FRAME_W, 3), np.uint8), np.full((FRAME_H, FRAME_W, 3), 255,
                                                                   np.uint8)]
    for frame in frames:
        codes = reader.read(frame)
        assert len(codes) == 0 and codes.boxes.shape == (0, 4)
        assert codes.corners.shape == (0, 4, 2) and codes.valid.shape == (0,)


def test_covered_code_is_no_decode_and_never_raises() -> None:
    p = Placement(DCC_TEXT, module_px=3.0)
    frame = render([p], cover=(0, 0, 0.3, 1))
    for reader in (QrReader(), QrReader(include_errors=True), QrReader(max_side_px=320)):
        codes = reader.read(frame)
        assert codes.decoded().texts == ()
        assert all(t == "" for t, ok in zip(codes.texts, codes.valid, strict=True) if not ok)


def _code_frame(data: str | bytes, mode: str | None = None) -> np.ndarray:
    code = segno.make(data, mode=mode, micro=False)
    grey = np.array(code.matrix, dtype=np.uint8)
    grey = np.pad(np.where(grey == 1, 0, 255).astype(np.uint8), 4, constant_values=255)
    grey = cv2.resize(grey, None, fx=4, fy=4, interpolation=cv2.INTER_NEAREST)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def test_binary_payload_is_flagged_and_lossless_latin1() -> None:
    payload = bytes(range(256))[::5] + b"\x00\xff\x80"
    codes = QrReader().read(_code_frame(payload, mode="byte"))
    assert codes.binary.tolist() == [True]
    assert codes.texts[0].encode("latin-1") == payload


def test_text_payloads_byte_mode_ascii_and_unicode() -> None:
    ascii_pass = "HC1:NCFU A4C86WQ:20%612N3"
    codes = QrReader().read(_code_frame(ascii_pass, mode="byte"))
    assert codes.texts == (ascii_pass,) and codes.binary.tolist() == [False]
    assert QrReader().read(_code_frame("Grüße ✓")).texts == ("Grüße ✓",)


def test_micro_qr_is_not_read() -> None:
    micro = segno.make("GE1:12", micro=True)
    assert micro.is_micro
    grey = np.pad(np.where(np.array(micro.matrix) == 1, 0, 255).astype(np.uint8), 2,
                  constant_values=255)
    grey = cv2.resize(grey, None, fx=6, fy=6, interpolation=cv2.INTER_NEAREST)
    assert [b.text for b in zxingcpp.read_barcodes(grey)] == ["GE1:12"]  # readable: it is ours
    assert len(QrReader().read(grey)) == 0  # that skips


def test_frame_layouts_grey_bgra_and_views() -> None:
    frame = render([Placement(COMPOUND_TEXT, module_px=3.0)])
    reader = QrReader()
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    for f in (grey, grey[:, :, None], cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA), frame[10:470],
              np.asfortranarray(frame)):
        assert reader.read(f).texts == (COMPOUND_TEXT,)
    assert len(reader.read(np.zeros((1, 1, 3), np.uint8))) == 0
    assert len(reader.read(np.zeros((3, 700), np.uint8))) == 0


@pytest.mark.parametrize(("frame", "message"), [
    (np.zeros((0, 0, 3), np.uint8), r"\(0, 0, 3\)"),
    (np.zeros((480, 0, 3), np.uint8), r"\(480, 0, 3\)"),
    (np.zeros((480, 640, 2), np.uint8), r"\(480, 640, 2\)"),
    (np.zeros((640,), np.uint8), r"\(640,\)"),
    (np.zeros((2, 480, 640, 3), np.uint8), r"\(2, 480, 640, 3\)"),
    (np.zeros((480, 640, 3), np.float32), "float32"),
    (np.zeros((480, 640, 3), np.uint16), "uint16"),
    ([[0, 1], [1, 0]], "list"),
    (None, "NoneType"),
])
def test_bad_frames_are_a_value_error_naming_the_shape(frame: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        QrReader().read(frame)  # type: ignore[arg-type]


@pytest.mark.parametrize("roi", [(0, 0, 0, 10), (-1, 0, 10, 10), (0, 0, 10), (0.5, 0, 10, 10)])
def test_bad_roi_is_a_value_error(roi: object) -> None:
    with pytest.raises(ValueError, match="roi"):
        QrReader(roi=roi)  # type: ignore[arg-type]


def test_bad_max_side_is_a_value_error() -> None:
    for bad in (0, 16, 320.0):
        with pytest.raises(ValueError, match="max_side_px"):
            QrReader(max_side_px=bad)  # type: ignore[arg-type]


def test_empty_codes_and_decoded_filter() -> None:
    empty = QrCodes.empty()
    assert len(empty) == 0 and len(empty.decoded()) == 0
    mixed = QrCodes(("a", ""), np.zeros((2, 4), np.float32), np.zeros((2, 4, 2), np.float32),
                    np.array([True, False]), np.array([False, False]))
    assert mixed.decoded().texts == ("a",) and mixed.decoded().boxes.shape == (1, 4)


def _module_mask(text: str, module_px: int = 5) -> np.ndarray:
    dark = np.pad(np.array(segno.make(text, micro=False).matrix, dtype=bool), 4)
    return np.kron(dark, np.ones((module_px, module_px), dtype=bool))


def test_image_file_transparency_goes_over_white(tmp_path: Path) -> None:
    dark = _module_mask("GE1:TRANSPARENT")
    rgba = np.zeros((*dark.shape, 4), np.uint8)  # light modules: transparent black
    rgba[..., 3] = np.where(dark, 255, 0)
    path = tmp_path / "clear.png"
    cv2.imwrite(str(path), rgba)
    assert QrReader().read(cv2.imread(str(path))).texts == ()  # alpha dropped: all black
    assert QrReader().read(read_image_file(path)).texts == ("GE1:TRANSPARENT",)
    deep = tmp_path / "deep.png"
    cv2.imwrite(str(deep), np.where(dark, 0, 65535).astype(np.uint16))
    image = read_image_file(deep)
    assert image.dtype == np.uint8 and image.shape == (*dark.shape, 3)
    assert QrReader().read(image).texts == ("GE1:TRANSPARENT",)


def test_image_file_that_is_not_an_image_is_a_value_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a png")
    for path in (junk, tmp_path / "missing.png"):
        with pytest.raises(ValueError, match=str(path.name)):
            read_image_file(path)


def test_include_errors_reports_located_but_unreadable_codes() -> None:
    frame = render([Placement(DCC_TEXT, (320.2, 240.4), 1.2)])  # found, too small to read
    located = QrReader(include_errors=True).read(frame)
    assert len(located) >= 1 and not located.valid.any()
    assert set(located.texts) == {""} and len(located.decoded()) == 0
    x, y, w, h = located.boxes[0]
    assert abs(x + w / 2 - 320) < 20 and abs(y + h / 2 - 240) < 20
    assert len(QrReader().read(frame)) == 0
