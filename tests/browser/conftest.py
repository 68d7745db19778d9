"""Browser tests: Playwright driving Debian's Chromium, never a downloaded browser.

Pages are served by pytest-django's live server. axe-core (vendored beside
this file, test-only) checks accessibility.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.factories import TEST_PASSWORD

# Playwright's sync API runs an event loop in this thread; the test itself
# still talks to the database synchronously, which is safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
# As root, in a closed network: no sandbox, no background connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, _require_chromium):
    # bypass_csp: axe-core is injected as an inline script, which the app's CSP forbids.
    context = browser.new_context(locale="fr-FR", bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def login(page, live_server):
    def do_login(user, password: str = TEST_PASSWORD):
        page.goto(f"{live_server.url}/connexion/")
        page.get_by_label("Identifiant").fill(user.username)
        page.get_by_label("Mot de passe").fill(password)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(f"{live_server.url}/")
        return page

    return do_login


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core on the current page; return the violations of these impacts."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in impacts
    ]


def assert_accessible(page) -> None:
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, indent=1, ensure_ascii=False)
