"""`gate-edge record` from the command line: flags, summary, refusals, and a clean stop on
SIGINT/SIGTERM in a real child process (its recording replays)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import edge.cli.record
from edge.app.record import CAPTURE_KEY
from edge.app.replay import replay
from edge.cli.main import main
from edge.config import load_config
from tests.app.record_fakes import openers
from tests.shared import REPO_ROOT

CONFIG = """\
mode = "thermal"
[registration]
rgb_to_thermal = [[1.25, 0.0, 0.0], [0.0, 1.25, 0.0], [0.0, 0.0, 1.0]]
[thermal.reference]
mode = "roi"
roi = [2, 3, 6, 5]
temp_c = 35.0
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "gate.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(_settings: object) -> tuple[dict[str, object], dict[str, str], dict[str, object]]:
        names = {"thermal": "thermal:endless", "rgb": "rgb:endless"}
        return dict(openers(period_s=0.01)), names, {"thermal": {"freeze_frames": 5}}

    monkeypatch.setattr(edge.cli.record, "camera_openers", fake)


@pytest.mark.usefixtures("fakes")
def test_duration_flag_and_summary(tmp_path: Path, config: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rec"
    assert main(["record", str(out), "--config", str(config), "--duration", "0.3"]) == 0
    printed = capsys.readouterr()
    assert printed.err.startswith(f"recording {out}: thermal 160x120 (thermal:endless), "
                                  "rgb 128x96 (rgb:endless)")
    assert "--duration reached" in printed.out and "thermal" in printed.out
    meta = json.loads((out / "meta.json").read_text())
    assert meta[CAPTURE_KEY]["stopped_by"] == "duration"
    # A second run into the same folder is refused unless --overwrite.
    assert main(["record", str(out), "--config", str(config), "--duration", "0.2"]) == 2
    assert "already holds a recording" in capsys.readouterr().err
    assert main(["record", str(out), "--config", str(config), "--max-mb", "0.5",
                 "--overwrite"]) == 0
    assert "--max-mb reached" in capsys.readouterr().out
    assert sum(p.stat().st_size for p in out.iterdir()) <= 500_000


def test_flags_are_checked(tmp_path: Path, config: Path) -> None:
    for bad in (["--duration", "0"], ["--max-mb", "-1"], ["--duration", "x"]):
        with pytest.raises(SystemExit) as exc:
            main(["record", str(tmp_path / "r"), "--config", str(config), *bad])
        assert exc.value.code == 2
    with pytest.raises(SystemExit):
        main(["record", str(tmp_path / "r")])  # --config is required


def test_a_replay_config_is_refused(tmp_path: Path, config: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["record", str(tmp_path / "r"), "--config", str(config)]) == 2
    assert 'kind = "cameras"' in capsys.readouterr().err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_cleanly(tmp_path: Path, config: Path, signum: int) -> None:
    out = tmp_path / "rec"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.cli.record_child", "record", str(out),
         "--config", str(config)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killer = threading.Timer(60.0, child.kill)  # a hung child fails the test, never hangs it
    killer.start()
    try:
        assert child.stderr is not None
        first = child.stderr.readline()  # blocks until frames are on disk
        assert first.startswith(f"recording {out}:"), first + child.stderr.read()
        child.send_signal(signum)
        stdout, stderr = child.communicate(timeout=30)
    finally:
        killer.cancel()
        child.kill()
    assert child.returncode == 0, stderr
    assert "(stopped)" in stdout, stdout
    meta = json.loads((out / "meta.json").read_text())
    assert meta[CAPTURE_KEY]["stopped_by"] == "stop"
    written = meta[CAPTURE_KEY]["thermal"]["written"]
    assert written >= 1
    result = replay(load_config(config), out, publish=False)
    assert result.thermal_frames == written
    assert result.rgb_frames == meta[CAPTURE_KEY]["rgb"]["written"]


def test_progress_bar_on_a_terminal_only(tmp_path: Path, config: Path) -> None:
    """On a terminal (a pty with a size) stderr shows tqdm's bar ending at the duration;
    piped, only the start line (test_signal_stops_cleanly reads that)."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    args = [sys.executable, "-m", "tests.cli.record_child", "record", str(tmp_path / "tty"),
            "--config", str(config), "--duration", "0.6"]
    child = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdin=slave, stdout=slave,
                             stderr=slave)
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(master, 4096)  # EOF (EIO) once the child exits
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert child.wait(timeout=30) == 0
    text = b"".join(chunks).decode(errors="replace")
    assert "100%|" in text and "0.6/0.6 s" in text and "dropped" in text, text
    piped = subprocess.run([*args[:4], str(tmp_path / "piped"), *args[5:]], cwd=REPO_ROOT,
                           env=env, capture_output=True, text=True, timeout=60, check=True)
    assert "%|" not in piped.stderr and piped.stderr.startswith("recording ")


def test_a_second_signal_interrupts_and_handlers_come_back() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    stop = threading.Event()
    with pytest.raises(KeyboardInterrupt), edge.cli.record.stop_on_signals(stop):
        signal.raise_signal(signal.SIGTERM)
        assert stop.is_set()  # the first: a clean stop
        signal.raise_signal(signal.SIGINT)  # the second: out at once
    assert {s: signal.getsignal(s) for s in before} == before
