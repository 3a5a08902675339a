"""Where the reference was found, for installers (`gate-edge check --reference`): the front
end run over a recording's first frames, described in raw sensor pixels, and the upright
frame colour-mapped with the reference marked."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge.core.types import Frame, ThermalFrame
from edge.thermal.front import ReferencePlace, ThermalFrontEnd
from edge.thermal.radiometry import ReferenceState

SURVEY_FRAMES = 30  # ~3.5 s at 8.7 Hz: a lock needs a 9-frame window, then it is checked
IMAGE_SCALE = 4  # a 120x160 upright Lepton frame becomes 480x640
_DISC_BGR = (255, 255, 0)  # cyan circle and cross: the disc found
_ROI_BGR = (0, 160, 0)  # green square: the pixels read
_SUBPX = 4  # cv2 drawing: 4 fractional bits


@dataclass(frozen=True, slots=True)
class ReferenceSurvey:
    """The front end after `frames` frames: where the reference is, its state, and the last
    upright degC frame (None when there was no frame)."""

    frames: int
    place: ReferencePlace | None
    state: ReferenceState | None
    temp_c: npt.NDArray[np.float32] | None

    @property
    def passed(self) -> bool:
        """The reference is ok, or none is configured (nothing to find)."""
        return self.state is not None and (
            self.state.ok or self.state.reason == "no reference configured")


def survey_reference(
    front: ThermalFrontEnd, frames: Iterable[Frame], limit: int = SURVEY_FRAMES
) -> ReferenceSurvey:
    """Run the front end over the first `limit` thermal frames (RGB frames are skipped)."""
    n, temp_c, state = 0, None, None
    for frame in frames:
        if n >= limit:
            break
        if isinstance(frame, ThermalFrame):
            temp_c, state = front.convert(frame.counts)
            n += 1
    return ReferenceSurvey(n, front.place, state, temp_c)


def _roi(roi: tuple[int, int, int, int]) -> str:
    return "[" + ", ".join(str(v) for v in roi) + "]"


def describe(survey: ReferenceSurvey) -> list[str]:
    """Lines for the terminal: where (raw sensor pixels first), then the state."""
    place, state = survey.place, survey.state
    if state is None:
        return ["reference: the recording has no thermal frame"]
    if place is None:
        where = ("none configured (thermal.reference.mode = \"off\")"
                 if state.reason == "no reference configured"
                 else f"not found in the first {survey.frames} frames")
        return [f"reference: {where}", f"reference state: {state.reason}"]
    rois = f"ROI raw {_roi(place.roi_raw)} (upright {_roi(place.roi)})"
    if place.source == "located" and place.centre_raw is not None:
        x, y = place.centre_raw
        where = (f"disc located at raw sensor x {x:.1f}, y {y:.1f}, radius "
                 f"{place.radius_px or 0.0:.1f} px (locked on frame {place.frame} of "
                 f"{survey.frames}); {rois}")
    elif place.source == "pinned":
        where = f"pinned ROI (thermal.reference.roi); {rois}"
    else:
        where = f"the recording's own reference; {rois}"
    reading = "no reading" if state.reading_c is None else f"reading {state.reading_c:.2f} C"
    detail = f" ({state.detail})" if state.detail and not state.ok else ""
    return [f"reference: {where}",
            f"reference state: {state.reason}{detail}, {reading}, offset {state.offset_c:+.2f} C"]


def _colour_mapped(temp_c: npt.NDArray[np.float32], scale: int) -> npt.NDArray[np.uint8]:
    lo, hi = (float(v) for v in np.percentile(temp_c, (1.0, 99.5)))
    norm = np.clip((temp_c - lo) / max(hi - lo, 1e-3), 0.0, 1.0)
    bgr = cv2.applyColorMap((norm * 255.0).astype(np.uint8), cv2.COLORMAP_INFERNO)
    return np.asarray(cv2.resize(bgr, None, fx=scale, fy=scale,
                                 interpolation=cv2.INTER_NEAREST), np.uint8)


def _fixed(v: float, scale: int) -> int:
    """An upright pixel coordinate (pixel centres at integers) in the scaled image, with
    _SUBPX fractional bits."""
    return round(((v + 0.5) * scale - 0.5) * (1 << _SUBPX))


def mark_reference(survey: ReferenceSurvey, scale: int = IMAGE_SCALE) -> npt.NDArray[np.uint8]:
    """The last upright frame, colour-mapped (inferno, 1-99.5 percentile), scaled up, with
    the located disc's circle and centre, the ROI read, and the state written on it."""
    if survey.temp_c is None:
        raise ValueError("no frame to draw")
    img = _colour_mapped(survey.temp_c, scale)
    place = survey.place
    if place is not None:
        x, y, w, h = place.roi
        cv2.rectangle(img, (x * scale, y * scale), ((x + w) * scale - 1, (y + h) * scale - 1),
                      _ROI_BGR, 1)
        if place.centre is not None and place.radius_px is not None:
            centre = (_fixed(place.centre[0], scale), _fixed(place.centre[1], scale))
            radius = round(place.radius_px * scale * (1 << _SUBPX))
            cv2.circle(img, centre, radius, _DISC_BGR, 1, cv2.LINE_8, _SUBPX)
            cv2.drawMarker(img, (centre[0] >> _SUBPX, centre[1] >> _SUBPX), _DISC_BGR,
                           cv2.MARKER_CROSS, 2 * scale, 1)
    state = survey.state
    label = "no frame" if state is None else state.reason
    if state is not None and state.reading_c is not None:
        label += f" {state.reading_c:.2f} C"
    cv2.putText(img, f"reference: {label}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                (255, 255, 255), 1, cv2.LINE_AA)
    return img


def reference_png(survey: ReferenceSurvey, scale: int = IMAGE_SCALE) -> bytes:
    """`mark_reference` encoded as PNG."""
    ok, buf = cv2.imencode(".png", mark_reference(survey, scale))
    if not ok:
        raise ValueError("PNG encoding failed")
    return bytes(np.asarray(buf, np.uint8).tobytes())
