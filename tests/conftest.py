"""Shared fixtures. The broker fixture runs a private Mosquitto for the whole session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from edge.errors import BrokerError
from edge.sim.broker import PrivateBroker
from tests.shared import in_ci, require_models


def private_broker_or_skip(**kwargs: object) -> PrivateBroker:
    """A not yet started PrivateBroker; skip (fail in CI) when mosquitto is missing."""
    try:
        return PrivateBroker(**kwargs)  # type: ignore[arg-type]
    except BrokerError as exc:
        if in_ci():
            pytest.fail(f"CI=true requires mosquitto: {exc}")
        pytest.skip(f"needs a real Mosquitto broker: {exc}")


@pytest.fixture(scope="session")
def broker() -> Iterator[PrivateBroker]:
    """Anonymous Mosquitto on a free 127.0.0.1 port; tests use distinct gate names."""
    with private_broker_or_skip() as running:
        yield running


@pytest.fixture
def gate() -> str:
    return f"g{uuid.uuid4().hex[:8]}"  # tests share one broker: keep their topics apart


@pytest.fixture
def make_broker() -> Iterator[object]:
    """Factory for extra brokers (auth, TLS, restarts): make_broker(users=...) -> started."""
    started: list[PrivateBroker] = []

    def make(**kwargs: object) -> PrivateBroker:
        running = private_broker_or_skip(**kwargs).start()
        started.append(running)
        return running

    yield make
    for running in started:
        running.close()


@pytest.fixture(scope="session")
def models_ready() -> None:
    """The face models are fetched and verified (skip, or fail under CI=true)."""
    require_models()
