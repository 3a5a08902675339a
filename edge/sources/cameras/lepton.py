"""FLIR Lepton 3.x frames as a PureThermal board sends them in Y16 (pure numpy, no OpenCV).

Layout: 160 x 120 uint16 little-endian pixels in centikelvin (radiometric mode with TLinear on,
resolution 0.01 K). With telemetry enabled the frame is 160 x 122: two extra rows carry the
telemetry lines. PureThermal's firmware puts them after the image (footer, its default); the
Lepton can be told to put them first (header), so the location is a parameter ("auto" picks the
end whose row A looks like telemetry).

Telemetry row A (Lepton Software IDD; 80 16-bit words, the first half of the first telemetry
row; 32-bit values are sent least significant word first):
  word 0 revision, 1-2 time counter (ms since power-on), 3-4 status bits (bit 3 FFC desired,
  bits 4-5 FFC state: 0 never commanded, 1 imminent, 2 in progress, 3 complete; bit 20
  over-temperature shutdown imminent), 20-21 frame counter, 22 frame mean, 23 FPA temperature
  (counts), 24 FPA temperature (K x 100), 26 housing temperature (K x 100; Lepton 2.x, reserved
  and 0 on 3.x), 29 FPA temperature at the last FFC (K x 100), 30-31 time counter at the last
  FFC (ms).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from edge.sources.cameras.base import DeviceFrame, FrameFormatError
from edge.sources.cameras.frames import as_bytes, check_plausible_kelvin

LEPTON_WIDTH = 160
LEPTON_HEIGHT = 120
TELEMETRY_ROWS = 2
IMAGE_BYTES = LEPTON_WIDTH * LEPTON_HEIGHT * 2  # 38400
TELEMETRY_FRAME_BYTES = LEPTON_WIDTH * (LEPTON_HEIGHT + TELEMETRY_ROWS) * 2  # 39040
CENTIKELVIN_PER_K = 100.0
KELVIN_OFFSET_C = 273.15

TelemetryLocation = Literal["footer", "header", "auto"]
FFC_STATES: tuple[str, ...] = ("never", "imminent", "in progress", "complete")
# A real revision word is a small number; an image pixel in centikelvin is above 4096 unless
# the scene is colder than 41 K, so this tells a telemetry row from an image row.
_MAX_REVISION = 0x0FFF
# FPA (sensor die) temperature a working Lepton reports: -40 .. +125 degC, in K x 100.
_FPA_RANGE_CK = (23315, 39815)


@dataclass(frozen=True, slots=True)
class LeptonTelemetry:
    """Telemetry row A, decoded. Temperatures in degC; times are the camera's ms counter."""

    revision: int
    uptime_ms: int
    status_bits: int
    ffc_desired: bool
    ffc_state: str  # one of FFC_STATES
    overtemp_shutdown_imminent: bool
    frame_counter: int
    frame_mean: int
    fpa_temp_counts: int
    fpa_temp_c: float
    housing_temp_c: float | None  # None when the word is 0 (reserved on Lepton 3.x)
    fpa_temp_last_ffc_c: float | None
    last_ffc_ms: int
    since_ffc_ms: int

    @property
    def ffc_in_progress(self) -> bool:
        return self.ffc_state == "in progress"

    def to_mapping(self) -> dict[str, object]:
        out = asdict(self)
        out["ffc_in_progress"] = self.ffc_in_progress
        return out


