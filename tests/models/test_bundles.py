"""Model bundles: reproducible packing, and installs that refuse anything unsafe.

The cached models come from `make models` (run by `make test` before pytest). Without a
cache the tests that need it skip (and fail under CI=true).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge import models
from edge.models import ModelError
from tests.models.archives import copy_cache, make_tar, sha_hex

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
    where = copy_cache(cache, tmp_path / "m")
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
    bundle = make_tar(tmp_path / "bad.tar.gz", members)
    target = tmp_path / "target"
    with pytest.raises(ModelError) as err:
        models.install(bundle, target)
    message = str(err.value)
    assert "refused: blazeface_full_range.onnx has sha256" in message
    assert sha_hex(b"not the model") in message
    assert models.get_spec("blazeface_full_range").sha256 in message
    assert not target.exists()  # nothing written, not even the good onet


@pytest.mark.parametrize(
    "evil",
    ["../evil.onnx", "/tmp/evil.onnx", "sub/onet.onnx", "./../evil.onnx", "a\\..\\evil.onnx"],
)
def test_install_refuses_path_traversal(cache: Path, tmp_path: Path, evil: str) -> None:
    members = _good_members(cache)
    members[evil] = b"x"
    bundle = make_tar(tmp_path / "evil.tar.gz", members)
    target = tmp_path / "a" / "target"
    with pytest.raises(ModelError, match="refused: unsafe member name"):
        models.install(bundle, target)
    assert not target.exists() and not (tmp_path / "a" / "evil.onnx").exists()


def test_install_refuses_links_unknown_files_and_foreign_manifests(
    cache: Path, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    linked = make_tar(tmp_path / "l.tar.gz", _good_members(cache), links={"x.onnx": "/etc/passwd"})
    with pytest.raises(ModelError, match=r"'x\.onnx' is not a regular file"):
        models.install(linked, target)
    unknown = make_tar(tmp_path / "u.tar.gz", {**_good_members(cache), "extra.onnx": b"x"})
    with pytest.raises(ModelError, match=r"extra\.onnx is not a model this gate-edge knows"):
        models.install(unknown, target)
    raw = json.loads(models.MANIFEST_PATH.read_text())
    for entry in raw["models"]:
        entry["sha256"] = "f" * 64
    foreign = make_tar(
        tmp_path / "f.tar.gz",
        {**_good_members(cache), "manifest.json": json.dumps(raw).encode()},
    )
    with pytest.raises(ModelError, match="another version"):
        models.install(foreign, target)
    no_manifest = make_tar(tmp_path / "n.tar.gz", {"onet.onnx": b"x"})
    with pytest.raises(ModelError, match=r"no manifest\.json"):
        models.install(no_manifest, target)
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tar")
    with pytest.raises(ModelError, match="not a readable bundle"):
        models.install(tmp_path / "junk.tar.gz", target)
    assert not target.exists()
