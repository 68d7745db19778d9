"""Caseworker pages in a browser: search, filters, parcours, orientation, cohorts, dashboard, exchange."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import expect

from tests.beneficiaries.factories import ImportRunFactory, StatusEventFactory, followup, registered
from tests.browser.conftest import assert_accessible
from tests.exchanges.conftest import clock, exchange_server, exchange_settings  # noqa: F401 (fixtures)
from tests.factories import BeneficiaryFactory
from tests.orientations.factories import CorrespondentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people():
    run = ImportRunFactory(reference_date=date(2025, 1, 31))
    target = BeneficiaryFactory(birth_name="Lefèvre", first_name="Éloïse", usage_name="")
    followup(target, run=run, **registered(category="1"))
    StatusEventFactory(beneficiary=target, run=run, date=date(2024, 6, 3))
    other = BeneficiaryFactory(birth_name="Lemaire", first_name="Paul", usage_name="")
    followup(
        other,
        run=run,
        record_number=2,
        **registered(category="4", cessation_date=date(2025, 1, 20), cessation_motive="16"),
    )
    BeneficiaryFactory(birth_name="Martin", first_name="Jean", usage_name="")
    return {"target": target, "other": other}


def test_search_filter_and_open_a_parcours(page, login, orientation_officer, people, live_server):
    login(orientation_officer)
    page.get_by_role("link", name="Bénéficiaires", exact=True).first.click()
    page.wait_for_load_state()
    lists = []
    page.on("response", lambda response: "/beneficiaires/" in response.url and lists.append(response))
    search = page.get_by_label("Rechercher (nom, prénom, NIR")
    search.fill("le")
    search.press("Enter")
    page.wait_for_url("**/beneficiaires/?s=*")
    assert page.locator("#result-count").inner_text() == "2 bénéficiaires"
    # One round trip (htmx): the POST answered with the list, no redirect; the text not in the URL.
    assert [(response.request.method, response.status) for response in lists] == [("POST", 200)]
    assert "q=" not in page.url
    # Screen readers hear the new count, and the focus stayed in the search box.
    expect(page.locator("#annonce")).to_have_text("2 bénéficiaires")
    assert page.evaluate("document.activeElement.id") == "id_q"
    searched = page.url

    # Filters, kept in the URL.
    filters = page.locator("#filters details")
    if filters.get_attribute("open") is None:  # open once a search or filter is in the URL
        page.get_by_text("Filtres", exact=True).click()
    page.get_by_label("Situation France Travail").select_option("inscrit")
    page.get_by_role("button", name="Appliquer les filtres").click()
    page.wait_for_url("**statut=inscrit**")
    assert page.locator("#result-count").inner_text() == "1 bénéficiaire"
    # Only the results were swapped: the form is the one the user filled, and its "clear" link
    # came with the results (out of band).
    expect(page.get_by_label("Situation France Travail")).to_have_value("inscrit")
    expect(page.locator("#filters")).to_have_count(1)
    expect(page.get_by_role("link", name="Effacer les filtres")).to_be_visible()
    expect(page.locator("#annonce")).to_have_text("1 bénéficiaire")
    assert_accessible(page)
    # Back: the browser shows the search again, read afresh (htmx keeps no copy of the page).
    page.go_back()
    page.wait_for_url(searched)
    expect(page.locator("#result-count")).to_have_text("2 bénéficiaires")
    assert page.evaluate("sessionStorage.getItem('htmx-history-cache')") is None
    page.go_forward()
    page.wait_for_url("**statut=inscrit**")
    expect(page.locator("#result-count")).to_have_text("1 bénéficiaire")

    # Sorting keeps the filters.
    page.get_by_role("link", name="Nom").click()
    page.wait_for_url("**tri=-nom**")
    assert "statut=inscrit" in page.url

    page.get_by_role("link", name=people["target"].display_name).click()
    assert page.get_by_role("heading", level=1).inner_text() == people["target"].display_name
    assert "données France Travail au 31/01/2025" in page.locator("#france-travail").inner_text()
    assert page.locator("#timeline li").count() >= 2
    assert_accessible(page)

    # The NIR, revealed in place: the button is gone, the focus goes to what replaced it.
    target = people["target"]
    page.get_by_role("button", name="Afficher le NIR").press("Enter")
    revealed = page.locator(f"#nir-{target.pk}")
    expect(revealed).to_contain_text(target.nir)
    expect(revealed).to_be_focused()


def test_an_invalid_filter_brings_the_whole_form_back(page, login, orientation_officer, people):
    """htmx swaps only the results, except when a filter is invalid: then the form says why."""
    login(orientation_officer)
    page.get_by_role("link", name="Bénéficiaires", exact=True).first.click()
    page.get_by_text("Filtres", exact=True).click()
    page.get_by_label("Commune (nom ou code INSEE)").fill("8212")
    page.get_by_role("button", name="Appliquer les filtres").click()
    expect(page.get_by_role("alert")).to_contain_text("Commune (nom ou code INSEE)")
    expect(page.locator("#filters")).to_have_count(1)
    expect(page.locator("#result-count")).to_have_text("3 bénéficiaires")  # the filter ignored
    expect(page.locator("#annonce")).to_have_text("3 bénéficiaires")
    assert "commune=8212" in page.url


def test_record_an_orientation_from_the_parcours(page, login, orientation_officer, people):
    correspondent = CorrespondentFactory()
    login(orientation_officer)
    target = people["target"]
    page.goto(page.url + f"beneficiaires/{target.pk}/")
    page.get_by_role("link", name="Enregistrer une décision").click()
    page.get_by_label("Nature de l'accompagnement").select_option("05")
    page.get_by_label("Date de la décision").fill("2025-02-03")
    page.get_by_label("Organisme référent").select_option(str(correspondent.referent_body.pk))
    page.get_by_role("button", name="Enregistrer la décision").click()
    page.wait_for_url(f"**/beneficiaire/{target.pk}/historique/")
    page.goto(page.url.split("/orientations/")[0] + f"/beneficiaires/{target.pk}/")
    assert "Orienté vers PE (offre de service de droit commun)" in page.locator("#orientation").inner_text()
    assert "Décision d'orientation" in page.locator("#timeline").inner_text()


def test_cohorts_and_dashboard_are_accessible(page, login, admin_user, people):
    login(admin_user)
    assert page.locator("#cohort-cessations-du-mois").is_visible()
    page.get_by_role("link", name="Listes à traiter", exact=True).first.click()
    assert_accessible(page)
    page.locator("#cohort-cessations-du-mois a").click()
    assert page.locator("#result-count").inner_text() == "1 bénéficiaire"
    assert "sortie positive" in page.locator("#beneficiaries").inner_text()
    assert_accessible(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="Exporter en CSV").click()
    assert download.value.suggested_filename.startswith("beneficiaires-cessations-du-mois")

    page.get_by_role("link", name="Tableau de bord").first.click()
    assert page.locator("svg.chart-svg").count() == 4
    assert page.locator("#evolution-table tbody tr").count() == 24
    assert_accessible(page)


def test_start_an_exchange_and_watch_it_finish(page, login, admin_user, request, tmp_path):
    """An admin fetches the month's PECGM from the (simulated) server; the run ends and the data shows."""
    from tests.exchanges.import_files import pecgm_file, record_for

    request.getfixturevalue("exchange_settings")
    server = request.getfixturevalue("exchange_server")
    person = BeneficiaryFactory(birth_name="Échangé", usage_name="")
    path = pecgm_file(tmp_path, [record_for(person)], date(2025, 1, 31))
    server.publish("082", path.name, path.read_bytes())
    login(admin_user)
    page.get_by_role("link", name="Échanges", exact=True).first.click()
    page.get_by_role("button", name="Lancer l'échange : recevoir les fichiers PECGM").click()
    page.wait_for_url("**/echanges/*/")
    badge = page.locator(".run-progress .badge")
    badge.filter(has_text="réussi").wait_for(timeout=30_000)
    assert not page.locator(".run-progress progress").count()  # finished: no bar, no more polling
    page.get_by_role("link", name="Bénéficiaires", exact=True).first.click()
    page.get_by_label("Rechercher (nom, prénom, NIR").fill("echange")
    page.get_by_label("Rechercher (nom, prénom, NIR").press("Enter")
    page.get_by_role("link", name=person.display_name).click()
    assert "données France Travail au 31/01/2025" in page.locator("#france-travail").inner_text()


