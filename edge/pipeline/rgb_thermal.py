"""RGB + thermal mode: faces and landmarks from the colour camera, temperature at the inner
eye corners in the thermal frame, through the RGB -> thermal homography.

Frames arrive merged by time. A thermal frame is converted (and the reference followed)
when it arrives; each RGB frame is measured against the latest thermal frame if it is at
most `max_pair_ms` older, so both cameras see the same moment.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from edge.config import Settings
from edge.core.evidence import Evidence
from edge.core.types import Decision, Frame, RecordingMeta, RgbFrame, ThermalFrame
from edge.errors import ConfigError
from edge.pipeline.thermal import FrameReport
from edge.thermal.canthus import CanthusSampler
from edge.thermal.front import ThermalFrontEnd
from edge.thermal.heads import Roi
from edge.thermal.radiometry import ReferenceState
from edge.vision.geometry import inner_canthi, map_points
from edge.vision.types import Faces


class FaceFinder(Protocol):
    def analyze(self, bgr: npt.NDArray[np.uint8]) -> Faces: ...


def upright_matrix(rotate_deg: int, raw_hw: tuple[int, int]) -> npt.NDArray[np.float64]:
    """3x3 map from raw thermal pixels to the upright (clockwise-rotated) frame."""
    h, w = raw_hw
    return {
        0: np.eye(3),
        90: np.array([[0.0, -1.0, h - 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
        180: np.array([[-1.0, 0.0, w - 1.0], [0.0, -1.0, h - 1.0], [0.0, 0.0, 1.0]]),
        270: np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, w - 1.0], [0.0, 0.0, 1.0]]),
    }[rotate_deg]


def homography_for(settings: Settings, meta: RecordingMeta) -> npt.NDArray[np.float64]:
    if settings.registration.rgb_to_thermal is not None:
        return np.asarray(settings.registration.rgb_to_thermal, dtype=np.float64)
    if meta.rgb_to_thermal is not None:
        return np.asarray(meta.rgb_to_thermal, dtype=np.float64)
    raise ConfigError(
        "registration.rgb_to_thermal: required for RGB + thermal mode (the recording has "
        "none); compute it with `gate-edge calibrate`"
    )


class RgbThermalPipeline:
    uses_rgb = True

    def __init__(
        self, settings: Settings, meta: RecordingMeta, finder: FaceFinder | None = None
    ) -> None:
        if meta.thermal is None:
            raise ConfigError(f"{meta.path}: RGB + thermal mode needs a thermal stream")
        self.front = ThermalFrontEnd(settings, meta.thermal, meta.reference)
        raw_hw = (meta.thermal.height, meta.thermal.width)
        # RGB -> upright thermal in one matrix, so every point is mapped once.
        self._h = upright_matrix(settings.thermal.rotate_deg, raw_hw) @ homography_for(
            settings, meta
        )
        if finder is None:
            from edge.vision.landmarks import FaceAnalyzer

            rgb = settings.rgb
            finder = FaceAnalyzer(
                threads=rgb.threads,
                score_threshold=rgb.score_threshold,
                min_face_px=rgb.min_face_px,
            )
        self.finder = finder
        scr = settings.screening
        self._sampler = CanthusSampler(scr.window_px, scr.canthus_radius_px)
        self._min_thermal_face_px = scr.min_thermal_face_px
        self._max_pair_ns = int(scr.max_pair_ms * 1e6)
        self.evidence = Evidence(settings, site="canthus")
        self._temp_c: npt.NDArray[np.float32] | None = None
        self._ref: ReferenceState | None = None
        self._thermal_t_ns = 0
        self.last: FrameReport | None = None
        self.last_faces = Faces.empty()

    @property
    def reference_roi(self) -> Roi | None:
        return self.front.roi

    def process(self, frame: Frame) -> list[Decision]:
        if isinstance(frame, ThermalFrame):
            self._temp_c, self._ref = self.front.convert(frame.counts)
            self._thermal_t_ns = frame.t_ns
            return []
        return self._measure(frame)

    def _measure(self, frame: RgbFrame) -> list[Decision]:
        faces = self.finder.analyze(frame.bgr)
        self.last_faces = faces
        n = faces.count
        fresh = (
            self._temp_c is not None
            and self._ref is not None
            and abs(frame.t_ns - self._thermal_t_ns) <= self._max_pair_ns
        )
        ref = self._ref or ReferenceState(0.0, None, False, "no thermal frame yet")
        skin_c = np.full(n, np.nan, dtype=np.float32)
        big = np.zeros(n, dtype=bool)
        if fresh and n and self._temp_c is not None:
            canthi = map_points(self._h, inner_canthi(faces.landmarks))
            skin_c = self._sampler(self._temp_c, canthi)
            skin_c += np.float32(ref.offset_c) + self.evidence.skin_offset_c
            big = self.thermal_face_width(faces.boxes) >= self._min_thermal_face_px
        measurable = faces.measurable & big & np.isfinite(skin_c)
        boxes = np.rint(faces.boxes).astype(np.int32).reshape(-1, 4)
        self.last = FrameReport(frame.t_ns, n, int(measurable.sum()), ref)
        return self.evidence.record(boxes, measurable, skin_c, ref.ok, frame.t_ns)

    def thermal_face_width(self, boxes: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """(N,) face widths in thermal pixels: the box's mid-height edge-to-edge span mapped."""
        y_mid = boxes[:, 1] + boxes[:, 3] / 2
        ends = np.stack(
            [np.stack([boxes[:, 0], y_mid], 1), np.stack([boxes[:, 0] + boxes[:, 2], y_mid], 1)],
            axis=1,
        )
        mapped = map_points(self._h, ends.astype(np.float32))
        return np.asarray(np.linalg.norm(mapped[:, 1] - mapped[:, 0], axis=1), dtype=np.float32)

    def finish(self) -> list[Decision]:
        return self.evidence.finish()
