"""The pixel formats and frame sizes a V4L2 node offers (VIDIOC_ENUM_FMT, VIDIOC_ENUM_FRAMESIZES),
for `gate-edge check`. Pure ioctl through fcntl: no OpenCV, and the node is opened without
starting a stream, so listing works while another process captures from it.

struct v4l2_fmtdesc (64 bytes): u32 index, u32 type, u32 flags, u8 description[32],
u32 pixelformat, u32 mbus_code, u32 reserved[3].
struct v4l2_frmsizeenum (44 bytes): u32 index, u32 pixel_format, u32 type, then for type 1
(discrete) u32 width, u32 height; for 2/3 (continuous/stepwise) u32 min_width, max_width,
step_width, min_height, max_height, step_height; u32 reserved[2].
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass

_FMTDESC = struct.Struct("=III32sII12x")
_FRMSIZE = struct.Struct("=III6I8x")
V4L2_BUF_TYPE_VIDEO_CAPTURE = 1
FRMSIZE_DISCRETE = 1
MAX_ENTRIES = 64  # a driver that never ends its list cannot loop us forever


def _iowr(nr: int, size: int) -> int:  # Linux _IOWR('V', nr, size)
    return (3 << 30) | (size << 16) | (ord("V") << 8) | nr


VIDIOC_ENUM_FMT = _iowr(2, _FMTDESC.size)  # 0xC0405602
VIDIOC_ENUM_FRAMESIZES = _iowr(74, _FRMSIZE.size)  # 0xC02C564A

Ioctl = Callable[[int, int, bytearray], object]  # fcntl.ioctl(fd, request, buffer) mutating


@dataclass(frozen=True, slots=True)
class FormatInfo:
    """One pixel format: fourcc ("MJPG", "YUYV", "Y16"), the driver's description, and its
    sizes as "WxH" (discrete) or "WxH..WxH" (a range)."""

    fourcc: str
    description: str
    sizes: tuple[str, ...]


def list_formats(path: str, ioctl: Ioctl | None = None) -> list[FormatInfo]:
    """The capture formats of the V4L2 node at `path`. Raises OSError when it cannot be
    opened (missing, no permission); a node that is not a capture device gives []."""
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    try:
        return formats_of(fd, ioctl or fcntl.ioctl)  # type: ignore[arg-type]
    finally:
        os.close(fd)


def formats_of(fd: int, ioctl: Ioctl) -> list[FormatInfo]:
    out = []
    for index in range(MAX_ENTRIES):
        buf = bytearray(_FMTDESC.pack(index, V4L2_BUF_TYPE_VIDEO_CAPTURE, 0, b"", 0, 0))
        if not _call(ioctl, fd, VIDIOC_ENUM_FMT, buf):
            break
        _, _, _, desc, pixfmt, _ = _FMTDESC.unpack(buf)
        out.append(FormatInfo(_fourcc(pixfmt), desc.split(b"\0")[0].decode(errors="replace"),
                              _sizes(fd, ioctl, pixfmt)))
    return out


def _sizes(fd: int, ioctl: Ioctl, pixfmt: int) -> tuple[str, ...]:
    sizes = []
    for index in range(MAX_ENTRIES):
        buf = bytearray(_FRMSIZE.pack(index, pixfmt, 0, 0, 0, 0, 0, 0, 0))
        if not _call(ioctl, fd, VIDIOC_ENUM_FRAMESIZES, buf):
            break
        _, _, kind, *v = _FRMSIZE.unpack(buf)
        if kind == FRMSIZE_DISCRETE:
            sizes.append(f"{v[0]}x{v[1]}")
        else:  # continuous or stepwise: one entry describes the whole range
            sizes.append(f"{v[0]}x{v[3]}..{v[1]}x{v[4]}")
            break
    return tuple(sizes)


def _call(ioctl: Ioctl, fd: int, request: int, buf: bytearray) -> bool:
    """True when the driver filled `buf`; False at the end of its list (EINVAL)."""
    try:
        ioctl(fd, request, buf)
    except OSError as exc:
        if exc.errno in (errno.EINVAL, errno.ENOTTY):
            return False
        raise
    return True


def _fourcc(code: int) -> str:
    return code.to_bytes(4, "little").decode("latin-1").rstrip("\0 ")
