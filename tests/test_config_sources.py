"""`[source]` for live cameras (issue 12): `kind = "cameras"` with `[source.thermal]` and an
optional `[source.rgb]`; every mistake is one line naming the file, the dotted key and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import load_config, with_overrides
from edge.errors import ConfigError

LEPTON = '[source.thermal]\ndevice = "lepton"\nusb_id = "1e4e:0100"\n'


def _load(tmp_path: Path, text: str) -> str:
    path = tmp_path / "gate.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


def test_uvc_and_lepton_load(tmp_path: Path) -> None:
    path = tmp_path / "gate.toml"
    path.write_text('[source]\nkind = "cameras"\nstall_s = 3\n' + LEPTON
                    + '[source.rgb]\ndevice = "uvc"\npath = "/dev/video0"\nwidth = 640\n'
                      'height = 480\nfps = 30.0\nfourcc = "MJPG"\nfreeze_frames = 60\n')
    source = load_config(path).source
    assert source.kind == "cameras" and source.thermal is not None and source.rgb is not None
    assert source.thermal.device == "lepton" and source.thermal.target == "1e4e:0100"
    assert source.rgb.fourcc == "MJPG" and source.rgb.freeze_frames == 60
    assert source.thermal.freeze_frames == 30 and source.thermal.max_backoff_s == 30.0


def test_thermal_only_kiosk_has_no_rgb(tmp_path: Path) -> None:
    path = tmp_path / "gate.toml"
    path.write_text('[source]\nkind = "cameras"\n' + LEPTON)
    assert load_config(path).source.rgb is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[source]\nkind = "cameras"\n',
         "source.thermal = None: kind = 'cameras' needs a [source.thermal] table"),
        ('[source]\nkind = "cameras"\n' + LEPTON + '[source.rgb]\ndevice = "rtsp"\n',
         "source.rgb.url = None: required for device = 'rtsp'"),
        ('[source]\nkind = "cameras"\n' + LEPTON
         + '[source.rgb]\ndevice = "rtsp"\nurl = "http://cam/x"\n',
         "source.rgb.url = 'http://cam/x': must start with rtsp://"),
        ('[source]\nkind = "cameras"\n' + LEPTON
         + '[source.rgb]\ndevice = "rtsp"\nurl = "rtsp://admin:secret@cam/1"\n'
           'min_backoff_s = 9.0\nmax_backoff_s = 2.0\n',
         "source.rgb.min_backoff_s = 9.0: must be at most max_backoff_s = 2.0"),
        ('[source]\nkind = "cameras"\n' + LEPTON
         + '[source.rgb]\ndevice = "uvc"\nindex = 0\npath = "/dev/video0"\n',
         "source.rgb.index = 0: give exactly one of path, index, usb_id, url (got path, index)"),
        ('[source]\nkind = "cameras"\n[source.thermal]\ndevice = "uvc"\nindex = 0\n',
         "source.thermal.device = 'uvc': a thermal camera is one of 'lepton', 'p2pro', 'fake'"),
        ('[source]\nkind = "cameras"\n[source.thermal]\ndevice = "lepton"\nusb_id = "1e4e"\n',
         "source.thermal.usb_id = '1e4e': must be vendor:product, 4 hex digits each"),
        ('[source]\nkind = "cameras"\n[source.thermal]\ndevice = "fake"\nindex = 2\n',
         "source.thermal.path = None: required for device = 'fake'"),
        ('[source]\nkind = "cameras"\n' + LEPTON + 'speed = 2.0\n',
         "source.thermal.speed = 2.0: only for device = 'fake'"),
        ('[source]\nkind = "cameras"\npath = "x"\n' + LEPTON,
         "source.path = 'x': only for kind = 'replay'"),
        ('[source]\npath = "x"\n' + LEPTON,
         "source.thermal = '{...}': camera tables are only for kind = 'cameras'"),
        ('[source]\nkind = "cameras"\n' + LEPTON + 'freeze_frames = 1\n',
         "source.thermal.freeze_frames = 1: Input should be greater than or equal to 2"),
        ('[source]\nkind = "cameras"\n' + LEPTON + 'fps = "30"\n',
         "source.thermal.fps = '30': Input should be a valid number"),
    ],
)
def test_camera_mistakes_are_one_line_naming_the_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert _load(tmp_path, text).startswith(expected)


def test_unknown_camera_key_lists_the_allowed_keys(tmp_path: Path) -> None:
    message = _load(tmp_path, '[source]\nkind = "cameras"\n' + LEPTON + 'resolution = 1\n')
    assert message.startswith("source.thermal.resolution: unknown key (allowed: device, path,")


def test_a_url_password_never_reaches_the_message(tmp_path: Path) -> None:
    message = _load(tmp_path, '[source]\nkind = "cameras"\n' + LEPTON
                    + '[source.rgb]\ndevice = "http"\nurl = "rtsp://admin:secret@cam/1"\n')
    assert "secret" not in message and "rtsp://***@cam/1" in message


def test_command_line_overrides_keep_a_camera_config(tmp_path: Path) -> None:
    path = tmp_path / "gate.toml"
    path.write_text('[source]\nkind = "cameras"\n' + LEPTON)
    settings = with_overrides(load_config(path), site="s2")
    assert settings.gate.site == "s2" and settings.source.kind == "cameras"
    assert settings.source.thermal is not None and settings.source.thermal.device == "lepton"


def test_the_configs_thermal_sizes_are_the_parsers() -> None:
    # The config layer cannot import the devices; the two tables must not drift apart.
    from edge.config_sources import THERMAL_SIZES
    from edge.sources.cameras.base import THERMAL_SIZES as PARSED

    assert THERMAL_SIZES == PARSED
