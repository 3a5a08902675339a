"""`gate-edge record` in a child process with endless fake cameras in place of the configured
ones (tests/cli/test_record_cli.py sends it signals). Usage: python -m tests.cli.record_child
ARGS... (the arguments after `gate-edge`)."""

from __future__ import annotations

import sys

import edge.cli.record
from edge.cli.main import main
from tests.app.record_fakes import openers


def _fake_openers(
    settings: object,
) -> tuple[dict[str, object], dict[str, str], dict[str, dict[str, object]]]:
    cams = openers(rgb=True, period_s=0.02)
    return dict(cams), {role: f"{role}:endless" for role in cams}, {}


if __name__ == "__main__":
    edge.cli.record.camera_openers = _fake_openers  # type: ignore[assignment]
    sys.exit(main(sys.argv[1:]))
