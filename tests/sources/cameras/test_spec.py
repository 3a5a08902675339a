"""CameraSpec validation and as_spec (what the config's camera model converts through)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from edge.sources.cameras import CameraSpec, as_spec, encoding_for
from edge.sources.cameras.base import THERMAL_SIZES
from edge.sources.cameras.lepton import LEPTON_HEIGHT, LEPTON_WIDTH
from edge.sources.cameras.p2pro import P2PRO_HEIGHT, P2PRO_WIDTH


def test_valid_specs_and_target() -> None:
    assert CameraSpec(kind="rgb", device="uvc", index=0).target == "0"
    lepton = CameraSpec(kind="thermal", device="lepton", usb_id="1E4E:0100")
    assert lepton.target == "1E4E:0100" and lepton.read_timeout_s == 2.0
    assert CameraSpec(kind="rgb", device="rtsp", url="rtsp://cam/1").target == "rtsp://cam/1"
    assert (encoding_for("lepton"), encoding_for("p2pro"), encoding_for("uvc")) == (
        "centikelvin", "p2pro", None)
    assert THERMAL_SIZES == {"lepton": (LEPTON_WIDTH, LEPTON_HEIGHT),
                             "p2pro": (P2PRO_WIDTH, P2PRO_HEIGHT)}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"kind": "rgb", "device": "lepton", "path": "/dev/video0"}, "cannot be a rgb camera"),
    ({"kind": "thermal", "device": "uvc", "path": "/dev/video0"}, "cannot be a thermal"),
    ({"kind": "rgb", "device": "uvc"}, "exactly one of path, index, usb_id, url"),
    ({"kind": "rgb", "device": "uvc", "path": "/dev/video0", "index": 0}, "got path, index"),
    ({"kind": "rgb", "device": "rtsp", "path": "/dev/video0"}, "needs url"),
    ({"kind": "rgb", "device": "uvc", "url": "http://x"}, "url is only for rtsp/http"),
    ({"kind": "thermal", "device": "lepton", "usb_id": "1e4e-0100"}, "not vvvv:pppp"),
    ({"kind": "rgb", "device": "uvc", "index": 0, "fourcc": "MJPEG"}, "not 4 characters"),
    ({"kind": "rgb", "device": "uvc", "index": 0, "fps": 0}, "fps must be > 0"),
    ({"kind": "rgb", "device": "gige", "index": 0}, "device 'gige' is not one of"),
    ({"kind": "rgb", "device": "uvc", "index": 0, "read_timeout_s": None}, "is required"),
])
def test_invalid_specs_say_why(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CameraSpec(**kwargs)  # type: ignore[arg-type]


def test_as_spec_from_mapping_and_model_like_objects() -> None:
    spec = CameraSpec(kind="rgb", device="uvc", index=1)
    assert as_spec(spec) is spec
    from_map = as_spec({"kind": "thermal", "device": "p2pro", "path": "/dev/video2",
                        "rotate_deg": 90})  # keys the spec does not have are ignored
    assert from_map == CameraSpec(kind="thermal", device="p2pro", path="/dev/video2")
    model = SimpleNamespace(kind="rgb", device="http", url="http://cam/mjpg", path=None,
                            read_timeout_s=0.5)
    assert as_spec(model).read_timeout_s == 0.5
    with pytest.raises(ValueError, match="needs url"):
        as_spec({"kind": "rgb", "device": "rtsp", "index": 0})
