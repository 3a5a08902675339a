"""Typed, validated TOML config. Every error names the file, the key, the bad value and
what is allowed, in one line (ConfigError); the CLI prints it without a traceback."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from edge.errors import ConfigError

_NAME = r"^[A-Za-z0-9_.-]{1,64}$"  # MQTT topic level: no '/', '+', '#'


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GateConfig(_Section):
    site: str = Field("site1", pattern=_NAME)
    gate: str = Field("gate1", pattern=_NAME)


class MqttConfig(_Section):
    broker: str = "mqtt://127.0.0.1:1883"
    prefix: str = Field("gate", pattern=_NAME)
    metrics_interval_s: float = Field(10.0, gt=0, le=3600)
    connect_timeout_s: float = Field(10.0, gt=0, le=600)
    flush_timeout_s: float = Field(60.0, gt=0)
    credentials_file: Path | None = None  # one line: username:password
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

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
        return value

    @model_validator(mode="after")
    def _roi_for_mode(self) -> ReferenceConfig:
        if self.mode == "roi" and self.roi is None:
            raise ValueError("mode 'roi' needs roi = [x, y, w, h]")
        return self


class ThermalConfig(_Section):
    rotate_deg: Literal[0, 90, 180, 270] = 0  # clockwise, to make the scene upright
    reference: ReferenceConfig = ReferenceConfig()


class RgbConfig(_Section):
    """Face detection on the colour camera (RGB + thermal mode)."""

    threads: int = Field(1, ge=1, le=8)  # onnxruntime threads; 1 is fastest on a 2-core box
    score_threshold: float = Field(0.5, gt=0, lt=1)
    min_face_px: int = Field(40, ge=8, le=2000)  # narrower faces are tracked, not measured


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
        det = (
            value[0][0] * (value[1][1] * value[2][2] - value[1][2] * value[2][1])
            - value[0][1] * (value[1][0] * value[2][2] - value[1][2] * value[2][0])
            + value[0][2] * (value[1][0] * value[2][1] - value[1][1] * value[2][0])
        )
        if abs(det) < 1e-12:
            raise ValueError("must be invertible (determinant is 0)")
        return value


class DetectConfig(_Section):
    min_face_frac: float = Field(0.16, gt=0, lt=1)  # of the frame's shorter side
    min_face_px: int | None = Field(None, ge=4)  # overrides min_face_frac when set
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


class SourceConfig(_Section):
    """Where `gate-edge run` gets frames. `replay` feeds a recording through the live path
    (soak tests, a demo gate, fault drills); camera capture comes with the camera issue."""

    kind: Literal["replay"] = "replay"
    path: Path | None = None  # recording folder or .cptv
    loop: bool = False  # start again at the end, timestamps continuing
    speed: float = Field(1.0, gt=0, le=1000)  # x real time
    stall_s: float = Field(5.0, gt=0, le=600)  # no frame for this long: reopen the source


class CommandsConfig(_Section):
    """Signed backend commands (edge.commands.verify). No trusted key: every command is refused."""

    trusted_keys: list[Path] = []  # Ed25519 public keys (PEM) from `gate-edge keygen`
    max_skew_s: float = Field(300.0, ge=0, le=86400)


class StateConfig(_Section):
    dir: Path | None = None  # outbox and sequence numbers; None keeps them in memory


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


def _section_model(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The config model that holds the key at `loc` (for listing its allowed keys)."""
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _describe(err: dict[str, Any], raw: dict[str, Any]) -> str:
    key = ".".join(str(part) for part in err["loc"])
    if err["type"] == "extra_forbidden":
        model = _section_model(tuple(err["loc"]))
        allowed = f" (allowed: {', '.join(model.model_fields)})" if model else ""
        return f"{key}: unknown key{allowed}"
    if err["type"] == "string_pattern_mismatch":
        return f"{key} = {err['input']!r}: allowed are letters, digits, '_', '.', '-' (1-64)"
    if err["type"] == "missing":
        return f"{key}: required key missing"
    return f"{key} = {_redact(err['input'])!r}: {err['msg']}"


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
