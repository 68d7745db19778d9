import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible
from tests.factories import BeneficiaryFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    "role, capability",
    [
        ("social_worker", "Consulter le suivi des bénéficiaires"),
        ("orientation_officer", "Enregistrer des décisions d'orientation"),
        ("admin", "Lancer et suivre les échanges"),
    ],
)
def test_each_role_logs_in_and_reaches_home(page, login, users, role, capability):
    login(users[role])
    assert page.get_by_role("heading", level=1).inner_text().startswith("Bonjour")
    assert capability in page.locator("#capabilities").inner_text()


def test_login_page_is_accessible(page, live_server):
    page.goto(f"{live_server.url}/connexion/")
    assert_accessible(page)


def test_search_from_keyboard(page, login, social_worker):
    target = BeneficiaryFactory(birth_name="Lefèvre", first_name="Éloïse")
    BeneficiaryFactory(birth_name="Martin")
    login(social_worker)
    page.get_by_role("link", name="Bénéficiaires", exact=True).first.click()
    search = page.get_by_label("Rechercher (nom, prénom, NIR, n° CAF ou MSA")
    search.fill("lefevre eloise")
    search.press("Enter")
    page.wait_for_url("**/beneficiaires/?s=*")
    assert "lefevre" not in page.url  # the text stays in the session, out of the URL
    assert page.locator("#result-count").inner_text() == "1 bénéficiaire"
    page.get_by_role("link", name=target.display_name).click()
    assert page.get_by_role("heading", level=1).inner_text() == target.display_name
    assert_accessible(page)


def test_wrong_password_message(page, live_server, social_worker):
    page.goto(f"{live_server.url}/connexion/")
    page.get_by_label("Identifiant").fill(social_worker.username)
    page.get_by_label("Mot de passe").fill("ce-n-est-pas-le-bon")
    page.get_by_role("button", name="Se connecter").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()  # read first; the field's autofocus is gone
    expect(summary.get_by_role("link")).to_have_text("Identifiant ou mot de passe incorrect.")
    summary.get_by_role("link").press("Enter")
    expect(page.get_by_label("Identifiant")).to_be_focused()
