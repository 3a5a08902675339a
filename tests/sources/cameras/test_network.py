"""The network opener against a real HTTP MJPEG server started by the test (a threading
http.server sending multipart/x-mixed-replace JPEG frames made with cv2.imencode), read through
OpenCV's FFmpeg backend: frames arrive with the right size and content, the loss of the server
is reported within the timeouts, and the opener reopens once the server is back.

RTSP: the same against GStreamer's RTSP server (rtsp_server.py, run by the system Python with
the distribution's gst-rtsp-server bindings), skipped where those packages are not installed."""

from __future__ import annotations

import itertools
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.sources.cameras import CameraSpec, DeviceError, opener_for
from edge.sources.cameras.base import FrameDevice
from edge.sources.cameras.network import redact_url

WIDTH, HEIGHT = 320, 240
BOUNDARY = "gateedgeframe"
READ_TIMEOUT_S = 1.0
OPEN_TIMEOUT_S = 2.0


def bar_frame(number: int) -> np.ndarray:
    """A dark frame with a white bar 10 * (number % 30) pixels wide: the frame number, read
    back after JPEG by counting bright columns."""
    image = np.full((HEIGHT, WIDTH, 3), 30, np.uint8)
    image[60:180, : 10 * (number % 30)] = 230
    return image


def bar_number(bgr: np.ndarray) -> int:
    bright = bgr[60:180].mean(axis=(0, 2)) > 128
    return round(int(bright.sum()) / 10)


