"""Telling operators when the reference source is lost and when it is back.

While the reference is lost or unstable no reading can be trusted (decisions become
`recheck` or `screening`, never `fever`); an operator must know at once, not at the next
person. The watch logs each change (WARNING when lost, INFO when back) and republishes the
retained `info` message with a `reference` object, so `tail` and any dashboard show the
state even to a client that connects later. Metrics carry the same state every interval.
"""

from __future__ import annotations

import logging
from typing import Protocol

from edge.pipeline.base import FrameReport

log = logging.getLogger(__name__)


class InfoSink(Protocol):
    def update_info(self, fields: dict[str, object]) -> None: ...


class ReferenceWatch:
    def __init__(self, sink: InfoSink | None, *, expected: bool) -> None:
        self.sink = sink  # set once the publisher exists
        self._expected = expected
        self._ok: bool | None = None
        self.losses = 0  # times the reference went from ok to lost

    def __call__(self, report: FrameReport | None) -> None:
        """After each frame: act only when the reference's ok-ness changes."""
        if report is None or not self._expected:
            return
        ref = report.reference
        if ref.ok == self._ok:
            return
        if ref.ok:
            log.info("reference source ok (reading %s C)", _c(ref.reading_c))
        elif self._ok is not None:  # lost after having been ok; the start-up search is quiet
            self.losses += 1
            log.warning(
                "reference source lost (%s): readings are not trusted, decisions are "
                "recheck or screening until it is back", ref.reason
            )
        self._ok = ref.ok
        if self.sink is not None:
            self.sink.update_info(
                {"reference": {"ok": ref.ok, "reason": ref.reason, "since_t_ns": report.t_ns}}
            )


def _c(value: float | None) -> str:
    return "none" if value is None else f"{value:.2f}"
