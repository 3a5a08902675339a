"""Typed, validated TOML config. Every error names the file, the key, the bad value and
what is allowed, in one line (ConfigError); the CLI prints it without a traceback.

Strict: a value the gate cannot use fails here, at load time, not later in the gate. Types are
strict (no "5" or true for a number), every float is finite, numbers are bounded by what the
hardware can show, and cross-field rules (min_samples <= decide_samples) are checked."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt
from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from edge.config_access import IdentityConfig as IdentityConfig
from edge.config_access import PassesConfig as PassesConfig
from edge.config_base import LaxPath, _cross, _Section
from edge.config_sources import CameraConfig as CameraConfig
from edge.config_sources import SourceConfig
from edge.errors import ConfigError

_NAME = r"^[A-Za-z0-9_.-]{1,64}$"  # MQTT topic level: no '/', '+', '#'
# Short side of the largest supported thermal sensor (640x512 cores such as the FLIR Boson
# 640; the Lepton 3.5 is 160x120, edge/sim/optics.py SENSORS): a face wider than the frame's
# short side never fits upright in it, so such a minimum measures nobody.
MAX_THERMAL_SENSOR_PX = (640, 512)  # width, height in sensor (unrotated) pixels
MAX_THERMAL_SHORT_SIDE_PX = min(MAX_THERMAL_SENSOR_PX)
# A registration must invert to at least 4 of a double's ~16 significant digits: the bound a
# recording's registration has too (docs/recording-format.md, edge/sources/recording.py).
MAX_CONDITION = 1e12
# The RGB frame a registration is checked over (the 640x480 frame the gate is specified and
# measured with): its corners must map to finite thermal points, none at or behind the
# horizon (w > 0 once H is scaled to H[2,2] = 1; w is affine, so then all of the frame is).
RGB_FRAME_CORNERS = ((0.0, 0.0), (639.0, 0.0), (0.0, 479.0), (639.0, 479.0))
# Longer than any flush should wait; far larger values overflow the platform's timer
# (threading.TIMEOUT_MAX) with a traceback when the gate waits.
MAX_FLUSH_S = 86400.0

class GateConfig(_Section):
    site: str = Field("site1", pattern=_NAME)
    gate: str = Field("gate1", pattern=_NAME)


class MqttConfig(_Section):
    broker: str = "mqtt://127.0.0.1:1883"
    prefix: str = Field("gate", pattern=_NAME)
    metrics_interval_s: float = Field(10.0, gt=0, le=3600)
    connect_timeout_s: float = Field(10.0, gt=0, le=600)
    flush_timeout_s: float = Field(60.0, gt=0, le=MAX_FLUSH_S)
    credentials_file: LaxPath | None = None  # one line: username:password
    ca_file: LaxPath | None = None
    cert_file: LaxPath | None = None
    key_file: LaxPath | None = None

    @field_validator("broker")
    @classmethod
    def _url(cls, value: str) -> str:
        from edge.transport.address import parse_broker_url  # the same rules as at connect time

        try:
            parse_broker_url(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value


class ReferenceConfig(_Section):
    # auto: use the recording's reference, else find a disc; roi: use `roi`; off: none.
    mode: Literal["auto", "roi", "off"] = "auto"
    roi: list[int] | None = None  # x, y, w, h in sensor (unrotated) pixels
    temp_c: float | None = Field(None, ge=20.0, le=60.0)

    @field_validator("roi")
    @classmethod
    def _roi(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and (len(value) != 4 or min(value) < 0 or 0 in value[2:]):
            raise ValueError("must be 4 integers [x, y, w, h], x, y >= 0 and w, h > 0")
        w_max, h_max = MAX_THERMAL_SENSOR_PX  # no supported sensor shows a larger ROI
        if value is not None and (value[0] + value[2] > w_max or value[1] + value[3] > h_max):
            raise ValueError(f"must lie inside the largest supported sensor, {w_max}x{h_max} "
                             f"(x + w <= {w_max}, y + h <= {h_max})")
        return value

    @model_validator(mode="after")
    def _roi_for_mode(self) -> ReferenceConfig:
        if self.mode == "roi" and self.roi is None:
            raise _cross("roi", None, "required when mode = 'roi': roi = [x, y, w, h]")
        return self


class ThermalConfig(_Section):
    rotate_deg: Literal[0, 90, 180, 270] = 0  # clockwise, to make the scene upright
    reference: ReferenceConfig = ReferenceConfig()

    @field_validator("rotate_deg", mode="before")
    @classmethod
    def _int_only(cls, value: object) -> object:
        # A Literal compares by ==, so false and 90.0 would pass as 0 and 90.
        if type(value) is not int:
            raise PydanticCustomError("literal_error", "Input should be 0, 90, 180 or 270")
        return value


class RgbConfig(_Section):
    """Face detection on the colour camera (RGB + thermal mode)."""

    threads: int = Field(1, ge=1, le=8)  # onnxruntime threads; 1 is fastest on a 2-core box
    score_threshold: float = Field(0.5, gt=0, lt=1)
    min_face_px: int = Field(40, ge=8, le=2000)  # narrower faces are tracked, not measured
    # Full face detection at least every this many RGB frames (1: every frame); faces are
    # followed by O-Net in between, and motion or a lost face detects sooner (edge.vision.cadence).
    detect_every: int = Field(6, ge=1, le=60)


class RegistrationConfig(_Section):
    # 3x3 homography from RGB pixels to (unrotated) thermal pixels; unset = the recording's.
    # `gate-edge calibrate` computes it from point pairs.
    rgb_to_thermal: list[list[float]] | None = None

    @field_validator("rgb_to_thermal")
    @classmethod
    def _h(cls, value: list[list[float]] | None) -> list[list[float]] | None:
        if value is None:
            return None
        if len(value) != 3 or any(len(row) != 3 for row in value):
            raise ValueError("must be a 3x3 matrix (3 rows of 3 numbers)")
        problem = homography_problem(np.array(value, dtype=np.float64))
        if problem:
            raise ValueError(problem)
        return value  # as given: a homography's scale does not change the mapping


def homography_problem(h: npt.NDArray[np.float64]) -> str | None:
    """Why a finite 3x3 RGB -> thermal homography is unusable, or None. Scale-free: conditioning
    instead of a determinant (H * 1e-5 is the same mapping, with a determinant 1e-15 times)."""
    sv = np.linalg.svd(h, compute_uv=False)
    cond = float(sv[0] / sv[-1]) if sv[-1] > 0 else float("inf")
    if not cond < MAX_CONDITION:
        return (f"must be an invertible homography: condition number {cond:.3g}, "
                f"allowed below {MAX_CONDITION:.0e}")
    if h[2, 2] == 0:
        return "maps the RGB frame's corner (0, 0) to infinity (H[2][2] = 0)"
    hn = h / h[2, 2]
    for x, y in RGB_FRAME_CORNERS:
        p = hn @ np.array([x, y, 1.0])
        if not (p[2] > 0 and np.isfinite(p[:2] / p[2]).all()):
            return (f"maps the RGB frame's corner ({x:.0f}, {y:.0f}) to infinity or behind "
                    f"the horizon (w = {p[2]:.3g} with H[2][2] = 1; allowed w > 0 at the "
                    "corners of a 640x480 frame)")
    return None


class DetectConfig(_Section):
    min_face_frac: float = Field(0.16, gt=0, lt=1)  # of the frame's shorter side
    # Overrides min_face_frac when set; at most the largest sensor's short side (above).
    min_face_px: int | None = Field(None, ge=4, le=MAX_THERMAL_SHORT_SIDE_PX)
    person_delta_c: float = Field(2.5, gt=0, le=20)
    skin_floor_c: float = Field(30.0, ge=15, le=40)
    face_band_c: float = Field(2.5, gt=0, le=10)


class ScreeningConfig(_Section):
    threshold_c: float = Field(37.3, ge=35.0, le=40.0)
    min_samples: int = Field(5, ge=1, le=1000)
    decide_samples: int = Field(9, ge=1, le=1000)
    ambient_c: float | None = Field(None, ge=-30, le=60)
    # peak: the face's (or canthus disc's) hottest clean pixel at its interpolated peak, with
    # defective pixels rejected (edge.thermal.peak); local-mean: the maximum of a
    # window_px x window_px mean (reads a one-pixel canthus low; kept for comparison).
    statistic: Literal["peak", "local-mean"] = "peak"
    window_px: int = Field(3, ge=1, le=9)
    canthus_radius_px: int = Field(2, ge=0, le=8)  # search disc around each mapped canthus
    min_thermal_face_px: float = Field(12.0, ge=2, le=500)  # face width in thermal pixels
    max_pair_ms: float = Field(150.0, gt=0, le=2000)  # RGB and thermal frames this close pair
    # Site calibration: what this camera, at this distance, reads below a reference
    # thermometer on real faces (lens blur over a few-pixel canthus reads low). Added to
    # every skin reading after the reference-source correction.
    skin_offset_c: float = Field(0.0, ge=-5.0, le=5.0)
    # With a reference installed but lost or unstable, a person whose uncorrected estimate is
    # within this of the threshold (or above it) gets `recheck` instead of fever / screening.
    recheck_margin_c: float = Field(1.0, ge=0.0, le=5.0)
    # Sequential decision (edge.core.decide): a person whose face has stopped growing and whose
    # estimate is at least early_margin_c from the boundary is decided before decide_samples;
    # nearer ones wait for the full evidence. early = false: everyone waits.
    early: bool = True
    early_margin_c: float = Field(0.3, ge=0.05, le=5.0)
    # Baseline mode, for a gate without a reference source: a fever is an estimate at least
    # baseline_margin_c above the median of the last baseline_samples decisions at
    # this gate (unset = off: the absolute threshold_c); threshold_c applies until
    # baseline_min_samples are in. README "Baseline mode".
    baseline_margin_c: float | None = Field(None, gt=0.0, le=3.0)
    baseline_samples: int = Field(20, ge=5, le=1000)
    baseline_min_samples: int = Field(10, ge=3, le=1000)

    @model_validator(mode="after")
    def _samples(self) -> ScreeningConfig:
        if self.min_samples > self.decide_samples:
            raise _cross(
                "min_samples", self.min_samples,
                f"must be at most screening.decide_samples = {self.decide_samples} (a person"
                " counts after min_samples measured frames and is decided after decide_samples)",
            )
        if self.baseline_min_samples > self.baseline_samples:
            raise _cross(
                "baseline_min_samples", self.baseline_min_samples,
                f"must be at most screening.baseline_samples = {self.baseline_samples}",
            )
        return self


class CommandsConfig(_Section):
    """Signed backend commands (edge.commands.verify). No trusted key: every command is refused."""

    trusted_keys: list[LaxPath] = []  # Ed25519 public keys (PEM) from `gate-edge keygen`
    max_skew_s: float = Field(300.0, ge=0, le=86400)


class StateConfig(_Section):
    dir: LaxPath | None = None  # outbox and sequence numbers; None keeps them in memory


class Settings(_Section):
    # auto: RGB + thermal when the source has both streams and a registration, else thermal.
    mode: Literal["auto", "thermal", "rgb_thermal"] = "auto"
    gate: GateConfig = GateConfig()
    mqtt: MqttConfig = MqttConfig()
    thermal: ThermalConfig = ThermalConfig()
    rgb: RgbConfig = RgbConfig()
    registration: RegistrationConfig = RegistrationConfig()
    detect: DetectConfig = DetectConfig()
    screening: ScreeningConfig = ScreeningConfig()
    source: SourceConfig = SourceConfig()
    commands: CommandsConfig = CommandsConfig()
    state: StateConfig = StateConfig()
    identity: IdentityConfig = IdentityConfig()
    passes: PassesConfig = PassesConfig()

    @model_validator(mode="after")
    def _lists_somewhere(self) -> Settings:
        on = self.identity.enabled or self.passes.enabled
        if on and self.identity.lists_dir is None and self.state.dir is None:
            raise _cross(
                "identity", None,
                "identity.enabled / passes.enabled need identity.lists_dir, or state.dir to "
                "keep lists/ in",
            )
        return self

    @property
    def lists_dir(self) -> Path | None:
        """Where the list store lives (None: recognition cannot run)."""
        if self.identity.lists_dir is not None:
            return self.identity.lists_dir
        return self.state.dir / "lists" if self.state.dir is not None else None


def _section_model(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The config model that holds the key at `loc` (for listing its allowed keys)."""
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        # An optional table (`CameraConfig | None`): its model.
        annotation = next((a for a in get_args(annotation) if isinstance(a, type)
                           and issubclass(a, BaseModel)), annotation)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _key(loc: tuple[Any, ...]) -> str:
    """The dotted key, list indices as [i]: registration.rgb_to_thermal[0][2]."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _describe(err: dict[str, Any], raw: dict[str, Any]) -> str:
    key = _key(tuple(err["loc"]))
    if err["type"] == "extra_forbidden":
        model = _section_model(tuple(err["loc"]))
        allowed = f" (allowed: {', '.join(model.model_fields)})" if model else ""
        return f"{key}: unknown key{allowed}"
    if err["type"] == "string_pattern_mismatch":
        return f"{key} = {err['input']!r}: allowed are letters, digits, '_', '.', '-' (1-64)"
    if err["type"] == "missing":
        return f"{key}: required key missing"
    value, msg = err["input"], str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "cross_field":
        key, value = _key((*err["loc"], err["ctx"]["field"])), err["ctx"]["value"]
    elif err["type"] in ("int_type", "float_type") and isinstance(value, (str, bool)):
        msg += f", not {'a string' if isinstance(value, str) else 'true/false'} (no conversion)"
    return f"{key} = {_redact(value)!r}: {msg}"


def _redact(value: object) -> object:
    """A URL's user:password never reaches an error message (or a log)."""
    if isinstance(value, str) and "://" in value and "@" in value:
        scheme, rest = value.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return value


def validate(raw: dict[str, Any], origin: str) -> Settings:
    """Settings from a parsed dict; `origin` names where it came from in errors."""
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{origin}: {_describe(dict(first), raw)}{more}") from None


def load_config(path: Path | None) -> Settings:
    """Settings from a TOML file, or the defaults when `path` is None."""
    if path is None:
        return Settings()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return validate(raw, str(path))


def with_overrides(settings: Settings, **flags: str | None) -> Settings:
    """Apply command-line overrides (broker, site, gate) and validate them like the file."""
    raw = settings.model_dump(mode="python")
    if flags.get("broker"):
        raw["mqtt"]["broker"] = flags["broker"]
    for key in ("site", "gate"):
        if flags.get(key):
            raw["gate"][key] = flags[key]
    return validate(raw, "command line")
