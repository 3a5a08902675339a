"""Transport fixtures: raw paho subscribers, closed when the test ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.mqtt_helpers import RawSub


@pytest.fixture
def raw_sub() -> Iterator[Callable[[str, str], RawSub]]:
    subs: list[RawSub] = []

    def make(url: str, topic_filter: str) -> RawSub:
        subs.append(RawSub(url, topic_filter))
        return subs[-1]

    yield make
    for sub in subs:
        sub.close()
