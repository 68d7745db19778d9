"""The strict CSP in a real browser: pages work under it and nothing is blocked.

The shared `page` fixture bypasses the CSP (axe-core is injected inline);
this one keeps it, listens for CSP violations and checks that the htmx NIR
reveal still works.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.actions import Action
from audit.models import AuditEntry
from tests.factories import TEST_PASSWORD, BeneficiaryFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def strict_page(browser, _require_chromium):
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(10_000)
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.violations = violations
    yield page
    context.close()


def test_pages_and_nir_reveal_under_the_csp(strict_page, live_server, social_worker):
    beneficiary = BeneficiaryFactory(birth_name="Garnier", first_name="Inès", usage_name="")
    page = strict_page
    page.goto(f"{live_server.url}/connexion/")
    page.get_by_label("Identifiant").fill("ts")
    page.get_by_label("Mot de passe").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.evaluate("typeof htmx") == "object"  # the vendored scripts load under the CSP

    page.goto(f"{live_server.url}/beneficiaires/{beneficiary.pk}/")
    nir = page.locator(f"#nir-{beneficiary.pk}")
    assert beneficiary.nir not in nir.inner_text()
    page.get_by_role("button", name="Afficher le NIR").click()
    page.wait_for_function(
        "([id, nir]) => document.getElementById(id).textContent.includes(nir)",
        arg=[f"nir-{beneficiary.pk}", beneficiary.nir],
    )
    assert page.url.endswith(f"/beneficiaires/{beneficiary.pk}/")  # swapped in place, no navigation
    assert AuditEntry.objects.filter(action=Action.REVEALED_NIR, object_id=str(beneficiary.pk)).count() == 1
    assert page.violations == []


def test_no_page_breaks_the_csp(strict_page, live_server, admin_user):
    """Every page without URL arguments, as an administrator: no CSP violation reported."""
    from playwright.sync_api import Error as PlaywrightError

    from tests.accounts.test_access_matrix import named_views

    BeneficiaryFactory()
    page = strict_page
    page.goto(f"{live_server.url}/connexion/")
    page.get_by_label("Identifiant").fill(admin_user.username)
    page.get_by_label("Mot de passe").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{live_server.url}/")
    visited = []
    for name, pattern in named_views():
        if pattern.pattern.converters or name in {"logout", "login", "healthz", "livez"}:
            continue
        url = reverse(name)
        if url.endswith((".csv", ".json", ".xml", ".zip")):
            continue  # downloads, not pages
        try:
            page.goto(live_server.url + url)
        except PlaywrightError:
            continue  # POST-only views answer 405 with an empty body
        visited.append(name)
    assert "beneficiary_list" in visited and "audit_search" in visited
    assert page.violations == []
