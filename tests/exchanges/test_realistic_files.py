"""France Travail's real files, as the corpus of tests/exchanges/realistic_files.py makes them:
through the reader, the import and the pages (issue 21)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from django.urls import reverse

from beneficiaries.models import Beneficiary
from contract.layouts import CESSATION_MOTIVES, POSITIVE_EXIT_MOTIVES
from exchanges.models import (
    EventKind,
    FollowUp,
    ImportReject,
    ImportStatus,
    JobSeekerSnapshot,
    RejectLevel,
    StatusEvent,
)
from exchanges.pecgm_import import import_pecgm
from exchanges.pecgm_reader import read_pecgm
from tests.exchanges.realistic_files import (
    LONG_AGENCIES,
    LONG_COUNSELLORS,
    MAY,
    NEW_MOTIVE,
    PRODUCED,
    TYPOGRAPHIC_APOSTROPHE,
    realistic_file,
    realistic_records,
    write_realistic,
)
from tests.factories import TEST_PASSWORD

CASTELSARRASIN = LONG_AGENCIES[0]


def test_the_may_stock_reads_whole(tmp_path):
    reader = read_pecgm(realistic_file(tmp_path), departement="82")
    # Made on the 28th for the 31st: the reference is the month.
    assert (reader.header.reference_date, reader.header.production_date) == (MAY, PRODUCED)
    parsed = list(reader.records())
    assert len(parsed) == 290
    assert [record.number for record in parsed if record.errors] == []
    first = parsed[0].values
    # Descriptive values longer than the table, kept whole.
    assert first["main_structure_name"] == "FRANCE TRAVAIL CASTELSARRASIN"
    assert first["main_structure_street"] == CASTELSARRASIN[1]
    assert (first["main_structure_cedex"], first["main_structure_post_office"]) == (
        "01",
        "CASTELSARRASIN CEDEX",
    )
    assert first["ft_counsellor"] == LONG_COUNSELLORS[0]
    # Every cessation motive of the annexe; labels with typographic apostrophes read as such.
    assert {record.values["cessation_motive"] for record in parsed} >= set(CESSATION_MOTIVES)
    assert parsed[1].values["cessation_motive_label"] == CESSATION_MOTIVES["12"].replace(
        "'", TYPOGRAPHIC_APOSTROPHE
    )
    assert parsed[1].values["cessation_motive_label"].count(TYPOGRAPHIC_APOSTROPHE) == 1
    # A date that does not exist in an optional field: dropped, the record kept, a warning
    # naming record and field (record 3 has « 20250230 » as its PPAE signature date).
    (dropped,) = [w for w in parsed[2].warnings if w.field == "DATE_SIGNATURE_PPAE"]
    assert (dropped.record, dropped.value) == (3, "20250230")
    assert parsed[2].values["ppae_signature_date"] is None


def _admin(client, admin_user):
    client.login(username=admin_user.username, password=TEST_PASSWORD)
    return client


@pytest.mark.django_db
def test_the_may_stock_imports_and_its_pages_show_it(client, admin_user, tmp_path):
    run = import_pecgm(realistic_file(tmp_path))
    assert run.status == ImportStatus.IMPORTED, run.error_message
    assert (run.records, run.imported, run.rejected_records) == (290, 290, 0)
    assert run.warnings == ImportReject.objects.filter(run=run, level=RejectLevel.WARNING).count() > 300

    # Stored whole, in every column a long value reaches.
    first = JobSeekerSnapshot.objects.get(run=run, record_number=1)
    assert first.main_structure_name == "FRANCE TRAVAIL CASTELSARRASIN"
    assert first.main_structure_street == CASTELSARRASIN[1]
    assert first.main_structure_complement == CASTELSARRASIN[2]
    assert first.ft_counsellor == LONG_COUNSELLORS[0]
    assert FollowUp.objects.filter(main_structure_name="FRANCE TRAVAIL CASTELSARRASIN").count() > 90
    long_name = JobSeekerSnapshot.objects.get(run=run, record_number=4)
    assert len(long_name.birth_name) > 25
    assert Beneficiary.objects.filter(birth_name=long_name.birth_name).exists()
    odd = JobSeekerSnapshot.objects.get(run=run, record_number=3)
    assert odd.ppae_signature_date is None

    client = _admin(client, admin_user)
    page = client.get(reverse("import_run_detail", args=[run.pk])).content.decode()
    # Grouped by field and kind, each group expandable, with its count.
    names = ImportReject.objects.filter(run=run, field="STRUCTURE_PRINCIPALE_SUIVI/NOM").count()
    summary = (
        f'<summary><strong>{names} ×</strong> <span class="font-monospace">STRUCTURE_PRINCIPALE_SUIVI/NOM'
        "</span> plus long que 27 caractères : gardé en entier</summary>"
    )
    assert summary in page
    assert re.search(
        r"<strong>\d+ ×</strong> <span class=\"font-monospace\">DATE_SIGNATURE_PPAE</span>", page
    )
    assert page.count("<details") == len(
        ImportReject.objects.filter(run=run, level=RejectLevel.WARNING)
        .order_by()
        .values("field", "message")
        .distinct()
    )
    # Downloadable as before: every warning, one a line.
    csv_text = b"".join(client.get(reverse("import_run_rejects_csv", args=[run.pk])).streaming_content)
    assert len(csv_text.decode("utf-8-sig").splitlines()) == run.warnings + 1

    # The person's page shows the long values and the annexe's label.
    person = first.beneficiary
    detail = client.get(reverse("beneficiary_detail", args=[person.pk])).content.decode()
    assert "FRANCE TRAVAIL CASTELSARRASIN" in detail
    assert LONG_COUNSELLORS[0] in detail
    assert CESSATION_MOTIVES["11"].replace("'", "&#x27;") in detail


def _april(folder) -> Path:
    """The month before: the same people, none of them ceased."""
    april = realistic_records()
    for row in april:
        row.update(cessation_date=None, cessation_motive=None, cessation_motive_label=None)
    return write_realistic(
        folder / "PECGM_082_20250430_M.xml",
        april,
        reference_date=date(2025, 4, 30),
        production_date=date(2025, 4, 28),
    )


@pytest.mark.django_db
def test_a_month_later_every_motive_makes_its_event_and_only_the_table_s_positive_exits(tmp_path):
    """April without the cessations, then May: 36 cessations, one per motive, kept whole."""
    assert import_pecgm(_april(tmp_path)).status == ImportStatus.IMPORTED
    run = import_pecgm(realistic_file(tmp_path))
    assert run.status == ImportStatus.IMPORTED, run.error_message

    events = StatusEvent.objects.filter(run=run, kind=EventKind.CESSATION)
    assert {event.motive for event in events} >= set(CESSATION_MOTIVES)
    labels = {event.motive: event.motive_label for event in events}
    assert labels["13"] == CESSATION_MOTIVES["13"] and len(labels["13"]) > 75
    assert TYPOGRAPHIC_APOSTROPHE in labels["12"]

    from pages.cohorts import is_positive_exit

    positive = {event.motive for event in events if is_positive_exit(event.motive, event.motive_label)}
    # The table's positive motives; a code outside it, by its label (« entrée en formation »).
    assert positive == POSITIVE_EXIT_MOTIVES | {NEW_MOTIVE}
    assert "43" not in positive


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_may_stock_imports_through_copy_on_postgresql(tmp_path):
    """PostgreSQL's COPY path: values longer than the old columns fit the new ones."""
    assert import_pecgm(_april(tmp_path)).status == ImportStatus.IMPORTED
    run = import_pecgm(realistic_file(tmp_path))
    assert run.status == ImportStatus.IMPORTED, run.error_message
    assert run.rejected_records == 0 and run.imported == 290
    snapshot = JobSeekerSnapshot.objects.get(run=run, record_number=1)
    assert snapshot.main_structure_name == "FRANCE TRAVAIL CASTELSARRASIN"
    assert FollowUp.objects.get(beneficiary=snapshot.beneficiary).ft_counsellor == LONG_COUNSELLORS[0]
    # A motive code longer than the old 10-character column of the events.
    assert StatusEvent.objects.get(run=run, motive=NEW_MOTIVE).motive_label.startswith("entrée en formation")


@pytest.mark.django_db
def test_a_nir_with_a_wrong_key_still_names_its_person(tmp_path, settings):
    """The record is refused (not a NIR), the person it names is « reçu, illisible », not gone."""
    settings.PECGM_MAX_REJECT_RATIO = 0.5
    assert import_pecgm(_april(tmp_path)).status == ImportStatus.IMPORTED
    may = realistic_records()
    nir = may[40]["nir"]
    may[40]["nir"] = nir + f"{(98 - int(nir) % 97) % 100:02d}"  # one more than the right key
    may[40]["ft_identifier"] = None  # the NIR alone names them
    run = import_pecgm(write_realistic(tmp_path / "PECGM_082_20250531_M.xml", may))
    assert run.status == ImportStatus.IMPORTED_WITH_REJECTS and run.rejected_records == 1
    person = JobSeekerSnapshot.objects.get(nir=nir, reference_date=date(2025, 4, 30)).beneficiary
    followup = FollowUp.objects.get(beneficiary=person)
    assert followup.unreadable_on == MAY and not followup.absent_from_last_stock
