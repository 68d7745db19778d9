"""Each decision's transmission on the person's pages, « Non transmises », « Prochain CGPEM »
and the deposit's confirmation (issue 21)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from exchanges.runs import ExchangeRun
from orientations import cgpem, transmission
from orientations.cgpem import NOTHING_IDENTIFYING, generate_cgpem
from orientations.models import CarriedDecision, CgpemExport, OrientationDecision
from tests.factories import TEST_PASSWORD, BeneficiaryFactory
from tests.orientations.factories import DecisionFactory, ReferentBodyFactory

pytestmark = pytest.mark.django_db


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.get_current_timezone())


@pytest.fixture
def officer_client(client, orientation_officer):
    client.login(username=orientation_officer.username, password=TEST_PASSWORD)
    return client


@pytest.fixture
def admin_client(client, admin_user):
    client.login(username=admin_user.username, password=TEST_PASSWORD)
    return client


def unsendable_person():
    """Nothing identifying can be written: no NIR, no identifier, a birth name of digits (legacy)."""
    return BeneficiaryFactory(nir="", birth_name="12")


# --- On the person's history page ------------------------------------------------------


def test_history_shows_the_file_that_carried_the_decision_and_when_it_was_deposited(officer_client):
    decision = DecisionFactory(decision_date=date(2025, 1, 15), changed_at=at(date(2025, 1, 15)))
    url = reverse("orientation_history", args=[decision.beneficiary_id])
    export = generate_cgpem("M", date(2025, 1, 31))
    decision.refresh_from_db()
    assert decision.last_export == export
    page = officer_client.get(url).content.decode()
    assert "dans CGPEM_082_20250131_M.xml, fichier pas encore déposé" in page
    CgpemExport.objects.filter(pk=export.pk).update(deposited_at=at(date(2025, 2, 1), 7))
    page = officer_client.get(url).content.decode()
    assert "Transmise le 01/02/2025 dans CGPEM_082_20250131_M.xml." in page


@pytest.mark.parametrize("chunk", [1, 20_000])
def test_each_file_becomes_the_last_of_the_decisions_it_carries_and_only_of_those(monkeypatch, chunk):
    """The second file takes over the decisions it carries; one it leaves out keeps the first."""
    monkeypatch.setattr(cgpem, "_CARRIED_CHUNK", chunk)  # one statement per id, or all in one
    kept, dropped = DecisionFactory.create_batch(2, decision_date=date(2025, 1, 15))
    untouched = DecisionFactory(decision_date=date(2025, 3, 1))  # after both periods
    first = generate_cgpem("M", date(2025, 1, 31))
    dropped.beneficiary.nir, dropped.beneficiary.birth_name = "", "12"  # nothing identifying left
    dropped.beneficiary.save()
    second = generate_cgpem("M", date(2025, 2, 28))
    assert second.records == 1 and [item["decision"] for item in second.excluded] == [dropped.pk]
    carried = dict(CarriedDecision.objects.values_list("decision_id", "export_id"))
    assert carried == {kept.pk: second.pk, dropped.pk: first.pk}
    last = {d.pk: d.last_export for d in OrientationDecision.objects.select_related("carried__export")}
    assert last == {kept.pk: second, dropped.pk: first, untouched.pk: None}


def test_history_says_when_a_waiting_decision_will_leave(officer_client, settings):
    settings.EXCHANGE_DAILY_DEPOSIT = False
    settings.EXCHANGE_MONTHLY_DEPOSIT = True
    settings.EXCHANGE_MONTHLY_DEPOSIT_DAY = 1
    today = timezone.localdate()
    decision = DecisionFactory(decision_date=today)
    first_of_next_month = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
    page = officer_client.get(reverse("orientation_history", args=[decision.beneficiary_id])).content.decode()
    assert f"Partira dans le CGPEM du {first_of_next_month:%d/%m/%Y}." in page
    settings.EXCHANGE_DAILY_DEPOSIT = True
    page = officer_client.get(reverse("orientation_history", args=[decision.beneficiary_id])).content.decode()
    assert f"Partira dans le CGPEM du {today + timedelta(days=1):%d/%m/%Y}." in page


def test_a_decision_changed_after_its_file_waits_for_the_next_one(officer_client):
    from beneficiaries.models import Beneficiary

    decision = DecisionFactory(decision_date=date(2025, 1, 15), changed_at=at(date(2025, 1, 15)))
    generate_cgpem("M", date(2025, 1, 31))
    person = Beneficiary.objects.get(pk=decision.beneficiary_id)
    person.first_name = "Corrigé"
    person.save()
    page = officer_client.get(reverse("orientation_history", args=[person.pk])).content.decode()
    assert "Partira dans le" in page and "CGPEM_082_20250131_M.xml" not in page


def test_history_flags_a_decision_that_cannot_be_carried_and_an_anonymised_person(officer_client):
    from rights.retention import anonymise

    blocked = DecisionFactory(beneficiary=unsendable_person())
    page = officer_client.get(reverse("orientation_history", args=[blocked.beneficiary_id])).content.decode()
    assert f"Ne peut pas être transmise : {NOTHING_IDENTIFYING}." in page.replace("&#x27;", "'")
    gone = DecisionFactory()
    anonymise(gone.beneficiary)
    page = officer_client.get(reverse("orientation_history", args=[gone.beneficiary_id])).content.decode()
    assert "Non transmise : personne anonymisée" in page


def test_recording_a_decision_that_cannot_be_carried_says_so_at_once(officer_client):
    person = unsendable_person()
    body = ReferentBodyFactory()
    response = officer_client.post(
        reverse("orientation_record", args=[person.pk]),
        {"nature": "05", "decision_date": "2025-01-15", "referent_body": body.pk, "correspondent": ""},
        follow=True,
    )
    content = response.content.decode().replace("&#x27;", "'")
    assert "La décision d'orientation est enregistrée." in content
    assert "ne pourra pas être transmise à France Travail" in content
    assert NOTHING_IDENTIFYING in content
    # A decision that can be carried: no such warning.
    fine = BeneficiaryFactory()
    response = officer_client.post(
        reverse("orientation_record", args=[fine.pk]),
        {"nature": "05", "decision_date": "2025-01-15", "referent_body": body.pk, "correspondent": ""},
        follow=True,
    )
    assert "ne pourra pas être transmise" not in response.content.decode()


def test_a_bulk_decision_that_cannot_be_carried_is_flagged_in_the_result(officer_client):
    body = ReferentBodyFactory()
    fine, blocked = BeneficiaryFactory(), unsendable_person()
    response = officer_client.post(
        reverse("orientation_bulk_record"),
        {
            "nature": "05",
            "decision_date": "2025-02-01",
            "referent_body": body.pk,
            "correspondent": "",
            "beneficiaries": [fine.pk, blocked.pk],
        },
        follow=True,
    )
    content = response.content.decode()
    assert "2 décisions enregistrées, 0 refusée." in content
    assert content.count('class="table-warning"') == 1
    assert content.count("ne pourra pas être transmise à France Travail") == 1


# --- « Non transmises » ---------------------------------------------------------------


def test_untransmitted_list_for_orientation_officers(officer_client, client, social_worker):
    blocked = DecisionFactory(beneficiary=unsendable_person())
    DecisionFactory()  # carried
    old = DecisionFactory(beneficiary=unsendable_person(), decision_date=date(2024, 1, 1))
    OrientationDecision.objects.filter(pk=old.pk).update(ended_on=date(2024, 6, 1))  # no longer in force
    page = officer_client.get(reverse("orientation_untransmitted")).content.decode()
    assert "1 décision non transmise" in page
    assert reverse("orientation_history", args=[blocked.beneficiary_id]) in page
    assert reverse("orientation_history", args=[old.beneficiary_id]) not in page
    assert (
        reverse("orientation_untransmitted")
        in officer_client.get(reverse("orientation_queue")).content.decode()
    )
    client.logout()
    client.login(username=social_worker.username, password=TEST_PASSWORD)
    assert client.get(reverse("orientation_untransmitted")).status_code == 403


# --- « Prochain CGPEM » ----------------------------------------------------------------


def test_next_cgpem_preview_counts_and_lists_without_writing(officer_client, settings):
    settings.EXCHANGE_DAILY_DEPOSIT = True
    DecisionFactory.create_batch(2)  # changed today: in the daily flux
    DecisionFactory(beneficiary=unsendable_person())
    DecisionFactory(changed_at=at(date(2024, 5, 1)), decision_date=date(2024, 5, 1))  # not changed
    page = officer_client.get(reverse("cgpem_preview")).content.decode()
    assert '<dd class="col-sm-8" id="preview-count">2</dd>' in page
    assert f"CGPEM_082_{timezone.localdate():%Y%m%d}_Q.xml" in page
    assert "2 décisions parmi les personnes" in page
    assert not CgpemExport.objects.exists()
    assert not CarriedDecision.objects.exists()


def test_next_cgpem_period_follows_the_deposit_schedule(settings):
    settings.EXCHANGE_DAILY_DEPOSIT = False
    settings.EXCHANGE_MONTHLY_DEPOSIT_DAY = 3
    assert transmission.next_preview_period(date(2025, 3, 2)) == ("M", date(2025, 2, 28))
    assert transmission.next_preview_period(date(2025, 3, 4)) == ("M", date(2025, 3, 31))
    assert transmission.next_deposit(date(2025, 3, 2)) == ("M", date(2025, 3, 3))
    # Dated in March: not in the stock of February deposited on the 3rd.
    assert transmission.next_deposit(date(2025, 3, 2), date(2025, 3, 1)) == ("M", date(2025, 4, 3))
    assert transmission.next_deposit(date(2025, 12, 5)) == ("M", date(2026, 1, 3))
    settings.EXCHANGE_MONTHLY_DEPOSIT = False
    assert transmission.next_deposit(date(2025, 3, 2)) is None


def test_the_preview_is_the_file(settings):
    """The preview and generate_cgpem fit the same way: same count, same decisions left out."""
    DecisionFactory.create_batch(3, decision_date=date(2025, 1, 10))
    DecisionFactory(beneficiary=unsendable_person(), decision_date=date(2025, 1, 10))
    preview = transmission.preview("M", date(2025, 1, 31))
    export = generate_cgpem("M", date(2025, 1, 31))
    assert preview.count == export.records == 3
    assert preview.report.excluded == export.excluded
    assert set(preview.decisions.values_list("pk", flat=True)) == set(
        CarriedDecision.objects.filter(export=export).values_list("decision_id", flat=True)
    )


def test_preview_is_for_orientation_officers_and_admins(client, social_worker, admin_client):
    assert admin_client.get(reverse("cgpem_preview")).status_code == 200
    admin_client.logout()
    client.login(username=social_worker.username, password=TEST_PASSWORD)
    assert client.get(reverse("cgpem_preview")).status_code == 403


# --- The admin's deposit asks for a confirmation ---------------------------------------


def test_deposit_shows_what_will_be_sent_before_depositing(
    admin_client, settings, django_capture_on_commit_callbacks
):
    settings.EXCHANGE_URL = ""
    last_month_end = timezone.localdate().replace(day=1) - timedelta(days=1)
    DecisionFactory.create_batch(2, decision_date=last_month_end - timedelta(days=3))
    DecisionFactory(beneficiary=unsendable_person(), decision_date=last_month_end - timedelta(days=3))
    response = admin_client.post(reverse("exchange_run_start"), {"direction": "deposit", "periodicity": "M"})
    page = response.content.decode()
    assert response.status_code == 200
    assert f"CGPEM_082_{last_month_end:%Y%m%d}_M.xml" in page
    assert '<dd class="col-sm-8" id="preview-count">2</dd>' in page
    assert 'name="confirmed" value="1"' in page
    assert not ExchangeRun.objects.exists() and not CgpemExport.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("exchange_run_start"), {"direction": "deposit", "periodicity": "M", "confirmed": "1"}
        )
    assert response.status_code == 302 and ExchangeRun.objects.count() == 1


def test_deposit_confirmation_names_a_file_already_generated_for_the_period(admin_client):
    last_month_end = timezone.localdate().replace(day=1) - timedelta(days=1)
    DecisionFactory(decision_date=last_month_end - timedelta(days=3))
    export = generate_cgpem("M", last_month_end)
    page = admin_client.post(
        reverse("exchange_run_start"), {"direction": "deposit", "periodicity": "M"}
    ).content.decode()
    assert f"Le fichier {export.file_name} de cette période a été produit le" in page
    assert "c'est lui qui sera déposé, tel quel" in page
