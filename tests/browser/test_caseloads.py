"""Caseload workflows in a browser: a social worker's morning, an officer assigning a caseload in bulk."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from caseloads.assignments import assign
from caseloads.models import Assignment, Handling, Note, Outcome
from exchanges.models import ImportRun
from exchanges.pecgm_import import import_pecgm
from tests.beneficiaries.factories import ImportRunFactory, StatusEventFactory, followup, registered
from tests.browser.conftest import assert_accessible
from tests.exchanges.import_files import pecgm_file, record_for
from tests.factories import BeneficiaryFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def struck_off(social_worker):
    """Someone of the social worker's caseload struck off in the month of the newest data."""
    # The outcomes come from a data migration, which the flush after a transactional test undoes.
    Outcome.objects.get_or_create(label="Rendez-vous fixé", defaults={"position": 2})
    run = ImportRunFactory(reference_date=date(2025, 1, 31))
    ImportRun.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(hours=2))
    person = BeneficiaryFactory(birth_name="Lefèvre", first_name="Éloïse", usage_name="")
    followup(
        person,
        run=run,
        **registered(
            radiation_date=date(2025, 1, 20),
            radiation_motive="43",
            radiation_motive_label="DEFAUT D ACTUALISATION",
        ),
    )
    StatusEventFactory(
        beneficiary=person,
        run=run,
        date=date(2025, 1, 20),
        kind="radiation",
        motive="43",
        motive_label="DEFAUT D ACTUALISATION",
    )
    assign(person, social_worker)
    return person


def test_a_social_worker_morning_news_radiation_note_handled(
    page, login, social_worker, struck_off, live_server
):
    login(social_worker)
    news = page.locator("#nouveautes")
    expect(news).to_contain_text("Radiation")
    expect(page.locator("#caseload-count")).to_have_text("1 bénéficiaire suivi")
    assert_accessible(page)
    news.get_by_role("link", name="LEFÈVRE Éloïse").click()
    page.wait_for_url(f"**/beneficiaires/{struck_off.pk}/")
    expect(page.locator("#current-referent")).to_contain_text(social_worker.get_full_name())

    # A note in the journal de suivi, under its CNIL warning.
    expect(page.locator("#note-warning")).to_contain_text("Restez factuel")
    page.get_by_label("Nouvelle note").fill(
        "Appel : radiation pour défaut d'actualisation, RDV fixé le 12/02."
    )
    page.get_by_role("button", name="Ajouter la note").click()
    expect(page.locator("#notes")).to_contain_text("RDV fixé le 12/02")
    assert Note.objects.get().author == social_worker
    assert_accessible(page)

    # The « Radiés du mois » list: marked « traité », the line leaves the list.
    page.get_by_role("link", name="Listes à traiter").first.click()
    page.locator("#cohorts").get_by_role("link", name="Radiés du mois").click()
    expect(page.locator("#beneficiaries")).to_contain_text("LEFÈVRE Éloïse")
    assert_accessible(page)
    page.get_by_role("link", name="Marquer traité : LEFÈVRE Éloïse").click()
    page.get_by_label("Suite donnée").select_option(label="Rendez-vous fixé")
    page.get_by_label("Note (facultative)").fill("RDV au CCAS")
    page.get_by_role("button", name="Marquer traité").click()
    page.wait_for_url("**/cohortes/radies-du-mois/")
    expect(page.get_by_role("alert")).to_contain_text("Rendez-vous fixé")
    expect(page.locator("#beneficiaries")).not_to_contain_text("LEFÈVRE")
    expect(page.locator("#handled-toggle")).to_contain_text("1 ligne traitée ce mois, masquée.")
    page.get_by_role("link", name="Afficher les lignes traitées").click()
    expect(page.locator("#beneficiaries")).to_contain_text("Rendez-vous fixé")
    assert Handling.objects.get().handled_by == social_worker

    # Back home: the news marked seen in one click.
    page.goto(f"{live_server.url}/")
    page.get_by_role("button", name="Marquer comme vu").click()
    expect(page.locator("#news-empty")).to_be_visible()


