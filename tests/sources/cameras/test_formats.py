"""Format enumeration over a fake ioctl that answers like a UVC driver: the struct layouts and
request numbers are the kernel's (linux/videodev2.h)."""

from __future__ import annotations

import errno
import struct
from pathlib import Path

import pytest

from edge.sources.cameras.formats import (
    VIDIOC_ENUM_FMT,
    VIDIOC_ENUM_FRAMESIZES,
    FormatInfo,
    formats_of,
    list_formats,
)


def _code(fourcc: str) -> int:
    return int.from_bytes(fourcc.encode(), "little")


# What a PureThermal 2 offers (a subset), and a stepwise format for the range case.
DRIVER = {
    _code("Y16 "): ("16-bit Greyscale", [(160, 120), (160, 122)]),
    _code("UYVY"): ("UYVY 4:2:2", [(160, 120)]),
    _code("GREY"): ("8-bit Greyscale", "stepwise"),
}


def fake_ioctl(fd: int, request: int, buf: bytearray) -> int:
    assert fd == 7
    if request == VIDIOC_ENUM_FMT:
        index, buf_type = struct.unpack_from("=II", buf)
        assert buf_type == 1 and len(buf) == 64
        codes = list(DRIVER)
        if index >= len(codes):
            raise OSError(errno.EINVAL, "end")
        struct.pack_into("=32sI", buf, 12, DRIVER[codes[index]][0].encode(), codes[index])
        return 0
    if request == VIDIOC_ENUM_FRAMESIZES:
        assert len(buf) == 44
        index, pixfmt = struct.unpack_from("=II", buf)
        sizes = DRIVER[pixfmt][1]
        if sizes == "stepwise":
            if index:
                raise OSError(errno.EINVAL, "end")
            struct.pack_into("=I6I", buf, 8, 3, 80, 640, 16, 60, 480, 4)
            return 0
        if index >= len(sizes):
            raise OSError(errno.EINVAL, "end")
        struct.pack_into("=III", buf, 8, 1, *sizes[index])
        return 0
    raise OSError(errno.ENOTTY, "unknown request")


def test_request_numbers_match_videodev2() -> None:
    assert VIDIOC_ENUM_FMT == 0xC0405602
    assert VIDIOC_ENUM_FRAMESIZES == 0xC02C564A


def test_formats_and_sizes() -> None:
    assert formats_of(7, fake_ioctl) == [
        FormatInfo("Y16", "16-bit Greyscale", ("160x120", "160x122")),
        FormatInfo("UYVY", "UYVY 4:2:2", ("160x120",)),
        FormatInfo("GREY", "8-bit Greyscale", ("80x60..640x480",)),
    ]


def test_other_errors_propagate_and_missing_node(tmp_path: Path) -> None:
    def broken(fd: int, request: int, buf: bytearray) -> int:
        raise OSError(errno.EIO, "I/O error")

    with pytest.raises(OSError, match="I/O error"):
        formats_of(7, broken)
    with pytest.raises(FileNotFoundError):
        list_formats(str(tmp_path / "video0"))


def test_not_a_v4l2_node(tmp_path: Path) -> None:
    plain = tmp_path / "file"
    plain.write_bytes(b"")
    assert list_formats(str(plain)) == []  # a regular file answers ENOTTY: no formats
