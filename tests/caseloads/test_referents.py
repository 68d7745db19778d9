"""Référents and caseloads: rules, the person's page, bulk assignment, « Mes bénéficiaires », CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from caseloads.assignments import AssignmentRefused, assign, caseload, current_assignment, end_assignment
from caseloads.models import Assignment
from intake.beneficiary_csv import import_beneficiaries
from tests.beneficiaries.factories import followup, registered
from tests.factories import TEST_PASSWORD, BeneficiaryFactory, TerritoryFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def montauban_worker():
    user = UserFactory(username="ts-montauban", role="social_worker", first_name="Inès", last_name="Garnier")
    user.territories.add(TerritoryFactory(name="Montauban", communes="82121"))
    return user


@pytest.fixture
def officer_client(client, orientation_officer):
    client.login(username=orientation_officer.username, password=TEST_PASSWORD)
    return client


# --- Rules ----------------------------------------------------------------------------


def test_a_new_referent_ends_the_current_one_and_keeps_the_history(montauban_worker, orientation_officer):
    person = BeneficiaryFactory(commune_code="82121")
    colleague = UserFactory(username="ts2", role="social_worker")
    colleague.territories.add(TerritoryFactory(name="Montauban", communes="82121"))
    first = assign(person, montauban_worker, structure="CCAS  de Montauban", start_date=date(2025, 1, 6))
    assert first.assignment.structure == "CCAS de Montauban"
    second = assign(person, colleague, start_date=date(2025, 3, 3), by=orientation_officer)
    rows = list(Assignment.objects.filter(beneficiary=person).order_by("start_date"))
    assert [(row.referent, row.start_date, row.end_date) for row in rows] == [
        (montauban_worker, date(2025, 1, 6), date(2025, 3, 3)),
        (colleague, date(2025, 3, 3), None),
    ]
    assert second.ended == rows[0]
    assert current_assignment(person).referent == colleague
    # The same référent and structure again: nothing changes.
    assert assign(person, colleague).assignment is None
    assert Assignment.objects.filter(beneficiary=person).count() == 2


def test_a_start_before_the_current_one_is_refused(montauban_worker):
    person = BeneficiaryFactory(commune_code="82121")
    assign(person, montauban_worker, start_date=date(2025, 3, 3))
    other = UserFactory(username="co2", role="orientation_officer")
    with pytest.raises(AssignmentRefused, match="précède"):
        assign(person, other, start_date=date(2025, 1, 1))


def test_a_person_outside_the_referent_territories_is_refused(montauban_worker):
    outsider = BeneficiaryFactory(commune_code="82033")
    with pytest.raises(AssignmentRefused, match="hors des territoires"):
        assign(outsider, montauban_worker)
    nowhere = UserFactory(username="ts-sans-territoire", role="social_worker")
    with pytest.raises(AssignmentRefused):
        assign(BeneficiaryFactory(commune_code="82121"), nowhere)
    inactive = UserFactory(username="parti", role="orientation_officer", is_active=False)
    with pytest.raises(AssignmentRefused, match="inactif"):
        assign(BeneficiaryFactory(), inactive)
    assert not Assignment.objects.exists()


def test_the_caseload_never_shows_a_person_outside_the_user_territories(montauban_worker):
    inside = BeneficiaryFactory(commune_code="82121")
    assign(inside, montauban_worker)
    # Moved out of the territory since the assignment: no longer shown, though still assigned.
    moved = BeneficiaryFactory(commune_code="82121")
    assign(moved, montauban_worker)
    moved.commune_code = "82033"
    moved.save()
    assert list(caseload(montauban_worker)) == [inside]


def test_end_assignment_keeps_the_history(montauban_worker):
    person = BeneficiaryFactory(commune_code="82121")
    assign(person, montauban_worker, start_date=date(2025, 1, 6))
    ended = end_assignment(person, end_date=date(2025, 2, 1))
    assert ended.end_date == date(2025, 2, 1)
    assert current_assignment(person) is None
    assert Assignment.objects.filter(beneficiary=person).count() == 1


# --- The person's page -----------------------------------------------------------------


def test_an_officer_assigns_a_referent_on_the_person_page(officer_client, montauban_worker):
    person = BeneficiaryFactory(commune_code="82121")
    detail = reverse("beneficiary_detail", args=[person.pk])
    page = officer_client.get(detail)
    assert page.status_code == 200
    assert page.context["referent"] is None
    assert "Attribuer un référent" in page.content.decode()
    response = officer_client.post(
        reverse("caseload_referent", args=[person.pk]),
        {"referent": montauban_worker.pk, "structure": "CCAS de Montauban", "start_date": "2025-02-03"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == detail
    assert current_assignment(person).start_date == date(2025, 2, 3)
    page = officer_client.get(detail)
    assert page.context["referent"].referent == montauban_worker
    assert "Inès Garnier — CCAS de Montauban" in page.content.decode()
    entry = AuditEntry.objects.get(action="assigned_referent")
    assert entry.object_id == str(person.pk) and entry.extra["referent"] == montauban_worker.pk
    history = officer_client.get(reverse("caseload_referent", args=[person.pk]))
    assert "Historique des référents" in history.content.decode()
    assert "CCAS de Montauban" in history.content.decode()


def test_the_person_page_refuses_a_referent_of_another_territory(officer_client, montauban_worker):
    outsider = BeneficiaryFactory(commune_code="82033")
    response = officer_client.post(
        reverse("caseload_referent", args=[outsider.pk]), {"referent": montauban_worker.pk}
    )
    assert response.status_code == 200
    assert "La personne habite hors des territoires de Inès Garnier." in response.content.decode()
    assert not Assignment.objects.exists()


def test_a_social_worker_may_not_assign(client, social_worker, montauban_worker):
    person = BeneficiaryFactory(commune_code="82121")
    client.login(username=social_worker.username, password=TEST_PASSWORD)
    assert client.get(reverse("caseload_referent", args=[person.pk])).status_code == 403
    response = client.post(reverse("caseload_bulk_assign"), {"referent": montauban_worker.pk})
    assert response.status_code == 403
    page = client.get(reverse("beneficiary_detail", args=[person.pk])).content.decode()
    assert "Attribuer un référent" not in page
    assert 'form="bulk-assign"' not in client.get(reverse("beneficiary_list")).content.decode()


# --- Bulk assignment --------------------------------------------------------------------


def test_bulk_assignment_of_the_ticked_people_reports_each_one(officer_client, montauban_worker):
    inside = BeneficiaryFactory(commune_code="82121", birth_name="Dedans")
    outside = BeneficiaryFactory(commune_code="82033", birth_name="Dehors")
    listing = officer_client.get(reverse("beneficiary_list"))
    assert f'value="{inside.pk}" id="choix-{inside.pk}" form="bulk-assign"' in listing.content.decode()
    response = officer_client.post(
        reverse("caseload_bulk_assign") + "?liste=",
        {"scope": "selected", "beneficiaries": [inside.pk, outside.pk], "referent": montauban_worker.pk},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 personne attribuée, 1 refusée." in response.content.decode()
    assert "La personne habite hors des territoires de Inès Garnier." in response.content.decode()
    assert current_assignment(inside).referent == montauban_worker
    assert current_assignment(outside) is None
    assert AuditEntry.objects.filter(action="assigned_referent", extra__bulk=True).count() == 1


def test_bulk_assignment_of_a_whole_filtered_list_asks_for_the_count(officer_client, montauban_worker):
    people = [BeneficiaryFactory(commune_code="82121") for _ in range(3)]
    for person in people[:2]:
        followup(person, **registered())
    url = reverse("caseload_bulk_assign") + "?statut=inscrit&liste="
    data = {"scope": "all", "referent": montauban_worker.pk, "structure": "CCAS"}
    confirm = officer_client.post(url, data)
    assert confirm.status_code == 200
    assert (
        "Le référent ci-dessous sera attribué aux 2 personnes de la liste filtrée."
        in confirm.content.decode()
    )
    assert not Assignment.objects.exists()
    done = officer_client.post(url, {**data, "confirmed_count": 2}, follow=True)
    assert "2 personnes attribuées" in done.content.decode()
    assert {a.beneficiary for a in Assignment.objects.all()} == set(people[:2])
    # A count that no longer holds: asked again, nothing done.
    again = officer_client.post(url, {**data, "referent": UserFactory(role="admin").pk, "confirmed_count": 5})
    assert "La liste filtrée a changé" in again.content.decode()


def test_bulk_assignment_without_anyone_ticked_is_refused(officer_client, montauban_worker):
    response = officer_client.post(reverse("caseload_bulk_assign"), {"referent": montauban_worker.pk})
    assert response.status_code == 400
    assert "Cochez au moins une personne." in response.content.decode()


# --- « Mes bénéficiaires » -----------------------------------------------------------------


def test_my_caseload_lists_only_my_current_people_with_filters_and_export(client, montauban_worker):
    mine = BeneficiaryFactory(commune_code="82121", birth_name="Aubert")
    followup(mine, **registered())
    also_mine = BeneficiaryFactory(commune_code="82121", birth_name="Barbier")
    not_mine = BeneficiaryFactory(commune_code="82121", birth_name="Carpentier")
    former = BeneficiaryFactory(commune_code="82121", birth_name="Dumont")
    for person in (mine, also_mine, former):
        assign(person, montauban_worker, start_date=date(2025, 1, 6))
    end_assignment(former)
    client.login(username=montauban_worker.username, password=TEST_PASSWORD)
    url = reverse("caseload")
    response = client.get(url)
    assert [row.birth_name for row in response.context["page"]] == ["Aubert", "Barbier"]
    assert "2 bénéficiaires" in response.content.decode()
    assert not_mine.birth_name not in response.content.decode()
    filtered = client.get(url, {"statut": "inscrit"})
    assert [row.birth_name for row in filtered.context["page"]] == ["Aubert"]
    searched = client.post(url, {"q": "barbier"}, follow=True)
    assert [row.birth_name for row in searched.context["page"]] == ["Barbier"]
    export = client.get(reverse("caseload_export"))
    rows = list(
        csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig")), delimiter=";")
    )
    assert [row[1] for row in rows[1:]] == ["Aubert", "Barbier"]
    home = client.get(reverse("home"))
    assert "2 bénéficiaires suivis" in home.content.decode()


def test_my_caseload_follows_an_assignment_at_once(client, montauban_worker):
    """The list's ids are cached under the data version: an assignment must change it."""
    first = BeneficiaryFactory(commune_code="82121", birth_name="Aubert")
    assign(first, montauban_worker)
    client.login(username=montauban_worker.username, password=TEST_PASSWORD)
    assert len(client.get(reverse("caseload")).context["page"].rows) == 1
    assign(BeneficiaryFactory(commune_code="82121", birth_name="Barbier"), montauban_worker)
    assert len(client.get(reverse("caseload")).context["page"].rows) == 2
    end_assignment(first)
    assert [row.birth_name for row in client.get(reverse("caseload")).context["page"]] == ["Barbier"]


