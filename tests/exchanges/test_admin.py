"""The Django admin's read-only windows on the exchanges' records."""

import pytest

from exchanges.runs import Direction, ExchangeRun, RunStatus
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def test_exchange_runs_are_listed_read_only_for_admins(client, users):
    run = ExchangeRun.objects.create(
        direction=Direction.FETCH, status=RunStatus.FAILED, file_name="PECGM_x.xml"
    )
    client.login(username=users["admin"].username, password=TEST_PASSWORD)

    listing = client.get("/admin/exchanges/exchangerun/")
    assert listing.status_code == 200
    assert f"/admin/exchanges/exchangerun/{run.pk}/change/" in listing.content.decode()
    assert client.get(f"/admin/exchanges/exchangerun/{run.pk}/change/").status_code == 200
    assert client.get("/admin/exchanges/exchangerun/add/").status_code == 403
    # Read-only: a posted change is refused and nothing moves.
    client.post(f"/admin/exchanges/exchangerun/{run.pk}/change/", {"status": RunStatus.SUCCEEDED})
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED


def test_exchange_runs_are_not_for_other_roles(client, users):
    client.login(username=users["social_worker"].username, password=TEST_PASSWORD)
    assert client.get("/admin/exchanges/exchangerun/").status_code == 302