def parse_lepton(buffer: object, telemetry: TelemetryLocation = "footer") -> DeviceFrame:
    """One Y16 frame -> DeviceFrame(data=(120, 160) uint16 centikelvin, ffc, telemetry).

    `buffer`: bytes-like, or an ndarray as OpenCV hands it out with RGB conversion off (uint16
    (120|122, 160), or uint8 raw bytes of any shape). 38400 bytes: image only; 39040 bytes:
    image + two telemetry rows at `telemetry`. ffc is True while a flat-field correction is in
    progress (the shutter is closed: the pixels do not show the scene).

    Raises FrameFormatError (a DeviceError and a ValueError) naming the size expected and got,
    a wrong dtype, telemetry rows that do not decode, or pixels that are not centikelvin.
    """
    raw = as_bytes(buffer, "Lepton Y16 frame")
    if raw.size not in (IMAGE_BYTES, TELEMETRY_FRAME_BYTES):
        raise FrameFormatError(
            f"Lepton Y16 frame: expected {IMAGE_BYTES} bytes (160x120) or "
            f"{TELEMETRY_FRAME_BYTES} bytes (160x122 with telemetry), got {raw.size}")
    words = raw.view("<u2").reshape(-1, LEPTON_WIDTH)
    if words.shape[0] == LEPTON_HEIGHT:
        image = words
        decoded = None
    else:
        image, decoded = _split_telemetry(words, telemetry)
    counts = image.astype(np.uint16, copy=True)  # native order, owning its memory
    ffc = decoded is not None and decoded.ffc_in_progress
    if not ffc:  # during FFC the pixels show the closed shutter: still centikelvin, but skip
        check_plausible_kelvin(counts, CENTIKELVIN_PER_K, "Lepton Y16 frame (centikelvin)")
    return DeviceFrame(data=counts, ffc=ffc,
                       telemetry=None if decoded is None else decoded.to_mapping())


def _split_telemetry(words: npt.NDArray[np.uint16], location: TelemetryLocation
                     ) -> tuple[npt.NDArray[np.uint16], LeptonTelemetry]:
    footer = (words[:LEPTON_HEIGHT], words[LEPTON_HEIGHT:])
    header = (words[TELEMETRY_ROWS:], words[:TELEMETRY_ROWS])
    if location == "footer":
        candidates = [footer]
    elif location == "header":
        candidates = [header]
    elif location == "auto":
        candidates = [footer, header]
    else:
        raise ValueError(f"telemetry location {location!r} is not footer, header or auto")
    problems = []
    for image, rows in candidates:
        row_a = rows[0, :80]
        problem = telemetry_problem(row_a)
        if problem is None:
            return image, parse_telemetry_row_a(row_a)
        problems.append(problem)
    raise FrameFormatError("Lepton telemetry rows (" + location + "): " + "; ".join(problems))


def telemetry_problem(row_a: npt.NDArray[np.uint16]) -> str | None:
    """Why these 80 words are not a telemetry row A, or None when they look like one."""
    if row_a.shape != (80,):
        return f"row A must be 80 words, got {row_a.shape}"
    if int(row_a[0]) > _MAX_REVISION:
        return (f"revision word {int(row_a[0]):#06x} looks like image data, not telemetry "
                "(telemetry at the other end of the frame, or off?)")
    fpa_ck = int(row_a[24])
    if not _FPA_RANGE_CK[0] <= fpa_ck <= _FPA_RANGE_CK[1]:
        return (f"FPA temperature word {fpa_ck} is outside {_FPA_RANGE_CK[0]}..{_FPA_RANGE_CK[1]}"
                " (K x 100): corrupt telemetry")
    return None


def parse_telemetry_row_a(row_a: npt.NDArray[np.uint16]) -> LeptonTelemetry:
    """Decode telemetry row A (80 native uint16 words, see the module docstring)."""
    w = [int(v) for v in row_a[:40]]  # 40 scalars, not pixels: a list is clearer than numpy

    def dword(i: int) -> int:  # least significant word first
        return w[i] | (w[i + 1] << 16)

    status = dword(3)
    uptime_ms = dword(1)
    last_ffc_ms = dword(30)
    return LeptonTelemetry(
        revision=w[0], uptime_ms=uptime_ms, status_bits=status,
        ffc_desired=bool(status & (1 << 3)), ffc_state=FFC_STATES[(status >> 4) & 0b11],
        overtemp_shutdown_imminent=bool(status & (1 << 20)),
        frame_counter=dword(20), frame_mean=w[22], fpa_temp_counts=w[23],
        fpa_temp_c=_ck_to_c(w[24]) or 0.0, housing_temp_c=_ck_to_c(w[26]),
        fpa_temp_last_ffc_c=_ck_to_c(w[29]), last_ffc_ms=last_ffc_ms,
        since_ffc_ms=max(0, uptime_ms - last_ffc_ms))


def _ck_to_c(value: int) -> float | None:
    return None if value == 0 else round(value / CENTIKELVIN_PER_K - KELVIN_OFFSET_C, 2)