def test_the_home_page_counts_one_person_in_the_singular(client, montauban_worker):
    assign(BeneficiaryFactory(commune_code="82121"), montauban_worker)
    client.login(username=montauban_worker.username, password=TEST_PASSWORD)
    assert "1 bénéficiaire suivi<" in client.get(reverse("home")).content.decode()


# --- CSV --------------------------------------------------------------------------------------


def _csv(tmp_path, lines: list[str]):
    path = tmp_path / "beneficiaires.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_csv_assigns_referents_by_login_or_email(tmp_path, montauban_worker):
    officer = UserFactory(
        username="co-csv", role="orientation_officer", email="Marie.Roux@departement.example"
    )
    path = _csv(
        tmp_path,
        [
            "nom_naissance;prenom;date_naissance;code_insee_commune;referent;structure",
            "Aubert;Jeanne;1980-02-01;82121;TS-MONTAUBAN;CCAS de Montauban",
            "Barbier;Paul;1975-05-12;82033;marie.roux@departement.example;",
            "Carpentier;Léa;1990-10-20;82033;ts-montauban;",
            "Dumont;Luc;1988-03-04;82121;inconnu@example.org;",
            "Evrard;Anne;1970-01-01;82121;;Sans référent",
        ],
    )
    summary = import_beneficiaries(path)
    assert (summary.created, summary.referents) == (2, 2)
    errors = sorted(summary.errors, key=lambda error: error.line)
    assert [(e.line, e.field) for e in errors] == [(4, "referent"), (5, "referent"), (6, "referent")]
    assert "hors des territoires" in errors[0].message
    assert "inconnu" in errors[1].message
    assert errors[2].message == "structure donnée sans référent"
    aubert = Assignment.objects.get(beneficiary__birth_name="Aubert")
    assert (aubert.referent, aubert.structure, aubert.source) == (
        montauban_worker,
        "CCAS de Montauban",
        "csv",
    )
    assert Assignment.objects.get(beneficiary__birth_name="Barbier").referent == officer
    # The same file again changes nothing.
    again = import_beneficiaries(path)
    assert (again.created, again.updated, again.referents, again.unchanged) == (0, 0, 0, 2)
    assert Assignment.objects.count() == 2


