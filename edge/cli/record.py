"""`gate-edge record OUT --config FILE` (docs/cli.md): the configured cameras to a recording v1
folder (edge.app.record). Argument parsing, signals, progress and printing only."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.cli.util import add_command
from edge.errors import ConfigError

if TYPE_CHECKING:
    from edge.app.record import RecordStatus
    from edge.cli.util import SubParsers
    from edge.config import Settings
    from edge.sources.cameras.base import DeviceOpener

MB = 1_000_000
START_LINE = "recording"  # the first stderr line once frames are on disk (tests wait on it)
REDRAW_S = 0.5  # progress bar redraws at most this often (frames come at 9-30 fps)


def camera_openers(settings: Settings) -> tuple[dict[str, DeviceOpener], dict[str, str],
                                                dict[str, dict[str, Any]]]:
    """The configured cameras by role ("thermal", "rgb"): openers, names, and the capture
    threads' options from their tables (as `run` sets them)."""
    from edge.cli.check_cameras import configured_cameras

    cameras = configured_cameras(settings)
    if not cameras:
        raise ConfigError(f"source.kind = {settings.source.kind!r}: record needs "
                          "[source] kind = \"cameras\" (see configs/uvc-lepton.toml)")
    openers = {role: opener for role, (_, opener) in cameras.items()}
    names = {role: f"{role}:{table.device} {table.target}" for role, (table, _) in cameras.items()}
    options = {role: {"freeze_frames": t.freeze_frames, "read_timeout_s": t.read_timeout_s,
                      "min_backoff_s": t.min_backoff_s, "max_backoff_s": t.max_backoff_s}
               for role, (t, _) in cameras.items()}
    return openers, names, options


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set `stop` (the recording ends cleanly, meta.json written) instead
    of raising in the middle of a write; a second one interrupts at once (a camera stuck in a
    read must not make the recorder unkillable; that recording then has no meta.json). The
    previous handlers come back afterwards."""
    def handler(_signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


class Progress:
    """A tqdm bar on stderr when it is a terminal (seconds recorded, against --duration when
    given); otherwise nothing between the start line and the summary."""

    def __init__(self, duration_s: float | None) -> None:
        self.enabled = sys.stderr.isatty()
        self._duration_s = duration_s
        self._bar: Any = None
        self._shown = 0.0

    def start(self, status: RecordStatus) -> None:
        streams = ", ".join(f"{r} {w}x{h} ({status.devices[r]})"
                            for r, (w, h) in status.sizes.items())
        print(f"{START_LINE} {status.out}: {streams}; Ctrl-C stops", file=sys.stderr,
              flush=True)
        if self.enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=self._duration_s, unit="s", file=sys.stderr, mininterval=0.5,
                             bar_format="{l_bar}{bar}| {n:.1f}/{total:g} s{postfix}"
                             if self._duration_s else "{n:.1f} s{postfix}")

    def __call__(self, status: RecordStatus, *, force: bool = False) -> None:
        now = time.monotonic()
        if self._bar is None or (now - self._shown < REDRAW_S and not force):
            return
        self._shown = now
        self._bar.n = min(status.elapsed_s, self._duration_s or status.elapsed_s)
        frames = " + ".join(f"{n} {r}" for r, n in status.frames.items())
        self._bar.set_postfix_str(f"{frames} frames, {status.bytes / MB:.1f} MB, "
                                  f"{status.dropped} dropped", refresh=False)
        self._bar.refresh()

    def close(self, status: RecordStatus | None = None) -> None:
        if self._bar is not None:
            if status is not None:
                self(status, force=True)  # the bar ends where the recording did
            self._bar.close()


def cmd_record(args: argparse.Namespace) -> int:
    from edge.app.record import RecordLimits, record
    from edge.config import load_config

    out: Path = args.out
    if (out / "meta.json").exists() and not args.overwrite:
        raise ConfigError(f"{out}: already holds a recording (meta.json); choose another "
                          "folder, or --overwrite")
    settings = load_config(args.config)
    openers, names, options = camera_openers(settings)
    limits = RecordLimits(args.duration, None if args.max_mb is None else int(args.max_mb * MB))
    stop = threading.Event()
    progress = Progress(args.duration)
    status = None
    try:
        with stop_on_signals(stop):
            status = record(settings, out, openers, limits=limits, stop=stop, names=names,
                            thread_options=options, on_start=progress.start,
                            on_progress=progress)
    finally:
        progress.close(status)
    if not status.frames:
        print(f"{out}: stopped before the cameras delivered a frame; nothing written")
        return 0
    frames = " + ".join(f"{n} {r}" for r, n in status.frames.items())
    why = {"duration": "--duration reached", "size": "--max-mb reached", "stop": "stopped"}
    print(f"{out}: {frames} frames, {status.elapsed_s:.1f} s, {status.bytes / MB:.1f} MB, "
          f"{status.dropped} dropped by capture ({why.get(status.stopped_by, status.stopped_by)})"
          f"; replay: gate-edge replay {out} --offline")
    return 0


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not 0 < value < 1e9:
            raise argparse.ArgumentTypeError(f"{text!r}: must be > 0")
        return value

    return parse


def add_record_command(sub: SubParsers) -> None:
    p = add_command(
        sub,
        "record",
        cmd_record,
        "record the configured cameras to a recording folder (replay it with `replay`)",
        "gate-edge record footage/gate1-morning --config /etc/gate-edge/config.toml "
        "--duration 60",
    )
    p.add_argument("out", type=Path, metavar="OUT", help="the recording folder to write")
    p.add_argument("--config", type=Path, required=True,
                   help="TOML config with [source] kind = \"cameras\" (see configs/)")
    p.add_argument("--duration", type=_positive(float), metavar="S",
                   help="stop after S seconds (default: until Ctrl-C / SIGTERM)")
    p.add_argument("--max-mb", type=_positive(float), metavar="N",
                   help="stop before the folder would grow past N MB (10^6 bytes)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a recording already in OUT")
