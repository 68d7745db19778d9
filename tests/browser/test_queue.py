"""The orientation queue and a refused form, in Chromium: keyboard, htmx, focus (issue 22)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible
from tests.factories import TEST_PASSWORD, BeneficiaryFactory
from tests.orientations.factories import CorrespondentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_tick_the_page_then_a_refused_decision_takes_the_focus_to_its_summary(
    page, login, orientation_officer, live_server
):
    people = [BeneficiaryFactory(commune_code="82121") for _ in range(3)]
    ours = CorrespondentFactory(last_name="Durand")
    CorrespondentFactory(last_name="Petit")
    login(orientation_officer)
    page.goto(f"{live_server.url}/orientations/a-orienter/")
    # With JavaScript: a button, used from the keyboard, ticks and unticks in place.
    button = page.locator("button[data-check-page]")
    expect(button).to_have_text("Tout cocher sur la page")
    expect(page.get_by_role("link", name="Tout cocher sur la page")).to_be_hidden()
    button.focus()
    page.keyboard.press("Space")
    for person in people:
        expect(page.locator(f"#b{person.pk}")).to_be_checked()
    expect(button).to_have_text("Tout décocher sur la page")
    page.keyboard.press("Enter")
    expect(page.locator(f"#b{people[0].pk}")).not_to_be_checked()
    assert_accessible(page)
    # The skip link leads to the decision.
    page.get_by_role("link", name="Aller au formulaire de décision groupée").click()
    expect(page.locator("#decision-groupee")).to_be_focused()
    # Choosing a body reloads its correspondents (htmx).
    page.get_by_label("Organisme référent").select_option(str(ours.referent_body_id))
    options = page.locator("#id_correspondent option")
    expect(options).to_have_count(2)
    expect(options.nth(1)).to_contain_text("DURAND")
    # Nobody ticked, no nature, no date: refused, and the focus is on the summary, read first.
    page.get_by_role("button", name="Enregistrer la décision").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("heading")).to_have_text("Le formulaire contient 3 erreurs")
    summary.get_by_role("link", name="Nature de l'accompagnement : Ce champ est obligatoire.").click()
    expect(page.get_by_label("Nature de l'accompagnement")).to_be_focused()
    # The body chosen is kept, and so is the narrowed list of its correspondents.
    expect(page.locator("#id_correspondent option")).to_have_count(2)
    assert_accessible(page)


def test_without_javascript_the_link_ticks_the_page(browser, live_server, orientation_officer):
    people = [BeneficiaryFactory(commune_code="82121") for _ in range(2)]
    context = browser.new_context(locale="fr-FR", java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/connexion/")
        page.get_by_label("Identifiant").fill(orientation_officer.username)
        page.get_by_label("Mot de passe").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.goto(f"{live_server.url}/orientations/a-orienter/")
        expect(page.get_by_role("button", name="Tout cocher sur la page")).to_be_hidden()
        page.get_by_role("link", name="Tout cocher sur la page").click()
        for person in people:
            expect(page.locator(f"#b{person.pk}")).to_be_checked()
    finally:
        context.close()
