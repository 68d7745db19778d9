"""« PPAE signé »: the status event the import writes, and the migration that backfills it.

The record step's rules are tested without a database (test_record_step.py); here the
real import (matching reads the follow-up's PPAE date, the sink writes the event), the
parcours and « Nouveautés » that show it, and exchanges 0019 over an existing history.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from caseloads import news
from caseloads.assignments import assign
from exchanges.models import EventKind, ImportRun, StatusEvent
from exchanges.pecgm_import import import_pecgm
from tests.exchanges.import_files import pecgm_file, record_for
from tests.factories import TEST_PASSWORD, BeneficiaryFactory

pytestmark = pytest.mark.django_db

JAN, FEB = date(2025, 1, 31), date(2025, 2, 28)
SIGNED, SIGNED_BEFORE = date(2025, 2, 10), date(2024, 6, 3)


def ppae_events() -> list[tuple]:
    return list(
        StatusEvent.objects.filter(kind=EventKind.PPAE_SIGNED)
        .order_by("beneficiary_id", "run_id")
        .values_list("beneficiary_id", "run__file_name", "date")
    )


def test_the_import_writes_it_once_from_the_flux_and_not_for_a_first_record(tmp_path):
    signs, known_signed, newcomer = (BeneficiaryFactory() for _ in range(3))
    january = [record_for(signs), record_for(known_signed, ppae_signature_date=SIGNED_BEFORE)]
    import_pecgm(pecgm_file(tmp_path, january, JAN))
    # The daily flux of the signature: compared with the follow-up January left.
    flux = [
        {**january[0], "ppae_signature_date": SIGNED},
        record_for(newcomer, ppae_signature_date=SIGNED),  # first record: no PPAE event
    ]
    import_pecgm(pecgm_file(tmp_path, flux, date(2025, 2, 12), "Q"))
    assert ppae_events() == [(signs.pk, "PECGM_082_20250212_Q.xml", SIGNED)]
    # The month's stock: the same PPAE dates, a newer contact (stored, compared with the follow-up).
    contact = {"last_contact_date": date(2025, 2, 20)}
    february = [{**flux[0], **contact}, {**january[1], **contact}, {**flux[1], **contact}]
    import_pecgm(pecgm_file(tmp_path, february, FEB))
    # A flux older than that stock (history only), with yet another date: nothing either.
    import_pecgm(pecgm_file(tmp_path, [{**flux[0], "ppae_signature_date": FEB}], date(2025, 2, 20), "Q"))
    assert ppae_events() == [(signs.pk, "PECGM_082_20250212_Q.xml", SIGNED)]


def test_it_is_news_and_in_the_parcours(tmp_path, client, social_worker):
    person = BeneficiaryFactory(birth_name="Aubert", first_name="Jeanne", usage_name="")
    assign(person, social_worker)
    january = record_for(person)
    import_pecgm(pecgm_file(tmp_path, [january], JAN))
    import_pecgm(pecgm_file(tmp_path, [{**january, "ppae_signature_date": SIGNED}], FEB))
    [item] = news.news(social_worker)
    assert (item.kind, item.label, item.day, item.beneficiary_id) == (
        EventKind.PPAE_SIGNED,
        "PPAE signé",
        SIGNED,
        person.pk,
    )
    client.login(username=social_worker.username, password=TEST_PASSWORD)
    parcours = reverse("beneficiary_detail", args=[person.pk])
    home = client.get(reverse("home")).content.decode()
    assert "PPAE signé" in home and f'href="{parcours}' in home
    page = client.get(parcours)
    [entry] = [entry for entry in page.context["timeline"] if entry.kind == "event"]
    assert (entry.day, entry.title, entry.source) == (
        SIGNED,
        "PPAE signé",
        "fichier PECGM_082_20250228_M.xml",
    )
    assert "PPAE signé" in page.content.decode()


# --- exchanges 0019: the events of the history already received -----------------------------

BEFORE, AFTER = (
    [("exchanges", "0018_field_titles_from_the_layout")],
    [("exchanges", "0019_ppae_signed_event")],
)


@pytest.mark.django_db(transaction=True)
def test_the_migration_backfills_the_events_the_import_would_have_written():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Person, Run, Snapshot, Event = (
        old.get_model(app, name)
        for app, name in [
            ("beneficiaries", "Beneficiary"),
            ("exchanges", "ImportRun"),
            ("exchanges", "JobSeekerSnapshot"),
            ("exchanges", "StatusEvent"),
        ]
    )
    numbers = iter(range(1, 100))

    def run(day: date, periodicity: str = "M", status: str = "imported"):
        number = next(numbers)
        return Run.objects.create(
            file_name=f"PECGM_082_{day:%Y%m%d}_{periodicity}_{number}.xml",
            sha256=f"{number:064x}",
            reference_date=day,
            periodicity=periodicity,
            status=status,
        )

    def person(name: str):
        return Person.objects.create(
            nir="", birth_name=name, first_name="Jeanne", birth_date=date(1980, 5, 17), commune_code="82121"
        )

    def record(who, at, ppae: date | None) -> None:
        Snapshot.objects.create(
            beneficiary=who,
            run=at,
            record_number=Snapshot.objects.count() + 1,
            reference_date=at.reference_date,
            periodicity=at.periodicity,
            ppae_signature_date=ppae,
        )

    # In import order: each run's id is larger than the one before.
    jan, flux, feb = run(JAN), run(date(2025, 2, 12), "Q"), run(FEB)
    feb_again = run(FEB)  # the same month delivered again (another file)
    refused = run(date(2025, 3, 31), status="rejected")
    late = run(date(2024, 12, 31))  # older than the newest stock: history only
    signs, changes, first_only, removed, via_flux, in_refused, in_late, reviewed = (
        person(name) for name in ("SIGNE", "CHANGE", "PREMIER", "RETIRE", "FLUX", "REFUSE", "TARDIF", "REVUE")
    )
    record(signs, jan, None)
    record(signs, feb, SIGNED)
    record(signs, feb_again, SIGNED)  # delivered again: not twice
    record(changes, jan, SIGNED_BEFORE)  # a first record says nothing of when
    record(changes, feb, SIGNED)  # another date: a new PPAE
    record(first_only, feb, SIGNED)
    record(removed, jan, SIGNED_BEFORE)
    record(removed, feb, None)
    record(via_flux, jan, None)
    record(via_flux, flux, SIGNED)
    record(via_flux, feb, SIGNED)  # the stock that confirms the flux: not twice
    record(in_refused, jan, None)
    record(in_refused, refused, SIGNED)
    # Imported late, after February: when February came it was the person's first record.
    record(in_late, late, None)
    record(in_late, feb, SIGNED_BEFORE)
    # A record still waiting for review (nobody linked): no one's event.
    Snapshot.objects.create(
        beneficiary=None,
        run=feb,
        record_number=99,
        reference_date=FEB,
        periodicity="M",
        ppae_signature_date=SIGNED,
    )
    record(reviewed, jan, None)
    Event.objects.create(beneficiary=signs, run=feb, date=FEB, kind="category_change")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    assert ppae_events() == [
        (signs.pk, feb.file_name, SIGNED),
        (changes.pk, feb.file_name, SIGNED),
        (via_flux.pk, flux.file_name, SIGNED),
    ]
    assert StatusEvent.objects.exclude(kind=EventKind.PPAE_SIGNED).count() == 1  # the others untouched
    assert set(StatusEvent.objects.filter(kind=EventKind.PPAE_SIGNED).values_list("motive", "new_value")) == {
        ("", "")
    }
    # Back: only the backfilled events go.
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(BEFORE)
    assert Event.objects.count() == 1
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert ImportRun.objects.count() == 6 and len(ppae_events()) == 3


def test_news_reads_events_not_the_records(client, social_worker):
    """A PPAE date in the records without its event is not news: « Nouveautés » reads events only."""
    from tests.beneficiaries.factories import ImportRunFactory, followup, registered, snapshot

    person = BeneficiaryFactory()
    assign(person, social_worker)
    old_run, run = ImportRunFactory(reference_date=JAN), ImportRunFactory(reference_date=FEB)
    ImportRun.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(hours=1))
    snapshot(person, run=old_run, **registered(ppae_signature_date=None))
    followup(person, run=run, **registered(ppae_signature_date=SIGNED))
    assert news.news(social_worker) == []
    StatusEvent.objects.create(beneficiary=person, run=run, date=SIGNED, kind=EventKind.PPAE_SIGNED)
    assert [(item.kind, item.day) for item in news.news(social_worker)] == [(EventKind.PPAE_SIGNED, SIGNED)]
