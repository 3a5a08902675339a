"""`gate-edge synth` shows a tqdm progress bar of frames written on a terminal's stderr, and
none with --quiet or when stderr is not a terminal (a log, a pipe)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from edge.cli.main import main

SMALL = ["--people", "2", "--passers", "0", "--seed", "3"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _frames(out: Path) -> int:
    return int(json.loads((out / "labels.json").read_text())["synth"]["frames"])


def test_synth_shows_frames_written_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["synth", str(tmp_path / "scene"), *SMALL]) == 0
    n = _frames(tmp_path / "scene")
    shown = terminal.getvalue()
    assert f"{n}/{n}" in shown and "frame" in shown  # the bar reached the end


@pytest.mark.parametrize("quiet", [True, False])
def test_synth_shows_no_bar_when_quiet_or_not_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quiet: bool
) -> None:
    stderr = Terminal() if quiet else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    args = ["synth", str(tmp_path / "scene"), *SMALL, *(["--quiet"] if quiet else [])]
    assert main(args) == 0
    assert _frames(tmp_path / "scene") > 0 and stderr.getvalue() == ""
