"""Notes (« journal de suivi »), worklists (cohort lines marked « traité ») and « Nouveautés »."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from caseloads import news
from caseloads.assignments import assign
from caseloads.models import Handling, Note, Outcome, Preferences
from caseloads.worklists import mark_handled
from rights.person_export import export_person
from rights.retention import anonymise
from tests.beneficiaries.factories import ImportRunFactory, StatusEventFactory, followup, registered
from tests.factories import TEST_PASSWORD, BeneficiaryFactory, UserFactory
from tests.orientations.factories import DecisionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def worker_client(client, social_worker):
    client.login(username=social_worker.username, password=TEST_PASSWORD)
    return client


# --- Notes ----------------------------------------------------------------------------------


def test_a_note_is_written_shown_and_audited(worker_client, social_worker):
    person = BeneficiaryFactory()
    detail = reverse("beneficiary_detail", args=[person.pk])
    page = worker_client.get(detail)
    assert "Restez factuel" in page.content.decode()
    assert "Aucune note pour l'instant." in page.content.decode()
    response = worker_client.post(
        reverse("caseload_note_add", args=[person.pk]),
        {"text": "Appel le 3/02 : RDV fixé au CCAS."},
        follow=True,
    )
    assert "La note est enregistrée." in response.content.decode()
    assert "Appel le 3/02 : RDV fixé au CCAS." in response.content.decode()
    note = Note.objects.get()
    assert (note.beneficiary, note.author) == (person, social_worker)
    assert AuditEntry.objects.filter(action="added_note", object_id=str(person.pk)).exists()
    # Empty: refused, said so.
    refused = worker_client.post(reverse("caseload_note_add", args=[person.pk]), {"text": "   "}, follow=True)
    assert "Note non enregistrée" in refused.content.decode()
    assert Note.objects.count() == 1


def test_a_note_is_editable_by_its_author_for_24_hours_only(worker_client, social_worker, client):
    person = BeneficiaryFactory()
    note = Note.objects.create(beneficiary=person, author=social_worker, text="Premier jet")
    edit = reverse("caseload_note_edit", args=[note.pk])
    assert "Corriger" in worker_client.get(reverse("beneficiary_detail", args=[person.pk])).content.decode()
    worker_client.post(edit, {"text": "Texte corrigé"})
    note.refresh_from_db()
    assert note.text == "Texte corrigé"
    assert AuditEntry.objects.filter(action="edited_note").count() == 1
    # After 24 hours: fixed.
    Note.objects.filter(pk=note.pk).update(created_at=timezone.now() - timedelta(hours=25))
    response = worker_client.post(edit, {"text": "Trop tard"}, follow=True)
    assert "dans les 24 heures" in response.content.decode()
    note.refresh_from_db()
    assert note.text == "Texte corrigé"
    # Another user, within the window: refused too.
    fresh = Note.objects.create(beneficiary=person, author=social_worker, text="Récente")
    other = UserFactory(username="co-notes", role="orientation_officer")
    client.logout()
    client.login(username=other.username, password=TEST_PASSWORD)
    client.post(reverse("caseload_note_edit", args=[fresh.pk]), {"text": "Pas à moi"})
    fresh.refresh_from_db()
    assert fresh.text == "Récente"


def test_notes_of_a_person_outside_the_territories_are_not_reachable(client):
    from tests.factories import TerritoryFactory

    restricted = UserFactory(username="ts-m", role="social_worker")
    restricted.territories.add(TerritoryFactory(name="Montauban", communes="82121"))
    outsider = BeneficiaryFactory(commune_code="82033")
    note = Note.objects.create(beneficiary=outsider, author=None, text="Confidentiel")
    client.login(username="ts-m", password=TEST_PASSWORD)
    assert client.post(reverse("caseload_note_add", args=[outsider.pk]), {"text": "x"}).status_code == 404
    assert client.get(reverse("caseload_note_edit", args=[note.pk])).status_code == 404
    assert Note.objects.count() == 1


def test_notes_are_exported_with_the_person_and_purged_with_the_identity(social_worker):
    person = BeneficiaryFactory()
    Note.objects.create(beneficiary=person, author=social_worker, text="Rendez-vous honoré")
    outcome = Outcome.objects.get(label="Contacté")
    mark_handled(person, "sans-contact", date(2025, 1, 1), outcome, "Joint par téléphone", social_worker)
    exported = export_person([person])["people"][0]["related"]
    assert [row["text"] for row in exported["caseloads.note"]] == ["Rendez-vous honoré"]
    assert [row["note"] for row in exported["caseloads.handling"]] == ["Joint par téléphone"]
    anonymise(person)
    assert not Note.objects.filter(beneficiary=person).exists()
    assert not Handling.objects.filter(beneficiary=person).exists()


# --- Worklists ----------------------------------------------------------------------------


def _ceased_this_month(birth_name: str):
    run = ImportRunFactory(reference_date=date(2025, 1, 31))
    person = BeneficiaryFactory(birth_name=birth_name)
    followup(person, run=run, **registered(cessation_date=date(2025, 1, 20), cessation_motive="11"))
    return person


def test_a_handled_line_leaves_the_list_for_the_month_and_the_toggle_shows_it(worker_client):
    handled, waiting = _ceased_this_month("Aubert"), _ceased_this_month("Barbier")
    url = reverse("cohort_detail", args=["cessations-du-mois"])
    listing = worker_client.get(url)
    assert [row.birth_name for row in listing.context["page"]] == ["Aubert", "Barbier"]
    assert "Marquer traité" in listing.content.decode()
    handle_url = reverse("caseload_handle", args=["cessations-du-mois", handled.pk])
    form = worker_client.get(handle_url, {"next": url})
    assert "Restez factuel" in form.content.decode()
    outcome = Outcome.objects.get(label="Rendez-vous fixé")
    response = worker_client.post(
        handle_url, {"outcome": outcome.pk, "note": "RDV le 12/02", "next": url}, follow=True
    )
    assert response.redirect_chain[-1][0] == url
    assert "Ligne marquée « traité » : Rendez-vous fixé." in response.content.decode()
    assert [row.birth_name for row in response.context["page"]] == ["Barbier"]
    assert "1 ligne traitée ce mois, masquée." in response.content.decode()
    shown = worker_client.get(url, {"traites": "1"})
    assert [row.birth_name for row in shown.context["page"]] == ["Aubert", "Barbier"]
    assert "Rendez-vous fixé" in shown.content.decode()
    handling = Handling.objects.get()
    assert (handling.month, handling.cohort, handling.note) == (
        date(2025, 1, 1),
        "cessations-du-mois",
        "RDV le 12/02",
    )
    entry = AuditEntry.objects.get(action="handled_line")
    assert entry.extra == {"cohort": "cessations-du-mois", "month": "2025-01", "outcome": outcome.pk}
    # Taken back: in the list again.
    worker_client.post(reverse("caseload_unhandle", args=["cessations-du-mois", handled.pk]))
    assert [row.birth_name for row in worker_client.get(url).context["page"]] == ["Aubert", "Barbier"]
    assert AuditEntry.objects.filter(action="reopened_line").count() == 1
    # Another list is not concerned by a line handled in this one.
    assert waiting.pk


def test_the_counts_of_the_lists_leave_out_the_handled_lines_like_their_default_view(
    worker_client, social_worker
):
    handled, _waiting = _ceased_this_month("Aubert"), _ceased_this_month("Barbier")

    def counts() -> tuple[int, int, int]:
        home = dict((c.slug, n) for c, n in worker_client.get(reverse("home")).context["rows"])
        index = dict((c.slug, n) for c, n in worker_client.get(reverse("cohort_index")).context["rows"])
        listing = worker_client.get(reverse("cohort_detail", args=["cessations-du-mois"]))
        return home["cessations-du-mois"], index["cessations-du-mois"], listing.context["page"].count

    assert counts() == (2, 2, 2)
    outcome = Outcome.objects.get(label="Rendez-vous fixé")
    mark_handled(handled, "cessations-du-mois", date(2025, 1, 1), outcome, "", social_worker)
    assert counts() == (1, 1, 1)
    # Handled for another list, or last month: this list's count is not concerned.
    mark_handled(_waiting, "sans-contact", date(2025, 1, 1), outcome, "", social_worker)
    mark_handled(_waiting, "cessations-du-mois", date(2024, 12, 1), outcome, "", social_worker)
    assert counts() == (1, 1, 1)


def test_an_outcome_is_required(worker_client):
    person = _ceased_this_month("Aubert")
    response = worker_client.post(reverse("caseload_handle", args=["cessations-du-mois", person.pk]), {})
    assert "Ce champ est obligatoire." in response.content.decode()
    assert not Handling.objects.exists()


# --- Nouveautés ---------------------------------------------------------------------------------


def test_news_of_my_caseload_newest_first_then_marked_seen(worker_client, social_worker):
    mine = BeneficiaryFactory(birth_name="Aubert", first_name="Jeanne", usage_name="")
    other = BeneficiaryFactory(birth_name="Barbier")
    assign(mine, social_worker)
    old_run = ImportRunFactory(reference_date=date(2024, 12, 31))
    run = ImportRunFactory(reference_date=date(2025, 1, 31))
    type(run).objects.filter(pk=old_run.pk).update(finished_at=timezone.now() - timedelta(days=2))
    type(run).objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(hours=1))
    StatusEventFactory(beneficiary=mine, run=old_run, date=date(2024, 12, 10), kind="left_stock")
    # Written by the import (tests/exchanges/test_ppae_signed.py), dated by the signature; before
    # the radiation here: one run's events come newest first.
    StatusEventFactory(beneficiary=mine, run=run, date=date(2025, 1, 12), kind="ppae_signed")
    StatusEventFactory(
        beneficiary=mine,
        run=run,
        date=date(2025, 1, 15),
        kind="radiation",
        motive="43",
        motive_label="DEFAUT",
    )
    StatusEventFactory(beneficiary=other, run=run, date=date(2025, 1, 15), kind="radiation")
    DecisionFactory(beneficiary=mine, decision_date=date(2025, 1, 5))
    items = news.news(social_worker)
    assert [item.kind for item in items] == ["orientation", "radiation", "ppae_signed", "left_stock"]
    assert all(item.beneficiary_id == mine.pk for item in items)
    assert items[1].detail == "motif : 43 DEFAUT"
    home = worker_client.get(reverse("home")).content.decode()
    assert "AUBERT Jeanne" in home and "Radiation" in home and "PPAE signé" in home
    assert reverse("beneficiary_detail", args=[mine.pk]) in home
    worker_client.post(reverse("caseload_news_seen"), {"next": "/"})
    assert news.news(social_worker) == []
    page = worker_client.get(reverse("caseload")).content.decode()
    assert "Rien de nouveau pour les personnes que vous suivez." in page


def test_weekly_digest_counts_and_a_link_without_personal_data(worker_client, social_worker, settings):
    from caseloads.digest import send_digests

    settings.SITE_URL = "https://liaison.example.org"
    social_worker.email = "ines@example.org"
    social_worker.save()
    mine = BeneficiaryFactory(birth_name="Aubert", first_name="Jeanne")
    assign(mine, social_worker)
    run = ImportRunFactory(reference_date=date(2025, 1, 31))
    type(run).objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(hours=1))
    StatusEventFactory(beneficiary=mine, run=run, date=date(2025, 1, 15), kind="radiation")
    assert send_digests() == 0  # nobody opted in
    worker_client.post(reverse("caseload_digest"), {"weekly_digest": "on"})
    assert Preferences.objects.get(user=social_worker).weekly_digest
    assert send_digests() == 1
    message = mail.outbox[-1]
    assert message.to == ["ines@example.org"]
    assert "Radiation : 1" in message.body
    assert "https://liaison.example.org/beneficiaires/mes-beneficiaires/" in message.body
    for personal in ("Aubert", "AUBERT", "Jeanne", mine.nir[:5], mine.birth_date.strftime("%d/%m/%Y")):
        assert personal not in message.body and personal not in message.subject
    # Sent: the next run says nothing new, and sends nothing.
    assert send_digests() == 0
