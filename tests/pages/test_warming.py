"""pages.warming: an import computes the pages' counts before a caseworker asks for them."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from exchanges.models import ImportRun, ImportStatus
from exchanges.pecgm_import import import_pecgm
from pages import dashboard, warming
from pages.versioned_cache import invalidate_dashboard
from tests.exchanges.import_files import pecgm_file, record_for
from tests.factories import BeneficiaryFactory, TerritoryFactory, UserFactory

pytestmark = pytest.mark.django_db

JAN = date(2025, 1, 31)


def test_each_set_of_territories_in_use_is_one_scope(orientation_officer):
    montauban = TerritoryFactory(name="Montauban", communes="82121")
    moissac = TerritoryFactory(name="Moissac", communes="82112")
    for username, territories in (("a", [montauban]), ("b", [montauban]), ("c", [montauban, moissac])):
        UserFactory(username=username, role="social_worker").territories.set(territories)
    UserFactory(username="parti", role="social_worker", is_active=False).territories.set([moissac])
    # The Département, Montauban, Montauban + Moissac: not Moissac alone (its only user left).
    assert len(warming.scopes_in_use()) == 3


def test_the_territories_events_are_counted_once_for_them_all(orientation_officer):
    for number, commune in enumerate(("82121", "82112", "82033")):
        territory = TerritoryFactory(name=f"Territoire {number}", communes=commune)
        UserFactory(username=f"ts{number}", role="social_worker").territories.set([territory])
    with CaptureQueriesContext(connection) as queries:
        assert warming.warm_counts() == 4
    counted = [query["sql"] for query in queries if "exchanges_statusevent" in query["sql"]]
    # The Département's from the (kind, date) index; the three territories' from one pass by commune.
    assert len(counted) == 2, counted
    assert sum("commune_code" in sql for sql in counted) == 1


def test_the_territories_follow_ups_are_counted_once_for_them_all(orientation_officer):
    def follow_up_counts(territories: int) -> int:
        for number in range(territories):
            territory = TerritoryFactory(name=f"Territoire {number}", communes=f"82{number:03d}")
            UserFactory(username=f"ts{number}", role="social_worker").territories.set([territory])
        invalidate_dashboard()
        with CaptureQueriesContext(connection) as queries:
            assert warming.warm_counts() == 1 + territories
        # The cohort that reads the decisions is counted for each scope: a decision changes it.
        return sum(
            "exchanges_followup" in sql and "COUNT(" in sql and "orientations_orientationdecision" not in sql
            for sql in (query["sql"] for query in queries)
        )

    one = follow_up_counts(1)
    assert one > 0 and follow_up_counts(3) == one


def test_a_social_worker_without_territory_has_no_events_counted(client):
    social_worker = UserFactory(username="sans-territoire", role="social_worker")
    client.force_login(social_worker)
    ImportRun.objects.create(
        file_name="PECGM_082_20250131_M.xml",
        sha256="0" * 64,
        reference_date=date(2025, 1, 31),
        status=ImportStatus.IMPORTED,
    )
    with CaptureQueriesContext(connection) as queries:
        data = client.get(reverse("dashboard")).context["data"]
    assert data["total"] == 0 and not any(data["series"]["registrations"])
    assert not [query for query in queries if "exchanges_statusevent" in query["sql"]]


def test_after_an_import_the_pages_find_their_counts_computed(
    client, orientation_officer, tmp_path, monkeypatch
):
    montauban = TerritoryFactory(name="Montauban", communes="82121")
    social_worker = UserFactory(username="ts", role="social_worker")
    social_worker.territories.set([montauban])
    people = [BeneficiaryFactory(commune_code="82121"), BeneficiaryFactory(commune_code="82033")]
    call_command("import_pecgm", str(pecgm_file(tmp_path, [record_for(person) for person in people], JAN)))
    assert ImportRun.objects.get().status == ImportStatus.IMPORTED

    def not_again(*args):
        raise AssertionError("computed by the page, not by the import")

    monkeypatch.setattr(dashboard, "_ft_figures", not_again)
    monkeypatch.setattr(dashboard, "_decision_figures", not_again)
    for user in (orientation_officer, social_worker):
        client.force_login(user)
        assert client.get(reverse("dashboard")).status_code == 200
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("cohort_index")).status_code == 200
        assert not [query for query in queries if "COUNT(" in query["sql"]]


def test_until_the_import_has_computed_the_counts_the_pages_keep_the_previous_ones(tmp_path, monkeypatch):
    from django.core.cache import cache

    from pages import versioned_cache

    seen = []

    def warm():
        # The pages hold on to the previous values; the import's own computing is not held.
        seen.append((cache.get(versioned_cache._AFTER_IMPORT_KEY), versioned_cache._import_computes()))
        return 1

    monkeypatch.setattr(warming, "warm_counts", warm)
    call_command("import_pecgm", str(pecgm_file(tmp_path, [record_for(BeneficiaryFactory())], JAN)))
    assert seen == [(1, False)]
    assert cache.get(versioned_cache._AFTER_IMPORT_KEY) is None  # done: the pages read the new ones
    # import_pecgm() alone (no computing after it) does not hold the pages.
    import_pecgm(pecgm_file(tmp_path, [record_for(BeneficiaryFactory())], date(2025, 2, 28)))
    assert cache.get(versioned_cache._AFTER_IMPORT_KEY) is None


def test_counts_that_fail_to_compute_do_not_fail_the_import(tmp_path, monkeypatch, caplog):
    from django.core.cache import cache

    from pages import versioned_cache

    def broken():
        raise RuntimeError("base indisponible")

    monkeypatch.setattr(warming, "warm_counts", broken)
    with caplog.at_level(logging.ERROR, logger="pages.warming"):
        call_command("import_pecgm", str(pecgm_file(tmp_path, [record_for(BeneficiaryFactory())], JAN)))
    assert ImportRun.objects.get().status == ImportStatus.IMPORTED
    assert "Counts not computed after the import" in caplog.text
    assert cache.get(versioned_cache._AFTER_IMPORT_KEY) is None  # the pages compute them, not wait


def test_the_import_itself_leaves_the_counts_to_its_caller(tmp_path, monkeypatch):
    """import_pecgm() is the import only; an exchange run computes the counts once for its files."""
    calls = []
    monkeypatch.setattr(warming, "warm_counts", lambda: calls.append("warm") or 1)
    import_pecgm(pecgm_file(tmp_path, [record_for(BeneficiaryFactory())], JAN))
    assert calls == []
    call_command(
        "import_pecgm", str(pecgm_file(tmp_path, [record_for(BeneficiaryFactory())], date(2025, 2, 28)))
    )
    assert calls == ["warm"]
    # (A flux: an empty stock would be refused as much smaller than February's.)
    call_command("import_pecgm", "--dry-run", str(pecgm_file(tmp_path, [], date(2025, 3, 31), "H")))
    assert calls == ["warm"]
