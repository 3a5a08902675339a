"""Scene description for the RGB+thermal simulator (edge.sim.rgb): the spec, the fixed
registration, and who walks where when, as continuous functions of time so that the RGB and
the thermal camera (independent clocks) sample the same motion.

Positions are RGB pixels: a pose is the centre (cx, cy) and width of the face box, which is
where the composited photo's own face box lands (edge.sim.faces.place). The thermal camera's
optics and the canthus hot spots are parameters too (edge.sim.optics); `face_px` (or
`distance_m`) sets the face width at the gate in thermal pixels.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from edge.core.bodytemp import skin_from_body_c
from edge.errors import ConfigError
from edge.sim.optics import (
    CANTHUS_EXCESS_C,
    DEFAULT_HOTSPOT_SIGMA_PX,
    DEFAULT_PSF_SIGMA_PX,
    DEFAULT_SUPERSAMPLE,
    SENSORS,
    check_optics,
    resolve_face_px,
)
from edge.sim.spec import FEVER_BODY_C, FEVER_THRESHOLD_C, NORMAL_BODY_C, fever_count, pair_count

F64 = npt.NDArray[np.float64]

BASE_RGB = (640, 480)
BASE_THERMAL = (160, 120)
FAR_FACE_PX = 40.0  # face box width when a group appears
NEAR_FACE_PX = (125.0, 150.0)  # ... when it stops near the gate, alone
NEAR_PAIR_FACE_PX = (118.0, 135.0)  # ... side by side (two must fit in the view)
PAIR_PITCH_FACES = (2.25, 2.45)  # centre-to-centre distance of a pair, in face widths
APPROACH_S = (2.2, 2.8)
DWELL_S = (1.0, 1.5)
EXIT_S = (0.8, 1.1)
GAP_S = (0.6, 1.2)
LEAD_S = 1.0  # empty scene at the start and at the end
NEAR_SPREAD = 0.03  # with face_px: each face at the gate within +-3 % of it
MAX_FACE_HEIGHT_SHARE = 0.45  # of the RGB frame's height, for a face box at the gate
HAIR_C = (29.5, 31.0)
CLOTHES_C = (28.0, 30.0)
# Thermal view of the RGB frame: the thermal width spans this share of the RGB width.
THERMAL_SPAN = 0.925
THERMAL_CENTRE_AT = (0.52, 0.485)  # RGB point (fractions of the frame) the thermal centre sees
THERMAL_ROTATION_DEG = 0.6
PERSPECTIVE = (1.5e-5, -1.0e-5)  # per base RGB pixel, in RGB coordinates centred on that point
EDGE_MARGIN_PX = 45.0  # heads at the gate stay this far inside the RGB frame (thermal view)
# A home quarantine in force whichever clock the gate judges it by: the scene's (2023, EPOCH_NS)
# or today's wall clock; a date near either would expire under the other.
QUARANTINE_UNTIL = "2099-12-31T23:59:59Z"


@dataclass(frozen=True)
class RgbSceneSpec:
    """What to synthesise: `people` walk up alone or in pairs, one group at a time."""

    people: int = 12
    fever_fraction: float = 0.25
    pair_fraction: float = 0.5  # share of `people` who arrive as side-by-side pairs
    seed: int = 0
    rgb_width: int = BASE_RGB[0]
    rgb_height: int = BASE_RGB[1]
    rgb_fps: float = 15.0
    thermal_width: int = BASE_THERMAL[0]
    thermal_height: int = BASE_THERMAL[1]
    thermal_fps: float = 9.0
    faces_dir: Path | None = None  # every *.jpg/*.png in it; None: matplotlib's sample portrait
    noise_c: float = 0.08
    drift_c: float = 0.4
    ambient_c: float = 22.0
    reference_temp_c: float = 35.0
    # Optics and anatomy (edge.sim.optics): the canthus hot spot's Gaussian sigma in thermal
    # pixels when the face is at its nearest, the lens PSF sigma, the render supersampling.
    hotspot_sigma_px: float = DEFAULT_HOTSPOT_SIGMA_PX
    psf_sigma_px: float = DEFAULT_PSF_SIGMA_PX
    supersample: int = DEFAULT_SUPERSAMPLE
    hfov_deg: float = SENSORS["lepton"].hfov_deg  # the thermal camera's (distance_m)
    # Face box width at the gate in thermal pixels (each face within +-3 %), or the distance
    # that gives it through hfov_deg; None for both: 125-150 RGB px (118-135 in pairs).
    face_px: float | None = None
    distance_m: float | None = None
    # Identity roles (edge.sim.cast): all 0 is a scene without them (people show photos round
    # robin, as before); otherwise `people` must be their sum.
    residents: int = 0
    strangers: int = 0
    quarantined: int = 0
    grant_by_face: bool = False  # residents expect pass.granted (site grants by face)
    quarantine_until: str = QUARANTINE_UNTIL
    enroll_min_eye_px: float = 0.0  # photos with closer eyes never enrol (enrolment's minimum)
    # QR pass cases (edge.sim.passes), one person each, on top of the roles above; `gate` is
    # the gate the passes are issued for (and the labels' policy assumes).
    passes: tuple[str, ...] = ()
    gate: str = "gate1"

    def __post_init__(self) -> None:
        checks = [
            ("people", 1 <= self.people <= 1000),
            ("fever_fraction", 0.0 <= self.fever_fraction <= 1.0),
            ("pair_fraction", 0.0 <= self.pair_fraction <= 1.0),
            ("rgb_width", 320 <= self.rgb_width <= 4096),
            ("rgb_height", 240 <= self.rgb_height <= 4096),
            ("thermal_width", 64 <= self.thermal_width <= 2048),
            ("thermal_height", 48 <= self.thermal_height <= 2048),
            ("rgb_fps", 1.0 <= self.rgb_fps <= 120.0),
            ("thermal_fps", 1.0 <= self.thermal_fps <= 120.0),
            ("noise_c", self.noise_c >= 0.0), ("drift_c", self.drift_c >= 0.0),
            *((n, getattr(self, n) >= 0) for n in ("residents", "strangers", "quarantined")),
        ]
        for name, ok in checks:
            if not ok:
                raise ConfigError(f"synth: {name} = {getattr(self, name)!r} is out of range")
        roles = self.residents + self.strangers + self.quarantined + len(self.passes)
        if self.with_roles and self.people != roles:
            raise ConfigError(f"synth: people = {self.people} but residents + strangers + "
                              f"quarantined + pass cases = {roles}")
        check_optics(self.supersample, self.psf_sigma_px, self.hotspot_sigma_px, self.hfov_deg)
        near = self.near_face_px
        if near is not None:
            self._check_fits(near / self.thermal_per_rgb * (1 + NEAR_SPREAD) * 1.01)

    def _check_fits(self, widest_rgb: float) -> None:
        room = self.rgb_width / 2 - EDGE_MARGIN_PX * self.scale
        # Head crops are 1.6 face widths wide; a pair stands PAIR_PITCH_FACES apart.
        need = (PAIR_PITCH_FACES[1] / 2 + 0.8 if self.n_pairs else 0.8) * widest_rgb
        too_big = need > room or widest_rgb > MAX_FACE_HEIGHT_SHARE * self.rgb_height
        if too_big:
            what = "pairs side by side in" if self.n_pairs else "a face in"
            raise ConfigError(
                f"synth: face_px = {self.near_face_px:.3g} thermal px is a {widest_rgb:.0f} px "
                f"face in the {self.rgb_width}x{self.rgb_height} RGB frame: too big for {what} "
                "it (smaller face_px, a larger thermal sensor, or pair_fraction = 0)")
        if widest_rgb < FAR_FACE_PX * self.scale / 2:
            raise ConfigError(f"synth: face_px = {self.near_face_px:.3g} thermal px is a "
                              f"{widest_rgb:.0f} px face in RGB: too small to find")

    @property
    def with_roles(self) -> bool:
        return self.residents + self.strangers + self.quarantined + len(self.passes) > 0

    @property
    def scale(self) -> float:
        """RGB sizes are given for 640x480 and scaled by this."""
        return min(self.rgb_width / BASE_RGB[0], self.rgb_height / BASE_RGB[1])

    @property
    def thermal_per_rgb(self) -> float:
        """Thermal pixels per RGB pixel of the registration (rgb_to_thermal)."""
        return self.thermal_width / (THERMAL_SPAN * self.rgb_width)

    @property
    def near_face_px(self) -> float | None:
        """The requested face width at the gate in thermal pixels, if any."""
        return resolve_face_px(self.face_px, self.distance_m, self.thermal_width,
                               self.hfov_deg)

    def near_face_rgb(self, paired: bool) -> tuple[float, float]:
        """Range each face box width at the gate (RGB px) is drawn from."""
        near = self.near_face_px
        if near is None:
            low, high = NEAR_PAIR_FACE_PX if paired else NEAR_FACE_PX
            return low * self.scale, high * self.scale
        rgb = near / self.thermal_per_rgb
        return rgb * (1 - NEAR_SPREAD), rgb * (1 + NEAR_SPREAD)

    @property
    def far_face_rgb(self) -> float:
        """Face box width where a group appears."""
        return min(FAR_FACE_PX * self.scale, 0.5 * self.near_face_rgb(True)[0])

    @property
    def n_pairs(self) -> int:
        return pair_count(self.people, self.pair_fraction)

    @property
    def n_fevers(self) -> int:
        return fever_count(self.people, self.fever_fraction)

    def reference_roi(self) -> tuple[int, int, int, int]:
        """Blackbody ROI (x, y, w, h) in thermal pixels: top-right corner, above the heads."""
        s = min(self.thermal_width / BASE_THERMAL[0], self.thermal_height / BASE_THERMAL[1])
        side = max(4, round(8 * s))
        return (self.thermal_width - side - round(4 * s), round(4 * s), side, side)


def rgb_to_thermal(spec: RgbSceneSpec) -> F64:
    """The fixed registration: thermal sees the RGB's central region at ~1/3.7 the scale,
    slightly off-centre, rotated 0.6 degrees, with a tiny perspective; H[2, 2] = 1."""
    s = spec.thermal_per_rgb
    cx, cy = (THERMAL_CENTRE_AT[0] * (spec.rgb_width - 1),
              THERMAL_CENTRE_AT[1] * (spec.rgb_height - 1))
    to_centre = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], np.float64)
    px, py = (p / spec.scale for p in PERSPECTIVE)
    perspective = np.array([[1, 0, 0], [0, 1, 0], [px, py, 1]], np.float64)
    c, sn = math.cos(math.radians(THERMAL_ROTATION_DEG)), math.sin(
        math.radians(THERMAL_ROTATION_DEG))
    similarity = np.array([[s * c, -s * sn, 0], [s * sn, s * c, 0], [0, 0, 1]], np.float64)
    to_thermal = np.array([[1, 0, (spec.thermal_width - 1) / 2],
                           [0, 1, (spec.thermal_height - 1) / 2], [0, 0, 1]], np.float64)
    h = to_thermal @ similarity @ perspective @ to_centre
    return np.asarray(h / h[2, 2], dtype=np.float64)


@dataclass(frozen=True)
class Person:
    label: str
    temp_c: float  # true body temperature
    skin_c: float  # canthus peak, the warmest facial spot: skin_from_body_c(temp_c)
    face_c: float  # facial skin around the canthi: skin_c - the canthus excess
    hair_c: float
    clothes_c: float
    clothes_bgr: tuple[int, int, int]
    group: str
    paired: bool
    crop: int  # index into the face library

    @property
    def fever(self) -> bool:
        return self.temp_c >= FEVER_THRESHOLD_C


class Pose(NamedTuple):
    person: int
    cx: float  # face box centre, RGB pixels
    cy: float
    face_px: float  # face box width


@dataclass(frozen=True)
class Group:
    """People walking up side by side: approach, dwell near the camera, leave sideways."""

    members: tuple[int, ...]
    t0_s: float
    approach_s: float
    dwell_s: float
    exit_s: float
    x_centre: float
    direction: float  # -1 leaves to the left, +1 to the right
    near_px: tuple[float, ...]
    offsets: tuple[float, ...]  # lateral offsets in face widths
    y_far: float
    y_near: float
    travel_px: float
    sway_px: float

    @property
    def end_s(self) -> float:
        return self.t0_s + self.approach_s + self.dwell_s + self.exit_s

    @property
    def closest_s(self) -> float:
        return self.t0_s + self.approach_s + self.dwell_s / 2

    def poses(self, t_s: float, far_px: float) -> list[Pose]:
        u = t_s - self.t0_s
        if u < 0 or u > self.end_s - self.t0_s:
            return []
        out = []
        for m, near, off in zip(self.members, self.near_px, self.offsets, strict=True):
            dx, cy = 0.0, self.y_near
            if u < self.approach_s:
                z = u / self.approach_s
                w = 1.0 / ((1.0 - z) / far_px + z / near)  # constant walking speed: 1/distance
                cy = self.y_far + (self.y_near - self.y_far) * z
                cy += 0.025 * w * (1.0 - z) * math.sin(2 * math.pi * 1.9 * u)  # gait bob
            else:
                v = min(u - self.approach_s, self.dwell_s)
                # Leaning in a little: the face is biggest at the middle of the dwell.
                w = near * (1.0 + 0.01 * math.sin(math.pi * v / self.dwell_s))
                dx = self.sway_px * math.sin(2 * math.pi * v / 1.3)
                if u > self.approach_s + self.dwell_s:
                    tau = (u - self.approach_s - self.dwell_s) / self.exit_s
                    dx += self.direction * self.travel_px * tau ** 1.5
            out.append(Pose(m, self.x_centre + dx + off * w, cy, w))
        return out


class Timeline:
    """Groups in order; poses(t) is whoever is in view at t seconds (one group at most)."""

    def __init__(self, groups: list[Group], far_px: float, duration_s: float) -> None:
        self.groups, self.far_px, self.duration_s = groups, far_px, duration_s
        self._starts = [g.t0_s for g in groups]

    def poses(self, t_s: float) -> list[Pose]:
        i = bisect.bisect_right(self._starts, t_s) - 1
        return self.groups[i].poses(t_s, self.far_px) if i >= 0 else []


def plan(spec: RgbSceneSpec, identities: list[str], rng: np.random.Generator,
         photos: list[int] | None = None) -> tuple[list[Person], Timeline]:
    """People in order of appearance and their motion. `identities[i]` is who library photo i
    shows; people cycle through the photos, one photo of each identity per round, unless
    `photos` gives each person's photo (identity scenes, edge.sim.cast)."""
    kinds = ["pair"] * spec.n_pairs + ["single"] * (spec.people - 2 * spec.n_pairs)
    kinds = [kinds[i] for i in rng.permutation(len(kinds))]
    sizes = [2 if kind == "pair" else 1 for kind in kinds]
    starts = np.cumsum([0, *sizes])
    # A fever inside a pair is the case most likely to be mis-attributed, so force some.
    pair_groups = [g for g, kind in enumerate(kinds) if kind == "pair"]
    n_pair_fevers = min(spec.n_fevers, max(1, len(pair_groups) // 2)) if pair_groups else 0
    chosen = rng.choice(len(pair_groups), size=n_pair_fevers, replace=False)
    fevers = {int(starts[pair_groups[c]]) + int(rng.integers(2)) for c in chosen}
    rest = [s for s in range(spec.people) if s not in fevers]
    fevers |= {int(s) for s in rng.choice(rest, size=spec.n_fevers - len(fevers), replace=False)}
    order = photos if photos is not None else _crop_order(identities, rng)
    n_crops = len(order)
    people: list[Person] = []
    for g, size in enumerate(sizes):
        for _ in range(size):
            n = len(people)
            temp_c = round(float(rng.uniform(*(FEVER_BODY_C if n in fevers else NORMAL_BODY_C))),
                           2)
            skin_c = float(skin_from_body_c(temp_c, spec.ambient_c))
            shade = rng.integers(30, 200, size=3)
            people.append(Person(
                label=f"p{n + 1}", temp_c=temp_c, skin_c=skin_c,
                face_c=skin_c - float(rng.uniform(*CANTHUS_EXCESS_C)),
                hair_c=float(rng.uniform(*HAIR_C)), clothes_c=float(rng.uniform(*CLOTHES_C)),
                clothes_bgr=(int(shade[0]), int(shade[1]), int(shade[2])),
                group=f"g{g + 1}", paired=size == 2, crop=order[n % n_crops]))
    groups, t_s = [], LEAD_S
    for g in range(len(sizes)):
        members = tuple(range(int(starts[g]), int(starts[g + 1])))
        group = _group(members, t_s, spec, rng)
        groups.append(group)
        t_s = group.end_s + float(rng.uniform(*GAP_S))
    duration_s = groups[-1].end_s + LEAD_S
    return people, Timeline(groups, spec.far_face_rgb, duration_s)


def _crop_order(identities: list[str], rng: np.random.Generator) -> list[int]:
    """Library indices, shuffled, round-robin over identities: neighbours differ when they can."""
    by_who: dict[str, list[int]] = {}
    for i in rng.permutation(len(identities)):
        by_who.setdefault(identities[int(i)], []).append(int(i))
    queues = list(by_who.values())
    order: list[int] = []
    while any(queues):
        order += [q.pop(0) for q in queues if q]
    return order


def _group(members: tuple[int, ...], t0_s: float, spec: RgbSceneSpec,
           rng: np.random.Generator) -> Group:
    s, width = spec.scale, spec.rgb_width
    near_range = spec.near_face_rgb(len(members) > 1)
    near_px = tuple(float(rng.uniform(*near_range)) for _ in members)
    pitch = float(rng.uniform(*PAIR_PITCH_FACES))
    offsets = tuple((i - (len(members) - 1) / 2) * pitch for i in range(len(members)))
    widest = max(near_px) * 1.01
    # Head crops are 1.6 face widths wide: 0.8 either side of the face centre.
    span = max(abs(o) for o in offsets) * widest + 0.8 * widest
    slack = max(0.0, width / 2 - EDGE_MARGIN_PX * s - span)
    x_centre = width / 2 + float(rng.uniform(-1, 1)) * min(slack, 0.12 * width)
    direction = float(rng.choice([-1.0, 1.0]))
    # Far enough that every head and shoulder (1.1 face widths) has left the frame.
    travel_px = width / 2 + abs(x_centre - width / 2) + span + 1.2 * widest + 10 * s
    return Group(
        members=members, t0_s=t0_s, approach_s=float(rng.uniform(*APPROACH_S)),
        dwell_s=float(rng.uniform(*DWELL_S)), exit_s=float(rng.uniform(*EXIT_S)),
        x_centre=x_centre, direction=direction, near_px=near_px, offsets=offsets,
        y_far=spec.rgb_height * 0.40, y_near=spec.rgb_height * 0.44,
        travel_px=travel_px, sway_px=1.5 * s)