def test_a_ppae_signed_in_a_monthly_file_is_news_that_leads_to_the_parcours(
    page, login, social_worker, live_server, tmp_path
):
    person = BeneficiaryFactory(birth_name="Aubert", first_name="Jeanne", usage_name="")
    assign(person, social_worker)
    january = record_for(person)
    import_pecgm(pecgm_file(tmp_path, [january], date(2025, 1, 31)))
    february = {**january, "ppae_signature_date": date(2025, 2, 10)}
    import_pecgm(pecgm_file(tmp_path, [february], date(2025, 2, 28)))
    login(social_worker)
    news = page.locator("#nouveautes")
    expect(news).to_contain_text("AUBERT Jeanne — PPAE signé le 10/02/2025")
    news.get_by_role("link", name="AUBERT Jeanne").click()
    page.wait_for_url(f"**/beneficiaires/{person.pk}/")
    entry = page.locator("#timeline li").filter(has_text="PPAE signé")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("PECGM_082_20250228_M.xml")
    assert_accessible(page)


def test_an_officer_assigns_a_caseload_in_bulk(page, login, orientation_officer, social_worker, live_server):
    referent = UserFactory(username="ts-bulk", role="social_worker", first_name="Inès", last_name="Garnier")
    referent.territories.set(social_worker.territories.all())
    people = [
        BeneficiaryFactory(birth_name=name, usage_name="") for name in ("Aubert", "Barbier", "Carpentier")
    ]
    for person in people[:2]:
        followup(person, **registered())
    login(orientation_officer)
    page.get_by_role("link", name="Bénéficiaires", exact=True).first.click()
    page.get_by_label("Choisir AUBERT").check()
    page.get_by_role("combobox", name="Référent").select_option(label="Inès Garnier (ts-bulk)")
    page.get_by_label("Structure du référent").fill("CCAS de Montauban")
    assert_accessible(page)
    page.get_by_role("button", name="Attribuer le référent").click()
    expect(page.locator("#bulk-summary")).to_contain_text("1 personne attribuée")
    assert [a.beneficiary for a in Assignment.objects.all()] == [people[0]]

    # The whole filtered list (the registered ones): the count first, then confirmed.
    page.get_by_role("link", name="Retour à la liste").click()
    page.get_by_text("Filtres", exact=True).click()
    page.get_by_label("Situation France Travail").select_option("inscrit")
    page.get_by_role("button", name="Appliquer les filtres").click()
    expect(page.locator("#result-count")).to_have_text("2 bénéficiaires")
    page.get_by_label("Toute la liste filtrée").check()
    page.get_by_role("combobox", name="Référent").select_option(label="Inès Garnier (ts-bulk)")
    page.get_by_role("button", name="Attribuer le référent").click()
    expect(page.locator("#confirm-count")).to_contain_text("aux 2 personnes de la liste filtrée")
    assert_accessible(page)
    page.get_by_role("button", name="Confirmer pour 2 personnes").click()
    expect(page.locator("#bulk-summary")).to_contain_text("2 personnes attribuées")
    assert sorted(a.beneficiary.birth_name for a in Assignment.objects.filter(end_date__isnull=True)) == [
        "Aubert",
        "Barbier",
    ]

    # The référent sees them in « Mes bénéficiaires ».
    page.context.clear_cookies()
    login(referent)
    page.get_by_role("link", name="Mes bénéficiaires").first.click()
    expect(page.locator("#result-count")).to_have_text("2 bénéficiaires")


def test_an_admin_imports_referents_by_csv(page, login, admin_user, social_worker, tmp_path):
    referent = UserFactory(username="ts-csv", role="social_worker", email="ines.garnier@departement.example")
    referent.territories.set(social_worker.territories.all())
    path = tmp_path / "beneficiaires.csv"
    path.write_text(
        "nom_naissance;prenom;date_naissance;code_insee_commune;referent;structure\n"
        "Aubert;Jeanne;1980-02-01;82121;ines.garnier@departement.example;CCAS de Montauban\n"
        "Barbier;Paul;1975-05-12;82121;personne@example.org;\n",
        encoding="cp1252",
    )
    login(admin_user)
    page.get_by_role("button", name="Administration").click()
    page.get_by_role("link", name="Importer les bénéficiaires (CSV)").click()
    page.get_by_label("Fichier CSV").set_input_files(str(path))
    assert_accessible(page)
    page.get_by_role("button", name="Importer").click()
    expect(page.locator("#csv-referents")).to_have_text("1 référent attribué")
    expect(page.locator("#csv-errors")).to_contain_text("référent « personne@example.org » inconnu")
    assert_accessible(page)
    assignment = Assignment.objects.get()
    assert (assignment.referent, assignment.structure, assignment.source) == (
        referent,
        "CCAS de Montauban",
        "csv",
    )