class MjpegServer:
    """Serves numbered frames at ~50 fps to every client until stop(); start() again on the
    same port to come back."""

    def __init__(self) -> None:
        with socket.socket() as probe:  # a free loopback port, kept across restarts
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/stream.mjpg"
        self.frames_sent = 0
        self._stop = threading.Event()
        self.paused = threading.Event()  # set: streams stay connected but send nothing
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != "/stream.mjpg":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type",
                                 f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.end_headers()
                try:
                    while not server._stop.is_set():
                        if server.paused.is_set():
                            server._stop.wait(0.02)
                            continue
                        server.frames_sent += 1
                        ok, jpeg = cv2.imencode(".jpg", bar_frame(server.frames_sent))
                        assert ok
                        self.wfile.write(
                            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                            f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg.tobytes()
                            + b"\r\n")
                        server._stop.wait(0.02)  # the camera's frame rate, not a sync
                except (BrokenPipeError, ConnectionResetError):
                    pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting and end every stream (handlers see the event and return)."""
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)


@pytest.fixture
def server() -> Iterator[MjpegServer]:
    srv = MjpegServer()
    srv.start()
    yield srv
    srv.stop()


def _spec(url: str) -> CameraSpec:
    return CameraSpec(kind="rgb", device="http", url=url, read_timeout_s=READ_TIMEOUT_S,
                      open_timeout_s=OPEN_TIMEOUT_S)


def _read_frames(device: FrameDevice, count: int) -> list[np.ndarray]:
    frames: list[np.ndarray] = []
    deadline = time.monotonic() + 10
    while len(frames) < count and time.monotonic() < deadline:
        frame = device.read(READ_TIMEOUT_S)
        if frame is not None:
            frames.append(frame.data)
    return frames


def test_reads_frames_with_size_and_content(server: MjpegServer) -> None:
    device = opener_for(_spec(server.url))()
    try:
        assert device.kind == "rgb" and device.encoding is None
        assert device.name == f"rgb:{server.url}"
        frames = _read_frames(device, 20)
        assert len(frames) == 20
        for bgr in frames:
            assert bgr.shape == (HEIGHT, WIDTH, 3) and bgr.dtype == np.uint8
        numbers = [bar_number(f) for f in frames]
        # The bar encodes the frame number mod 30: consecutive reads step by 1 (FFmpeg hands
        # over every frame of an HTTP stream in order), wrapping at 30.
        steps = {(b - a) % 30 for a, b in itertools.pairwise(numbers)}
        assert steps == {1}, numbers
        # Content survives JPEG: the decoded frame is close to what the server drew.
        expected = bar_frame(numbers[-1]).astype(np.int16)
        assert np.abs(frames[-1].astype(np.int16) - expected).mean() < 4.0
    finally:
        device.close()


def test_loss_is_reported_and_reopen_works_when_back(server: MjpegServer) -> None:
    opener = opener_for(_spec(server.url))
    device = opener()
    assert len(_read_frames(device, 5)) == 5
    server.stop()
    stopped = time.monotonic()
    with pytest.raises(DeviceError, match=r"stream ended|gone|closed"):
        while time.monotonic() - stopped < 10:
            device.read(READ_TIMEOUT_S)  # None (a timeout) is allowed before the error
    lost_after_s = time.monotonic() - stopped
    device.close()
    # Reported within a few read timeouts (the frames FFmpeg had buffered are handed out first).
    assert lost_after_s < 3 * READ_TIMEOUT_S + 1.0, lost_after_s

    started = time.monotonic()
    with pytest.raises(DeviceError, match=r"cannot open the stream.*within 2 s"):
        opener()  # nothing listens: refused at once
    assert time.monotonic() - started < OPEN_TIMEOUT_S + 1.0

    sent_before = server.frames_sent
    server.start()
    device = opener()
    try:
        frames = _read_frames(device, 5)
        assert len(frames) == 5 and frames[0].shape == (HEIGHT, WIDTH, 3)
        assert server.frames_sent > sent_before  # really the new stream, not a stale buffer
    finally:
        device.close()


def test_a_stalled_stream_times_out_then_asks_for_a_reopen(server: MjpegServer) -> None:
    opener = opener_for(_spec(server.url))
    device = opener()
    try:
        assert len(_read_frames(device, 3)) == 3
        server.paused.set()  # connected, silent: a camera whose encoder hung
        started = time.monotonic()
        frame = device.read(READ_TIMEOUT_S)
        while frame is not None:  # frames already in flight come first
            frame = device.read(READ_TIMEOUT_S)
        waited_s = time.monotonic() - started
        assert READ_TIMEOUT_S * 0.9 <= waited_s < READ_TIMEOUT_S + 1.0, waited_s
        with pytest.raises(DeviceError, match=r"stalled.*reopen"):
            device.read(READ_TIMEOUT_S)
    finally:
        device.close()
    server.paused.clear()
    device = opener()
    try:
        assert len(_read_frames(device, 3)) == 3
    finally:
        device.close()


def test_open_fails_with_a_named_error_for_a_wrong_path(server: MjpegServer) -> None:
    with pytest.raises(DeviceError, match=r"rgb:http://127\.0\.0\.1"):
        # Not MJPEG: the server answers, but a 404 page is no video.
        opener_for(_spec(server.url.replace("stream.mjpg", "missing")))()


def test_redact_url_hides_the_password() -> None:
    assert redact_url("rtsp://admin:s3cret@10.0.0.5:554/stream1") == (
        "rtsp://admin:***@10.0.0.5:554/stream1")
    assert redact_url("http://cam.local/mjpeg") == "http://cam.local/mjpeg"


# ---- RTSP -------------------------------------------------------------------------------

SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")
RTSP_SERVER = Path(__file__).with_name("rtsp_server.py")
# SMPTE bars, left to right, in BGR: grey/white, yellow, cyan, green, magenta, red, blue.
SMPTE_BGR = [(235, 235, 235), (16, 235, 235), (235, 235, 16), (16, 235, 16), (235, 16, 235),
             (16, 16, 235), (235, 16, 16)]


def _rtsp_available() -> bool:
    if SYSTEM_PYTHON is None:
        return False
    probe = ("import gi; gi.require_version('GstRtspServer', '1.0'); "
             "from gi.repository import GstRtspServer")
    return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True).returncode == 0


class RtspServer:
    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"rtsp://127.0.0.1:{self.port}/live"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        assert SYSTEM_PYTHON is not None
        self.proc = subprocess.Popen([SYSTEM_PYTHON, str(RTSP_SERVER), str(self.port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"  # it listens from here on

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def rtsp_server() -> Iterator[RtspServer]:
    if not _rtsp_available():
        pytest.skip("no RTSP server: apt install gir1.2-gst-rtsp-server-1.0 "
                    "gstreamer1.0-plugins-base gstreamer1.0-plugins-good (system python3-gi)")
    srv = RtspServer()
    srv.start()
    yield srv
    srv.stop()


def test_rtsp_frames_loss_and_reopen(rtsp_server: RtspServer) -> None:
    spec = CameraSpec(kind="rgb", device="rtsp", url=rtsp_server.url,
                      read_timeout_s=READ_TIMEOUT_S, open_timeout_s=5.0)
    opener = opener_for(spec)
    device = opener()
    frames = _read_frames(device, 10)
    assert len(frames) == 10
    bgr = frames[-1]
    assert bgr.shape == (240, 320, 3) and bgr.dtype == np.uint8
    for i, expected in enumerate(SMPTE_BGR):
        got = bgr[60, int((i + 0.5) * 320 / 7)].astype(int)
        assert np.abs(got - np.array(expected)).max() < 40, (i, got.tolist(), expected)

    rtsp_server.stop()
    stopped = time.monotonic()
    with pytest.raises(DeviceError):
        while time.monotonic() - stopped < 10:
            device.read(READ_TIMEOUT_S)
    assert time.monotonic() - stopped < 3 * READ_TIMEOUT_S + 1.0
    device.close()
    with pytest.raises(DeviceError, match="cannot open the stream"):
        opener()

    rtsp_server.start()
    device = opener()
    try:
        assert len(_read_frames(device, 5)) == 5
    finally:
        device.close()
