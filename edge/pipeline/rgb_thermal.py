"""RGB + thermal mode: faces and landmarks from the colour camera, temperature at the inner
eye corners in the thermal frame, through the RGB -> thermal homography.

Frames arrive merged by time. A thermal frame is converted (and the reference and the room
temperature followed) when it arrives; each RGB frame is measured against the latest thermal
frame if it is at most `max_pair_ms` older, so both cameras see the same moment. The room
changes slowly, so the latest room reading goes with every RGB frame.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

import numpy as np
import numpy.typing as npt

from edge.core.detections import Detections
from edge.core.evidence import Evidence
from edge.core.types import Decision, Frame, RgbFrame, StreamInfo, ThermalFrame
from edge.errors import ConfigError
from edge.pipeline.base import FaceParams, FrameReport, PipelineParams, RoomTemperature
from edge.pipeline.passes import PassReader
from edge.pipeline.recognition import Recognition
from edge.thermal.canthus import CanthusSampler
from edge.thermal.front import ThermalFrontEnd
from edge.thermal.radiometry import ReferenceState
from edge.vision.geometry import inner_canthi, map_points


class FaceFinder(Protocol):
    def analyze(self, bgr: npt.NDArray[np.uint8]) -> Detections:
        """Faces as \"rgb\" detections with a `landmarks` column."""
        ...


def upright_matrix(rotate_deg: int, raw_hw: tuple[int, int]) -> npt.NDArray[np.float64]:
    """3x3 map from raw thermal pixels to the upright (clockwise-rotated) frame."""
    h, w = raw_hw
    return {
        0: np.eye(3),
        90: np.array([[0.0, -1.0, h - 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
        180: np.array([[-1.0, 0.0, w - 1.0], [0.0, -1.0, h - 1.0], [0.0, 0.0, 1.0]]),
        270: np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, w - 1.0], [0.0, 0.0, 1.0]]),
    }[rotate_deg]


def homography_for(params: FaceParams, meta: StreamInfo) -> npt.NDArray[np.float64]:
    if params.rgb_to_thermal is not None:
        return np.asarray(params.rgb_to_thermal, dtype=np.float64)
    if meta.rgb_to_thermal is not None:
        return np.asarray(meta.rgb_to_thermal, dtype=np.float64)
    raise ConfigError(
        "registration.rgb_to_thermal: required for RGB + thermal mode (the recording has "
        "none); compute it with `gate-edge calibrate`"
    )


class RgbThermalPipeline:
    uses_rgb = True

    def __init__(
        self,
        params: PipelineParams,
        meta: StreamInfo,
        finder: FaceFinder | None = None,
        recognition: Recognition | None = None,
        passes: PassReader | None = None,
    ) -> None:
        if meta.thermal is None:
            raise ConfigError(f"{meta.origin}: RGB + thermal mode needs a thermal stream")
        self.front = ThermalFrontEnd(params.front, meta.thermal, meta.reference)
        raw_hw = (meta.thermal.height, meta.thermal.width)
        fp = params.faces
        # RGB -> upright thermal in one matrix, so every point is mapped once.
        self._h = upright_matrix(params.front.rotate_deg, raw_hw) @ homography_for(fp, meta)
        if finder is None:
            from edge.vision.landmarks import FaceAnalyzer

            finder = FaceAnalyzer(
                threads=fp.threads, score_threshold=fp.score_threshold, min_face_px=fp.min_face_px
            )
            if fp.detect_every != 1:
                from edge.vision.cadence import CadencedFinder

                fps = meta.rgb.fps if meta.rgb is not None else None
                finder = CadencedFinder(finder, detect_every=fp.detect_every, fps=fps)
        self.finder = finder
        scr = params.screening
        self._sampler = CanthusSampler(
            scr.window_px, fp.canthus_radius_px, statistic=scr.statistic
        )
        self._min_thermal_face_px = fp.min_thermal_face_px
        self._max_pair_ns = int(fp.max_pair_ms * 1e6)
        # Recognition runs only with both a policy and an embedder + lists to run it with.
        self.recognition = recognition if params.identity is not None else None
        identity = params.identity if self.recognition is not None else None
        self.passes = passes if params.passes is not None else None
        pass_params = params.passes if self.passes is not None else None
        self.evidence = Evidence(
            # No early decisions and no pixel quantum here: a face followed between
            # detections under-reports its growth (O-Net's landmarks scale with its crop; the
            # detector comes back every few frames while a face grows, edge.vision.cadence,
            # but the frames between still lag), so neither a short settle window nor a
            # pixel's tolerance can tell a walk-up from a stop; the identity vote wants the
            # closest frames too. (A measured RGB face is at least rgb.min_face_px = 40 px
            # wide: a pixel is within settle_growth anyway.)
            replace(params.screening, early_margin_c=None, settle_quantum_px=0.0).evidence(
                "canthus", params.tracker, identity, pass_params
            )
        )
        self._temp_c: npt.NDArray[np.float32] | None = None
        self._ref: ReferenceState | None = None
        self.room = RoomTemperature(params.room)
        self._room_c: float | None = None
        self._thermal_t_ns = 0
        self.last: FrameReport | None = None

    def process(self, frame: Frame) -> list[Decision]:
        if isinstance(frame, ThermalFrame):
            self._temp_c, self._ref = self.front.convert(frame.counts)
            self._room_c = self.room.update(
                self._temp_c, self._ref.offset_c, frame.t_ns, self.front.disc_box, self._ref.ok
            )
            self._thermal_t_ns = frame.t_ns
            return []
        return self._measure(frame)

    def _measure(self, frame: RgbFrame) -> list[Decision]:
        faces = self.finder.analyze(frame.bgr)
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
            skin_c += np.float32(ref.offset_c)
            big = self.thermal_face_width(faces.boxes) >= self._min_thermal_face_px
        measurable = faces.measurable & big & np.isfinite(skin_c)
        # Why a face the RGB side found measurable is not measured after all.
        reasons = np.where(
            faces.measurable & ~measurable,
            "unpaired" if not fresh else np.where(big, "out-of-view", "thermal-small"),
            faces.reasons,
        ).astype(faces.reasons.dtype)
        faces = Detections(
            faces.boxes, faces.scores, measurable, reasons, faces.frame, faces.columns
        )
        self.last = FrameReport(frame.t_ns, n, int(measurable.sum()), ref, self._room_c)
        sightings = self.passes.sightings(frame.bgr) if self.passes is not None else []
        rec = self.recognition
        if rec is not None:
            # Bound every frame: a restart may have swapped in a checkpointed Evidence.
            self.evidence.access.lookup = rec.lookup
            self.evidence.access.holder_distance = rec.holder_distance
        if rec is None or n == 0:
            return self.evidence.record(
                faces, skin_c, ref.ok, frame.t_ns, self._room_c, sightings=sightings
            )
        return self.evidence.record(
            faces, skin_c, ref.ok, frame.t_ns, self._room_c,
            identify=rec.identify_for(frame.bgr, faces.landmarks),
            quality=rec.quality(faces.landmarks, faces.boxes),
            sightings=sightings,
        )

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
