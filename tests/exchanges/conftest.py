"""The exchange-server simulator, started per test on an ephemeral port."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from exchanges.simulator import ExchangeServer, ServerUser

USER = ServerUser("082", "cd82", "mot-de-passe-echanges-82")
OTHER_USER = ServerUser("031", "cd31", "mot-de-passe-echanges-31")


class FakeClock:
    """The simulator's clock, moved by hand to test the retention rule."""

    def __init__(self) -> None:
        self.now = datetime(2025, 2, 3, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def exchange_server(tmp_path, clock):
    with ExchangeServer(tmp_path / "server", [USER, OTHER_USER], clock=clock, quiet=True) as server:
        yield server


@pytest.fixture
def exchange_settings(settings, exchange_server):
    """Point the application at the in-process simulator, with fast retries."""
    settings.EXCHANGE_URL = exchange_server.base_url
    settings.EXCHANGE_USERNAME = USER.username
    settings.EXCHANGE_PASSWORD = USER.password
    settings.EXCHANGE_CA_BUNDLE = str(exchange_server.ca_path)
    settings.EXCHANGE_TIMEOUT_SECONDS = 5
    settings.EXCHANGE_ATTEMPTS = 3
    settings.EXCHANGE_RETRY_BACKOFF_SECONDS = 0.01
    settings.DEPARTEMENT = "82"
    # The tests' files are dated 2025 (the simulator's clock); test_hostile_server checks the limit.
    settings.EXCHANGE_MAX_FILE_AGE_DAYS = 0
    return settings


# The real worker of the end-to-end tests (imported last: it reads USER above).
from tests.exchanges.worker import start_worker  # noqa: E402, F401
