"""The RGB + thermal simulator's scene (edge.sim.rgb): registration, backgrounds, both
renderers. The thermal frame is rendered physically (edge.sim.optics): every thermal sub-pixel
centre is mapped into RGB pixels with H^-1 and given the temperature of the body part there,
the canthus hot spots are added in thermal pixels, and the field goes through the lens PSF and
the sensor pixels.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from edge.core.types import ReferenceSpec
from edge.sim.faces import HeadCrop, Placement, composite, place
from edge.sim.optics import (
    CanthusAnatomy,
    add_hotspots,
    reference_radius_px,
    sub_coords,
    sub_range,
    to_sensor,
)
from edge.sim.rgb_plan import Person, Pose, RgbSceneSpec, rgb_to_thermal
from edge.vision.types import LEFT_EYE, MOUTH_LEFT, MOUTH_RIGHT, NOSE, RIGHT_EYE

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]
BACKGROUND_SEED = 20240601  # the gate looks the same in every scene


def apply_h(h: F64, points: npt.NDArray[np.floating[Any]]) -> F64:
    """(..., 2) points through the 3x3 homography h (float64)."""
    flat = np.asarray(points, np.float64).reshape(-1, 1, 2)
    return np.asarray(cv2.perspectiveTransform(flat, h).reshape(points.shape), np.float64)


class Scene:
    """Fixed per recording: registration, thermal sub-pixel -> RGB grid, backgrounds, people
    with their canthus anatomy (`anatomy[i]`) and face width at the gate (`near_px[i]`, RGB)."""

    def __init__(self, spec: RgbSceneSpec, people: list[Person], crops: list[HeadCrop],
                 near_px: dict[int, float], anatomy: list[CanthusAnatomy]) -> None:
        self.spec, self.people, self.crops = spec, people, crops
        self.near_px, self.anatomy = near_px, anatomy
        self.h = rgb_to_thermal(spec)
        self.h_inv: F64 = np.asarray(np.linalg.inv(self.h), dtype=np.float64)
        self.s = s = spec.supersample
        tw, th = spec.thermal_width, spec.thermal_height
        # Thermal sub-pixel centres, in thermal pixels, and where they look in the RGB frame.
        self.tx = sub_coords(tw, s)[None, :]
        self.ty = sub_coords(th, s)[:, None]
        pre = apply_h(self.h_inv, np.stack(np.broadcast_arrays(self.tx, self.ty), axis=-1))
        self.u = np.ascontiguousarray(pre[..., 0], np.float32)
        self.v = np.ascontiguousarray(pre[..., 1], np.float32)
        self.px_scale = math.sqrt(abs(float(np.linalg.det(self.h[:2, :2]))))  # thermal/RGB px
        roi = spec.reference_roi()
        x, y, w, hh = roi
        # The disc covers the whole ROI, blur included: its mean is the disc temperature.
        r = reference_radius_px(w, hh, spec.psf_sigma_px)
        rx0, rx1 = sub_range(x + (w - 1) / 2 - r, x + (w - 1) / 2 + r, tw, s)
        ry0, ry1 = sub_range(y + (hh - 1) / 2 - r, y + (hh - 1) / 2 + r, th, s)
        self.ref_win = (slice(ry0, ry1), slice(rx0, rx1))
        self.ref_mask = ((self.tx[:, rx0:rx1] - (x + (w - 1) / 2)) ** 2
                         + (self.ty[ry0:ry1] - (y + (hh - 1) / 2)) ** 2 <= r * r)
        self.reference = ReferenceSpec(roi=roi, temp_c=spec.reference_temp_c)
        self.rgb_bg, self.thermal_bg = self._backgrounds()
        outline = np.array([[x + (w - 1) / 2 + r * math.cos(a), y + (hh - 1) / 2 + r * math.sin(a)]
                            for a in np.linspace(0, 2 * math.pi, 24, endpoint=False)], np.float32)
        self.ref_rgb = np.rint(apply_h(self.h_inv, outline)).astype(np.int32)

    def _backgrounds(self) -> tuple[U8, F32]:
        """A lit wall with a door, a floor and the gate's two posts; thermal: the same layout."""
        spec, rng = self.spec, np.random.default_rng(BACKGROUND_SEED)
        w, h = spec.rgb_width, spec.rgb_height
        ys = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
        xs = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :, None]
        light = 1.0 + 0.10 * (0.5 - ys) - 0.25 * (xs - 0.5) ** 2
        coarse = cv2.resize(rng.normal(0, 1, (12, 16)).astype(np.float32), (w, h),
                            interpolation=cv2.INTER_CUBIC)[:, :, None]
        fine = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 0.8)
        wall = np.array([176, 190, 200], np.float32) * light + 5 * coarse + 4 * fine[:, :, None]
        img = np.clip(wall, 0, 255).astype(np.uint8)

        def box(x0: float, y0: float, x1: float, y1: float, bgr: tuple[int, int, int]) -> None:
            cv2.rectangle(img, (round(x0 * w), round(y0 * h)), (round(x1 * w) - 1,
                          round(y1 * h) - 1), bgr, thickness=-1)

        box(0.0, 0.78, 1.0, 1.0, (105, 112, 118))  # floor
        for k in range(1, 9):
            yk = 0.78 + 0.22 * (k / 9) ** 1.6
            cv2.line(img, (0, round(yk * h)), (w - 1, round(yk * h)), (92, 98, 104), 1)
        box(0.37, 0.14, 0.63, 0.78, (70, 92, 120))  # door
        box(0.385, 0.16, 0.615, 0.78, (84, 108, 138))
        box(0.13, 0.16, 0.27, 0.26, (150, 90, 40))  # sign
        box(0.14, 0.19, 0.26, 0.215, (235, 235, 235))
        for x0 in (0.05, 0.91):  # gate posts and beam
            box(x0, 0.08, x0 + 0.04, 1.0, (108, 110, 116))
            box(x0 + 0.012, 0.08, x0 + 0.02, 1.0, (150, 152, 158))
        box(0.05, 0.07, 0.95, 0.10, (108, 110, 116))
        img[:] = np.clip(img.astype(np.int16) + (3 * fine[:, :, None]).astype(np.int16), 0, 255)

        amb, th_w, th_h = spec.ambient_c, spec.thermal_width, spec.thermal_height
        ty = self.ty / np.float32(th_h - 1) - np.float32(0.5)
        tx = self.tx / np.float32(th_w - 1) - np.float32(0.5)
        thermal = np.asarray(amb - 0.6 * ty + 0.25 * tx, dtype=np.float32)
        fu, fv = self.u / w, self.v / h
        posts = ((fu >= 0.05) & (fu < 0.09)) | ((fu >= 0.91) & (fu < 0.95))
        beam = (fu >= 0.05) & (fu < 0.95) & (fv >= 0.07) & (fv < 0.10)
        thermal[(posts & (fv >= 0.07)) | beam] -= 0.4  # metal
        thermal[(fu >= 0.37) & (fu < 0.63) & (fv >= 0.14) & (fv < 0.78)] -= 0.2  # door
        return img, thermal

    def placement(self, pose: Pose) -> Placement:
        return place(self.crops[self.people[pose.person].crop], pose.cx, pose.cy, pose.face_px)

    def canthus_spots(self, pose: Pose, placement: Placement
                      ) -> list[tuple[float, float, float, float]]:
        """(x, y, sigma, peak_c) in thermal pixels of the two inner canthi (image left, right):
        the anatomical inner eye corners from the photo's eye centres and this person's
        ICD / IPD ratio (edge.sim.optics, not the pipeline's convention), through the
        registration, shifted by the person's sub-pixel offset. Sizes and offsets are given at
        the face's width at the gate and scale with the face (a fixed physical size)."""
        person, anatomy = self.people[pose.person], self.anatomy[pose.person]
        lm = placement.landmarks
        left, right = lm[LEFT_EYE].astype(np.float64), lm[RIGHT_EYE].astype(np.float64)
        step = anatomy.fraction * (right - left)
        corners = apply_h(self.h, np.array([left + step, right - step]))
        k = pose.face_px / self.near_px[pose.person]
        sigma = self.spec.hotspot_sigma_px * k
        return [(float(x) + dx * k, float(y) + dy * k, sigma, person.skin_c - below)
                for (x, y), (dx, dy), below in zip(corners, anatomy.offsets, anatomy.below_c,
                                                   strict=True)]

    # ------------------------------------------------------------------ RGB

    def render_rgb(self, frame: U8, poses: list[Pose]) -> None:
        np.copyto(frame, self.rgb_bg)
        placed = [(pose, self.placement(pose)) for pose in poses]
        h = self.spec.rgb_height
        for pose, pl in placed:  # bodies first: a partner's shoulders never cover a head
            w, chin = pose.face_px, pl.face_box[1] + pl.face_box[3]
            colour = self.people[pose.person].clothes_bgr
            cv2.rectangle(frame, (round(pose.cx - 0.25 * w), round(chin - 0.2 * w)),
                          (round(pose.cx + 0.25 * w), round(chin + 0.25 * w)),
                          pl.crop.skin_bgr, thickness=-1)
            cv2.rectangle(frame, (round(pose.cx - 1.05 * w), round(chin + 0.25 * w)),
                          (round(pose.cx + 1.05 * w), h - 1), colour, thickness=-1)
            dark = tuple(int(c * 0.7) for c in colour)
            cv2.line(frame, (round(pose.cx - 0.6 * w), round(chin + 0.6 * w)),
                     (round(pose.cx - 0.6 * w), h - 1), dark, max(1, round(0.04 * w)))
            cv2.line(frame, (round(pose.cx + 0.6 * w), round(chin + 0.6 * w)),
                     (round(pose.cx + 0.6 * w), h - 1), dark, max(1, round(0.04 * w)))
        for _, pl in placed:
            composite(frame, pl)
        cv2.fillPoly(frame, [self.ref_rgb], (40, 40, 44))  # the blackbody, in front of all
        cv2.polylines(frame, [self.ref_rgb], True, (150, 150, 150), 1)

    # -------------------------------------------------------------- thermal

    def _window(self, x_lo: float, y_lo: float, x_hi: float, y_hi: float
                ) -> tuple[slice, slice] | None:
        """Thermal sub-pixel window around the image of an RGB rectangle (H maps lines to
        lines), with a one-pixel margin."""
        corners = np.array([[x_lo, y_lo], [x_hi, y_lo], [x_lo, y_hi], [x_hi, y_hi]], np.float32)
        mapped = apply_h(self.h, corners)
        (x0, y0), (x1, y1) = mapped.min(axis=0) - 1.0, mapped.max(axis=0) + 1.0
        a, b = sub_range(float(x0), float(x1), self.spec.thermal_width, self.s)
        c, d = sub_range(float(y0), float(y1), self.spec.thermal_height, self.s)
        return (slice(c, d), slice(a, b)) if a < b and c < d else None

    def _paint_body(self, frame: F32, pose: Pose, pl: Placement) -> None:
        person, w = self.people[pose.person], pose.face_px
        chin = pl.face_box[1] + pl.face_box[3]
        win = self._window(pose.cx - 1.05 * w, chin - 0.2 * w, pose.cx + 1.05 * w,
                           2.0 * self.spec.rgb_height)
        if win is None:
            return
        u, v, region = self.u[win], self.v[win], frame[win]
        dx, below = np.abs(u - pose.cx), v - (chin + 0.25 * w)
        torso = (below >= 0) & (dx <= 1.05 * w)
        neck = (below < 0) & (v >= chin - 0.2 * w) & (dx <= 0.25 * w)
        clothes = person.clothes_c - 0.6 * np.clip(below / (3 * w), 0.0, 1.0)
        region[...] = np.where(torso, clothes, np.where(neck, person.face_c - 0.5, region))

    def _paint_head(self, frame: F32, pose: Pose, pl: Placement) -> None:
        person, w = self.people[pose.person], pose.face_px
        ex, ey, a, b = pl.ellipse
        win = self._window(ex - a, ey - b, ex + a, ey + b)
        if win is None:
            return
        u, v, region = self.u[win], self.v[win], frame[win]
        rho2 = ((u - ex) / a) ** 2 + ((v - ey) / b) ** 2
        # A sharp outline (anti-aliased over one sub-pixel; the PSF and the pixels blur it);
        # skin seen obliquely at the rim reads cooler.
        alpha = np.clip(0.5 + (1.0 - np.sqrt(rho2)) * a * self.px_scale * self.s, 0.0, 1.0)
        temp = person.face_c - 0.9 * np.minimum(rho2, 1.0)
        lm = pl.landmarks
        eye_y = float(lm[LEFT_EYE, 1] + lm[RIGHT_EYE, 1]) / 2
        d = max(1.0, float(lm[MOUTH_LEFT, 1] + lm[MOUTH_RIGHT, 1]) / 2 - eye_y)
        hair = np.clip(((eye_y - 0.95 * d) - v) / (0.35 * d), 0.0, 1.0)
        temp = temp + (person.hair_c - temp) * hair
        for part, radius, below_c in ((LEFT_EYE, 0.09, 0.6), (RIGHT_EYE, 0.09, 0.6),
                                      (NOSE, 0.08, 1.0)):
            spot = (u - lm[part, 0]) ** 2 + (v - lm[part, 1]) ** 2 <= (radius * w) ** 2
            temp = np.where(spot, person.face_c - below_c, temp)
        region += (temp - region) * alpha
        add_hotspots(region, self.tx[:, win[1]], self.ty[win[0]], self.canthus_spots(pose, pl))

    def render_field(self, field: F32, poses: list[Pose]) -> None:
        """The focal-plane field on the sub-pixel grid, noise- and drift-free."""
        np.copyto(field, self.thermal_bg)
        placed = [(pose, self.placement(pose)) for pose in poses]
        for pose, pl in placed:
            self._paint_body(field, pose, pl)
        for pose, pl in placed:
            self._paint_head(field, pose, pl)
        field[self.ref_win][self.ref_mask] = self.spec.reference_temp_c

    def render_thermal(self, field: F32, frame: F32, poses: list[Pose]) -> None:
        """Sensor frame in degC (field is the sub-pixel scratch buffer): the field through the
        PSF and the pixels; drift and noise are added by the caller."""
        self.render_field(field, poses)
        self.to_sensor(field, frame)

    def to_sensor(self, field: F32, frame: F32) -> None:
        """The field through the PSF and the sensor pixels (after any overlay was painted)."""
        to_sensor(field, self.s, self.spec.psf_sigma_px, frame)