def test_a_runs_end_is_read_out_not_each_percentage(page, login, admin_user, live_server):
    from django.urls import reverse

    from exchanges.models import ImportRun, ImportStatus

    run = ImportRun.objects.create(
        file_name="PECGM_082_20250131_M.xml",
        sha256="0" * 64,
        status=ImportStatus.RUNNING,
        progress_done=10,
        progress_total=100,
    )
    login(admin_user)
    page.goto(live_server.url + reverse("import_run_detail", args=[run.pk]))
    expect(page.locator(".run-progress progress")).to_have_count(1)
    ImportRun.objects.filter(pk=run.pk).update(progress_done=50)
    page.wait_for_timeout(2500)  # one poll: the percentage changed, nothing is read out
    expect(page.locator("#annonce")).to_have_text("")
    ImportRun.objects.filter(pk=run.pk).update(status=ImportStatus.IMPORTED, progress_done=100)
    expect(page.locator("#annonce")).to_have_text("Import : importé", timeout=6000)
    expect(page.locator(".run-progress progress")).to_have_count(0)


def test_next_cgpem_untransmitted_and_the_deposit_confirmation_are_accessible(
    page, login, orientation_officer, admin_user, people, settings
):
    from tests.orientations.factories import DecisionFactory

    settings.EXCHANGE_URL = ""
    DecisionFactory(beneficiary=people["target"], decision_date=date(2025, 1, 15))
    DecisionFactory(beneficiary=BeneficiaryFactory(nir="", birth_name="12"))  # nothing identifying
    login(orientation_officer)
    page.get_by_role("link", name="À orienter", exact=True).first.click()
    page.get_by_role("link", name="Prochain CGPEM").click()
    expect(page.get_by_role("heading", name="Prochain CGPEM")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="voir les décisions non transmises").click()
    expect(page.locator("#result-count")).to_have_text("1 décision non transmise")
    assert_accessible(page)
    page.context.clear_cookies()
    login(admin_user)
    page.get_by_role("link", name="Échanges", exact=True).first.click()
    page.get_by_role("button", name="Générer et déposer").click()
    expect(page.get_by_role("heading", name="Confirmer le dépôt du fichier CGPEM")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Confirmer : générer et déposer").click()
    page.wait_for_url("**/echanges/*/")
