"""People holding QR passes up to the camera in RGB + thermal scenes (edge.sim.rgb).

A holder raises the pass HOLD_BEFORE_S before stopping at the gate and lowers it when leaving
(1.3-1.8 s in view). The pass sits beside the face at chin height, on the side where it fits
in the frame, never over the face box, and moves and scales with the person (a fixed physical
size held at a fixed distance). In the thermal frame it is a cold object at about room
temperature (a card or a phone), with the thumb holding it at hand temperature.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from edge.errors import ConfigError
from edge.sim.passes import FACE_WIDTH_CM, PassCode, PassPlan, draw_held
from edge.sim.qr_card import (
    Held,
    composite_card,
    draw_thumb,
    homography,
    inside_quad,
    project,
    quad_hits_box,
    texture,
    thumb,
)
from edge.sim.rgb_plan import EDGE_MARGIN_PX, Group, Pose, Timeline
from edge.sim.rgb_scene import Scene

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]

HOLD_BEFORE_S = 0.3  # raised this long before the person stops at the gate
CARD_ABOVE_AMBIENT_C = 0.5  # warmed a little by the hand
HAND_C = 31.5  # thumb skin; well below any canthus
FACE_GAP = 0.08  # between the face box and the pass, in face widths
FRAME_MARGIN_PX = 6
# Where a pass may sit, in order of preference: (card centre below the chin, shift towards
# the face's middle), in face widths.
PLACES = tuple((down, inward) for inward in (0.0, 0.2, 0.4, 0.6, 0.8)
               for down in (0.0, 0.15, 0.3, 0.45, 0.6))


@dataclass
class Shown:
    """One held pass: its case and code, how it is held, and where relative to the face."""

    plan: PassPlan
    code: PassCode
    held: Held
    side_cm: float
    tex: U8
    symbol: F64  # symbol corners in texture pixels
    group: Group
    near_px: float
    offset: tuple[float, float] = (0.0, 0.0)  # card centre - face centre, in face widths
    shown_ns: list[int] = field(default_factory=list)
    quads: list[list[list[float]]] = field(default_factory=list)  # card corners per frame

    @property
    def from_s(self) -> float:
        return self.group.t0_s + self.group.approach_s - HOLD_BEFORE_S

    @property
    def to_s(self) -> float:
        return self.group.t0_s + self.group.approach_s + self.group.dwell_s


class PassScene:
    """The scene's held passes (person index -> Shown), drawn into both cameras' frames."""

    def __init__(self, scene: Scene, timeline: Timeline, plans: dict[int, PassPlan],
                 codes: dict[int, PassCode], rng: np.random.Generator) -> None:
        self.scene, self.plans, self.codes, self.timeline = scene, plans, codes, timeline
        group_of = {m: g for g in timeline.groups for m in g.members}
        self.shown: dict[int, Shown] = {}
        for n in sorted(codes):
            group = group_of[n]
            if len(group.members) > 1:
                raise ConfigError("synth: pass holders walk alone (pair_fraction = 0 with "
                                  "passes): a pass between two faces has no true holder")
            matrix = codes[n].matrix
            held, side_cm = draw_held(plans[n].small, int(matrix.shape[0]),
                                      scene.near_px[n], rng)
            tex, symbol = texture(matrix, held.medium)
            shown = Shown(plans[n], codes[n], held, side_cm, tex, symbol, group,
                          scene.near_px[n])
            self.shown[n] = self._place(n, shown)

    def _place(self, n: int, shown: Shown) -> Shown:
        """Offset from the person's pose at the gate: beside the face box at chin height on
        the planned side if the pass fits in the frame there, else lower (chest height),
        then nearer the middle, then the other side; never over the face box. When it fits
        nowhere, the person stops further to the other side (people step aside to show a
        pass) by as little as makes it fit beside the face."""
        for side in (shown.held.side, -shown.held.side):
            if self._try(n, shown, side):
                return shown
        for side in (shown.held.side, -shown.held.side):
            pose = self._closest(n, shown)
            quad = self._quad(replace(shown, held=replace(shown.held, side=side)), (0, 0),
                              pose.face_px)
            fx, _, fw, _ = self.scene.placement(pose).face_box
            width, m = self.scene.spec.rgb_width, FRAME_MARGIN_PX + 1
            extent = 1.5 * FACE_GAP * fw + float(np.ptp(quad[:, 0]))
            shift = (width - 1 - m) - (fx + fw + extent) if side > 0 else m - (fx - extent)
            # Only towards the other side, and the head stays in the thermal camera's view.
            reach = pose.cx + shift - side * 0.8 * fw
            if shift * side > 0 or not (
                    EDGE_MARGIN_PX * self.scene.spec.scale <= reach
                    <= width - 1 - EDGE_MARGIN_PX * self.scene.spec.scale):
                continue
            group = shown.group
            moved = replace(group, x_centre=group.x_centre + shift,
                            travel_px=group.travel_px + abs(shift))
            self.timeline.groups[self.timeline.groups.index(group)] = moved
            shown.group = moved
            if self._try(n, shown, side):
                return shown
            self.timeline.groups[self.timeline.groups.index(moved)] = group
            shown.group = group
        raise ConfigError(f"synth: the pass of {self.scene.people[n].label} fits beside the "
                          "face nowhere in the frame (a smaller pass or a larger RGB frame)")

    @staticmethod
    def _closest(n: int, shown: Shown) -> Pose:
        return next(p for p in shown.group.poses(shown.group.closest_s, 0.0) if p.person == n)

    def _try(self, n: int, shown: Shown, side: float) -> bool:
        pose = self._closest(n, shown)
        fx, fy, fw, fh = self.scene.placement(pose).face_box
        spec, m, w = self.scene.spec, FRAME_MARGIN_PX, pose.face_px
        face = (fx - FACE_GAP * fw, fy - FACE_GAP * fw, fw * (1 + 2 * FACE_GAP),
                fh + 2 * FACE_GAP * fw)
        held = replace(shown.held, side=side)
        quad = self._quad(replace(shown, held=held), (0.0, 0.0), w)
        (x_lo, y_lo), (x_hi, y_hi) = quad.min(axis=0), quad.max(axis=0)
        gap = 1.5 * FACE_GAP * fw  # clear of the guarded box (which has FACE_GAP)
        beside = fx + fw + gap - x_lo if side > 0 else fx - gap - x_hi
        for down, inward in PLACES:
            cx = beside - side * inward * w
            cy = fy + fh + down * w - (y_lo + y_hi) / 2
            at = quad + np.array([cx, cy])
            inside = (at.min() >= m and at[:, 0].max() <= spec.rgb_width - 1 - m
                      and at[:, 1].max() <= spec.rgb_height - 1 - m)
            if inside and not quad_hits_box(at, face):
                shown.held = held
                shown.offset = ((cx - pose.cx) / w, (cy - pose.cy) / w)
                return True
        return False

    @staticmethod
    def _quad(shown: Shown, centre: tuple[float, float], face_px: float) -> F64:
        h, w = shown.tex.shape[:2]
        return project((w, h), shown.symbol, centre, shown.held, face_px, shown.near_px)

    def quad(self, n: int, pose: Pose) -> F64:
        """The card's (or phone's) four corners in RGB pixels for `pose`."""
        shown = self.shown[n]
        ox, oy = shown.offset
        return self._quad(shown, (pose.cx + ox * pose.face_px, pose.cy + oy * pose.face_px),
                          pose.face_px)

    def symbol_quad(self, n: int, pose: Pose) -> F64:
        """The QR symbol's corners (modules only) in RGB pixels for `pose`."""
        shown = self.shown[n]
        h, w = shown.tex.shape[:2]
        src = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])
        m = homography(src, self.quad(n, pose))
        pts = cv2.perspectiveTransform(shown.symbol.reshape(-1, 1, 2), m)
        return np.asarray(pts.reshape(4, 2), np.float64)

    def held(self, t_s: float, poses: list[Pose]) -> list[Pose]:
        return [p for p in poses if p.person in self.shown
                and self.shown[p.person].from_s <= t_s <= self.shown[p.person].to_s]

    def draw_rgb(self, frame: U8, poses: list[Pose], t_s: float, t_ns: int) -> None:
        for pose in self.held(t_s, poses):
            shown = self.shown[pose.person]
            quad = self.quad(pose.person, pose)
            composite_card(frame, shown.tex, quad)
            skin = self.scene.crops[self.scene.people[pose.person].crop].skin_bgr
            draw_thumb(frame, quad, skin)
            shown.shown_ns.append(t_ns)
            shown.quads.append(np.round(quad, 1).tolist())

    def paint_thermal(self, field: F32, poses: list[Pose], t_s: float) -> None:
        """Cold card (ambient + a little) and a warm thumb over whatever was painted there."""
        scene = self.scene
        for pose in self.held(t_s, poses):
            quad = self.quad(pose.person, pose)
            (x0, y0), (x1, y1) = quad.min(axis=0), quad.max(axis=0)
            win = scene._window(float(x0), float(y0), float(x1), float(y1))
            if win is None:
                continue
            u, v, region = scene.u[win], scene.v[win], field[win]
            region[inside_quad(u, v, quad)] = scene.spec.ambient_c + CARD_ABOVE_AMBIENT_C
            cx, cy, rx, ry = thumb(quad)
            region[((u - cx) / max(rx, 0.5)) ** 2 + ((v - cy) / max(ry, 0.5)) ** 2 <= 1] = HAND_C

    def label(self, n: int) -> dict[str, Any]:
        """labels.json `pass` of person n (the plan, the code, how it was held)."""
        plan = self.plans.get(n)
        if plan is None:
            return {}
        out = plan.to_json()
        shown = self.shown.get(n)
        if shown is None:
            return out
        h = shown.held
        modules = int(shown.code.matrix.shape[0])
        out.update(
            text=shown.code.text, digest=hashlib.sha256(shown.code.text.encode()).hexdigest(),
            verdict_reason=shown.code.reason, medium=h.medium, modules=modules,
            px_per_module=round(h.symbol_px / modules, 3),
            symbol_px_at_gate=round(h.symbol_px, 2), side_cm=round(shown.side_cm, 2),
            held_nearer=round(shown.near_px / FACE_WIDTH_CM * shown.side_cm / h.symbol_px, 3),
            roll_deg=round(h.roll_deg, 2), yaw_deg=round(h.yaw_deg, 2),
            pitch_deg=round(h.pitch_deg, 2), side="right" if h.side > 0 else "left",
            held_from_ns=shown.shown_ns[0] if shown.shown_ns else None,
            held_to_ns=shown.shown_ns[-1] if shown.shown_ns else None,
            held_frames=len(shown.shown_ns),
            # The card's (phone's) corners in every RGB frame it is in, from held_from_ns on.
            card_rgb=shown.quads)
        return out
