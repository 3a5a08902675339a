"""Model manifest and cache verification: checksums against models/manifest.json, which
is how CI checks the cached models.

The cached models come from `make models` (run by `make test` before pytest). Without a
cache the tests that need it skip (and fail under CI=true).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from edge import models
from edge.models import ModelError
from tests.models.archives import copy_cache
from tests.shared import REPO_ROOT as REPO

# ---------------------------------------------------------------------------- manifest


def test_manifest_is_the_packaged_one_and_complete() -> None:
    assert models.MANIFEST_PATH.read_bytes() == (REPO / "models" / "manifest.json").read_bytes()
    specs = models.manifest()
    assert models.default_names() == ["blazeface_full_range", "onet", "dlib_resnet"]
    assert [s.name for s in models.fallbacks_of("blazeface_full_range")] == ["blazeface_back_256"]
    for spec in specs.values():
        assert len(spec.sha256) == 64 and len(spec.source.member_sha256) == 64
        assert spec.file == f"{spec.name}.onnx"
        assert spec.inputs and spec.outputs and spec.license and spec.size > 0
        assert spec.source.registry in ("PyPI", "npm")
    assert specs["blazeface_full_range"].produce == "tflite2onnx"
    assert specs["blazeface_full_range"].inputs[0].shape == (1, 3, 192, 192)
    assert specs["onet"].inputs[0].shape == ("N", 48, 48, 3)
    assert specs["dlib_resnet"].produce == "tfjs2onnx"
    assert [len(m.sha256) for m in specs["dlib_resnet"].source.extra_members] == [64]


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
    assert len(problems) == 3 and all("run gate-edge models" in p for p in problems)
    with pytest.raises(ModelError, match=r"unknown model 'nope'.*onet"):
        models.model_path("nope", tmp_path)


def test_tampered_model_is_detected(cache: Path, tmp_path: Path) -> None:
    where = copy_cache(cache, tmp_path / "m")
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
    where = copy_cache(cache, tmp_path / "m")
    spare = models.get_spec("blazeface_back_256")
    (where / "blazeface_full_range.onnx").unlink()
    (where / spare.file).unlink(missing_ok=True)
    assert [p for p in models.check_models(where) if "blazeface_full_range" in p]
    fake = replace(spare, sha256=models.file_sha256(where / "onet.onnx"))
    shutil.copy(where / "onet.onnx", where / spare.file)
    specs = {**models.manifest(), spare.name: fake}
    monkeypatch.setattr(models.specs, "manifest", lambda: specs)
    assert models.check_models(where) == []
