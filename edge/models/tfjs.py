"""Converting face-api's tfjs dlib face-recognition ResNet to ONNX (fetch time only, `onnx`).

`@vladmandic/face-api` ships dlib's 128-D face descriptor network (dlib_face_recognition_resnet_
model_v1, Davis King, public domain weights) as tfjs weights: a weights manifest (JSON) and one
`.bin` shard, mostly uint8-quantised. face-api runs it with hand-written tfjs code (package/src/
faceRecognitionNet/*.ts), not a tfjs graph, so the ONNX graph is built here from that code:

    x = (rgb - [122.782, 117.001, 104.298]) / 256     dlib's input_rgb_image_sized (face-api: /255)
    conv32_down: conv 7x7 stride 2 "valid" + scale + relu; max pool 3x3 stride 2 "valid"
    residual x3 (32), residualDown + residual x3 (64), residualDown + residual x2 (128),
    residualDown + residual x2 (256), residualDown (conv256_down_out)
    global mean over H, W; fc 256 -> 128 without bias

A conv layer is conv + bias, then dlib's affine layer (`scale`: x * weights + biases), folded
here into one Conv. Stride-1 convs pad "same" (1 px each side for 3x3), stride-2 convs and the
pools pad nothing ("valid"), as in tfjs and in dlib's con_/max_pool/avg_pool defaults.
residual: relu(conv2(relu(conv1(x))) + x). residualDown: the main branch convolves with stride
2, the shortcut is a 2x2 stride-2 average pool of x, zero-padded in channels (C -> 2C); where
the branches differ in size (8 -> 3 vs 4, 4 -> 1 vs 2) the main branch is zero-padded at the
bottom and right, as face-api's concat of zeros and dlib's add_prev both do.

The input is NHWC float32 RGB pixels 0..255 of dlib's 150x150 face chip, batch dimension "N";
the output is the raw descriptor (not L2-normalised; dlib compares by Euclidean distance).
The bytes are deterministic: fixed node order, initializers sorted by name, deterministic
serialisation, no timestamps. Checked on real chips against dlib itself (tests/vision/
test_embedder_dlib.py: cosine >= 0.9995) and, once by hand, against face-api 1.7.15 running in
node on tfjs's CPU backend (Euclidean distance 0.0008-0.0012 at descriptor norms ~1.5, its
/255 input scaling included).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.models.errors import ModelError

CHIP_PX = 150
MEAN_RGB = (122.782, 117.001, 104.298)
INPUT_SCALE = 1.0 / 256.0  # dlib divides by 256; face-api by 255 (a 0.4 % input gain)
INPUT_NAME, OUTPUT_NAME = "chips", "descriptors"
OPSET = 13
IR_VERSION = 8  # onnxruntime 1.10+ reads it: old runtimes on gate boxes still load the model

_QUANT_DTYPES: dict[str, np.dtype[Any]] = {"uint8": np.dtype("<u1"), "uint16": np.dtype("<u2")}
# (name, residual blocks) per stage: the first block of every stage after conv32 is a
# residualDown; conv256_down_out is a lone residualDown.
_STAGES = (("conv32", 3, False), ("conv64", 3, True), ("conv128", 2, True),
           ("conv256", 2, True))

Weights = dict[str, npt.NDArray[np.float32]]


def _decode_one(entry: Mapping[str, Any], data: bytes, offset: int) -> tuple[Any, int]:
    """One weight of a tfjs shard stream: float32, or quantised q * scale + min."""
    shape = tuple(int(d) for d in entry["shape"])
    count = int(np.prod(shape, dtype=np.int64))
    if entry.get("dtype", "float32") != "float32":
        raise ModelError(f"tfjs weight {entry['name']}: dtype {entry['dtype']} is not supported")
    quant = entry.get("quantization")
    stored: np.dtype[Any] = np.dtype("<f4")
    if quant is not None:
        if str(quant.get("dtype")) not in _QUANT_DTYPES:
            raise ModelError(
                f"tfjs weight {entry['name']}: quantization {quant.get('dtype')!r} is not "
                "supported (uint8 or uint16 with scale and min)"
            )
        stored = _QUANT_DTYPES[str(quant["dtype"])]
    end = offset + count * stored.itemsize
    if end > len(data):
        raise ModelError(f"tfjs weight {entry['name']}: the shards end at byte {len(data)}, "
                         f"the manifest needs {end}")
    raw = np.frombuffer(data, stored, count, offset)
    if quant is None:
        values = raw.astype(np.float64)
    else:  # tfjs io: dequantised = q * scale + min, computed in float64 then stored as float32
        values = raw.astype(np.float64) * float(quant["scale"]) + float(quant["min"])
    return values.reshape(shape), end


def decode_weights(manifest_json: bytes, shards: Mapping[str, bytes]) -> dict[str, Any]:
    """{name: float64 array} of a tfjs weights manifest; `shards` maps each group path to bytes.

    Every group's shards are concatenated and its weights read back to back, as tfjs does.
    """
    try:
        groups = json.loads(manifest_json)
        result: dict[str, Any] = {}
        for group in groups:
            missing = [p for p in group["paths"] if p not in shards]
            if missing:
                raise ModelError(f"tfjs weights manifest names shard {missing[0]}, which was "
                                 f"not given (have: {', '.join(sorted(shards)) or 'none'})")
            data = b"".join(shards[p] for p in group["paths"])
            offset = 0
            for entry in group["weights"]:
                result[str(entry["name"])], offset = _decode_one(entry, data, offset)
            if offset != len(data):
                raise ModelError(f"tfjs shards {group['paths']}: {len(data) - offset} bytes "
                                 "left over after the last weight (wrong manifest?)")
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"not a valid tfjs weights manifest: {exc!r}") from None
    return result


class _Graph:
    """Collects nodes and initializers; tracks the (channels, height, width) of the stream."""

    def __init__(self, onnx: Any, weights: Mapping[str, Any]) -> None:
        self.onnx, self.weights = onnx, weights
        self.nodes: list[Any] = []
        self.inits: dict[str, Any] = {}
        self.count = 0

    def const(self, name: str, value: npt.ArrayLike, dtype: Any = np.float32) -> str:
        self.inits[name] = self.onnx.numpy_helper.from_array(np.asarray(value, dtype), name)
        return name

    def node(self, op: str, inputs: list[str], out: str = "", **attrs: Any) -> str:
        self.count += 1
        out = out or f"{op.lower()}_{self.count}"
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x: str, prefix: str, stride: int, relu: bool) -> str:
        """face-api convLayer: conv (+bias), dlib affine (scale), optional relu; folded."""
        w = self.weights
        filters = np.asarray(w[f"{prefix}/conv/filters"], np.float64)  # HWIO
        gain = np.asarray(w[f"{prefix}/scale/weights"], np.float64)
        bias = np.asarray(w[f"{prefix}/conv/bias"], np.float64) * gain
        bias = bias + np.asarray(w[f"{prefix}/scale/biases"], np.float64)
        kernel = (filters * gain).transpose(3, 2, 0, 1)  # OIHW
        k = kernel.shape[2]
        pad = 0 if stride != 1 else k // 2  # "valid" for stride 2, "same" for stride 1
        name = prefix.replace("/", "_")
        out = self.node(
            "Conv", [x, self.const(f"{name}_w", kernel), self.const(f"{name}_b", bias)],
            f"{name}_conv", kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4,
        )
        return self.node("Relu", [out], f"{name}_relu") if relu else out


def _valid(size: int, kernel: int, stride: int) -> int:
    return (size - kernel) // stride + 1


def _residual(g: _Graph, x: str, prefix: str) -> str:
    out = g.conv(g.conv(x, f"{prefix}/conv1", 1, True), f"{prefix}/conv2", 1, False)
    return g.node("Relu", [g.node("Add", [out, x])], f"{prefix}_out")


def _residual_down(g: _Graph, x: str, prefix: str, channels: int, size: int) -> tuple[str, int]:
    """face-api residualDown on a (channels, size, size) input; returns (output, new size)."""
    out = g.conv(g.conv(x, f"{prefix}/conv1", 2, True), f"{prefix}/conv2", 1, False)
    out_size, pooled_size = _valid(size, 3, 2), _valid(size, 2, 2)
    out_channels = int(np.asarray(g.weights[f"{prefix}/conv2/conv/filters"]).shape[3])
    pooled = g.node("AveragePool", [x], f"{prefix}_pool", kernel_shape=[2, 2], strides=[2, 2])
    if out_size != pooled_size:  # main branch smaller: zeros at the bottom and right
        grow = pooled_size - out_size
        pads = g.const(f"{prefix}_pad_hw", [0, 0, 0, 0, 0, 0, grow, grow], np.int64)
        out = g.node("Pad", [out, pads], f"{prefix}_padded")
    if out_channels != channels:  # shortcut has fewer channels: zero channels after them
        pads = g.const(f"{prefix}_pad_c", [0, 0, 0, 0, 0, out_channels - channels, 0, 0],
                       np.int64)
        pooled = g.node("Pad", [pooled, pads], f"{prefix}_pool_padded")
    return g.node("Relu", [g.node("Add", [out, pooled])], f"{prefix}_out"), pooled_size


def build_dlib_resnet(weights: Mapping[str, Any]) -> Any:
    """The onnx.ModelProto of face-api's FaceRecognitionNet with these (decoded) weights."""
    onnx = importlib.import_module("onnx")
    g = _Graph(onnx, weights)
    x = g.node("Sub", [INPUT_NAME, g.const("mean_rgb", np.reshape(MEAN_RGB, (1, 1, 1, 3)))])
    x = g.node("Mul", [x, g.const("input_scale", INPUT_SCALE)])
    x = g.node("Transpose", [x], "nchw", perm=[0, 3, 1, 2])
    x = g.conv(x, "conv32_down", 2, True)
    x = g.node("MaxPool", [x], "conv32_down_pool", kernel_shape=[3, 3], strides=[2, 2])
    size, channels = _valid(_valid(CHIP_PX, 7, 2), 3, 2), 32
    for stage, blocks, down in _STAGES:
        if down:
            x, size = _residual_down(g, x, f"{stage}_down", channels, size)
            channels *= 2
        for i in range(1, blocks + 1):
            x = _residual(g, x, f"{stage}_{i}")
    x, size = _residual_down(g, x, "conv256_down_out", channels, size)
    x = g.node("ReduceMean", [x], "global_mean", axes=[2, 3], keepdims=0)
    g.node("MatMul", [x, g.const("fc", weights["fc"])], OUTPUT_NAME)
    helper, tp = onnx.helper, onnx.TensorProto
    graph = helper.make_graph(
        g.nodes, "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info(INPUT_NAME, tp.FLOAT, ["N", CHIP_PX, CHIP_PX, 3])],
        [helper.make_tensor_value_info(OUTPUT_NAME, tp.FLOAT, ["N", 128])],
        initializer=[g.inits[k] for k in sorted(g.inits)],
    )
    model = helper.make_model(graph, producer_name="gate-edge tfjs2onnx",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def convert_tfjs(manifest_json: bytes, shards: Mapping[str, bytes]) -> bytes:
    """ONNX bytes (deterministic) of face-api's face recognition net from its tfjs files."""
    try:
        importlib.import_module("onnx")
    except ImportError as exc:
        raise ModelError(
            f"converting tfjs weights needs onnx at fetch time ({exc}): "
            "pip install 'gate-edge[models]' (make setup does)"
        ) from None
    weights = decode_weights(manifest_json, shards)
    try:
        model = build_dlib_resnet(weights)
    except KeyError as exc:
        raise ModelError(f"tfjs weights lack {exc} (not face-api's recognition net?)") from None
    return bytes(model.SerializeToString(deterministic=True))