def test_csv_dry_run_assigns_nobody(tmp_path, montauban_worker):
    path = _csv(
        tmp_path,
        [
            "nom_naissance;prenom;date_naissance;code_insee_commune;referent",
            "Aubert;Jeanne;1980-02-01;82121;ts-montauban",
        ],
    )
    assert import_beneficiaries(path, dry_run=True).referents == 1
    assert not Assignment.objects.exists()


def test_assignment_date_defaults_to_today(montauban_worker):
    result = assign(BeneficiaryFactory(commune_code="82121"), montauban_worker)
    assert result.assignment.start_date == timezone.localdate()
    assert result.assignment.start_date - timedelta(days=0) == timezone.localdate()


# --- The CSV uploaded from the browser -----------------------------------------------------------


def test_an_admin_uploads_the_csv_with_referents(client, admin_user, montauban_worker):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.login(username=admin_user.username, password=TEST_PASSWORD)
    content = (
        b"nom_naissance;prenom;date_naissance;code_insee_commune;referent;structure\n"
        b"Aubert;Jeanne;1980-02-01;82121;ts-montauban;CCAS de Montauban\n"
        b"Barbier;Paul;1975-05-12;82033;ts-montauban;\n"
    )
    url = reverse("caseload_csv_upload")
    simulated = client.post(
        url, {"file": SimpleUploadedFile("b.csv", content, "text/csv"), "dry_run": "on"}
    ).content.decode()
    assert "Simulation : rien n'a été enregistré" in simulated
    assert not Assignment.objects.exists()
    response = client.post(url, {"file": SimpleUploadedFile("b.csv", content, "text/csv")})
    page = response.content.decode()
    assert "1 référent attribué" in page and "1 ligne rejetée" in page
    assert "la personne habite hors des territoires de ce référent" in page
    assert Assignment.objects.get().referent == montauban_worker
    entry = AuditEntry.objects.filter(action="imported_beneficiaries").latest("timestamp")
    assert (entry.extra["referents"], entry.extra["rejected"], entry.extra["dry_run"]) == (1, 1, False)
    refused = client.post(url, {"file": SimpleUploadedFile("c.csv", b"nom;prenom\nx;y\n", "text/csv")})
    assert "fichier refusé, rien n'a été enregistré" in refused.content.decode()
    assert "colonnes obligatoires absentes" in refused.content.decode()


def test_only_admins_upload_the_csv(client, orientation_officer):
    client.login(username=orientation_officer.username, password=TEST_PASSWORD)
    assert client.get(reverse("caseload_csv_upload")).status_code == 403
