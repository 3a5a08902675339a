"""The command line: argument parsing and printing only, one module per command group
(`main`: pipeline and gate commands, `models`, `backend`, `calibration`: the installer's
`calibrate-temp`), the operators' `tail` and the `demo`. Calls into `edge.app`, `edge.sim`
and `edge.evaluation`; nothing imports it.

Commands and flags: docs/cli.md.
"""

from edge.cli.main import main

__all__ = ["main"]
