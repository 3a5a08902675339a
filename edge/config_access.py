"""Config sections of recognition and passes (`[identity]`, `[passes]`); part of edge.config."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from edge.config_base import LaxPath, _cross, _Section


class IdentityConfig(_Section):
    """Face recognition against the list store (docs/lists.md); RGB + thermal mode only."""

    enabled: bool = False
    lists_dir: LaxPath | None = None  # default: lists/ in state.dir
    # Largest descriptor distance that is the same person: chosen on the ROC of the shared
    # photos (docs/face-threshold.md); smaller admits fewer strangers and misses more residents.
    threshold: float = Field(0.5, gt=0.0, lt=2.0)
    samples: int = Field(3, ge=1, le=20)  # best frames embedded per person
    min_quality: float = Field(0.5, ge=0.0, le=10.0)  # edge.vision.embedder.face_quality
    grant_residents_by_face: bool = False  # pass.granted for recognised residents, no pass
    health_allowed: list[Literal["green", "yellow", "red"]] = ["green"]

    @model_validator(mode="after")
    def _allowed_not_empty(self) -> IdentityConfig:
        if self.grant_residents_by_face and not self.health_allowed:
            raise _cross("health_allowed", [], "admitting by face needs at least one status")
        return self


class PassesConfig(_Section):
    """QR passes read by the RGB camera (docs/passes.md); RGB + thermal mode only."""

    enabled: bool = False
    prefix: str = Field("GE1:", pattern=r"^[A-Z0-9]{1,8}:$")  # the compound's own passes
    trusted_keys: list[LaxPath] = []  # pass signers (PEM keys / certificates), besides the lists'
    roi: list[int] | None = None  # x, y, w, h in RGB pixels where passes are held; None: all
    decode_every_n_frames: int = Field(2, ge=1, le=100)  # QR decoding on every Nth RGB frame
    attribute_face_widths: float = Field(3.0, gt=0.0, le=20.0)
    attribute_window_s: float = Field(3.0, gt=0.0, le=60.0)
    repeat_window_s: float = Field(60.0, ge=0.0, le=86400.0)
    holder_mismatch_distance: float = Field(0.6, gt=0.0, lt=2.0)
    require_listed_holder: bool = True
    accept_dcc: bool = True

    @field_validator("roi")
    @classmethod
    def _roi(cls, roi: list[int] | None) -> list[int] | None:
        if roi is not None and (len(roi) != 4 or roi[0] < 0 or roi[1] < 0 or min(roi[2:]) < 16):
            raise ValueError("x, y, w, h with x, y >= 0 and w, h >= 16 RGB pixels")
        return roi
