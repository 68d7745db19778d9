"""Templates: nothing meant for developers reaches the page."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import TEST_PASSWORD

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def test_no_comment_tag_spans_lines():
    """Django's {# #} ends at the line's end: a two-line one is printed on the page as text
    (and, in <head>, closes it there). Longer comments use {% comment %}."""
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"\{#(?!.*#\})", line):
                found.append(f"{path.relative_to(TEMPLATES)}:{number}")
    assert found == []


@pytest.mark.django_db
def test_pages_show_no_template_syntax(client, users):
    for page in ("login", "home", "beneficiary_list", "dashboard"):
        if page != "login":
            client.login(username=users["social_worker"].username, password=TEST_PASSWORD)
        body = client.get(reverse(page)).content.decode()
        assert "{#" not in body and "#}" not in body and "{%" not in body, page
        # The head holds only what belongs there: no stray text closes it early.
        head = body.split("<head>", 1)[1].split("</head>", 1)[0]
        text = re.sub(r"<[^>]+>", "", re.sub(r"<title>.*?</title>", "", head, flags=re.S))
        assert text.strip() == "", page


@pytest.mark.django_db
def test_error_pages_are_french_pages_of_the_application(client, social_worker):
    client.login(username=social_worker.username, password=TEST_PASSWORD)
    forbidden = client.get(reverse("exchange_runs"))
    assert forbidden.status_code == 403
    assert "Accès refusé" in forbidden.content.decode() and 'lang="fr"' in forbidden.content.decode()
    assert reverse("beneficiary_list") in forbidden.content.decode()  # the navigation is there
    missing = client.get("/nexiste-pas/")
    assert missing.status_code == 404 and "Page introuvable" in missing.content.decode()


@pytest.mark.django_db
def test_a_form_without_its_token_gets_a_french_page_and_no_inline_style(social_worker):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.login(username=social_worker.username, password=TEST_PASSWORD)
    response = client.post(reverse("logout"))
    assert response.status_code == 403
    body = response.content.decode()
    assert "Formulaire expiré" in body and "rien n'a été enregistré" in body
    assert "<style" not in body


def test_the_server_error_page_renders_on_its_own(rf):
    from django.views.defaults import server_error

    response = server_error(rf.get("/"))
    body = response.content.decode()
    assert response.status_code == 500
    assert "Erreur du serveur" in body and 'lang="fr"' in body and "/static/" in body


@pytest.mark.django_db
def test_the_navigation_marks_the_current_section(client, social_worker):
    client.login(username=social_worker.username, password=TEST_PASSWORD)
    body = client.get(reverse("dashboard")).content.decode()
    current = re.findall(r'<a class="nav-link" aria-current="page" href="([^"]+)"', body)
    assert current == [reverse("dashboard")]
    assert 'rel="icon"' in body
    home = client.get(reverse("home")).content.decode()
    assert 'aria-current="page"' not in home.split("<main", 1)[0]
