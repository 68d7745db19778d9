"""Hardening: a strict Content-Security-Policy, templates that need nothing looser, no caching."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import TEST_PASSWORD, BeneficiaryFactory


def directives(header: str) -> dict[str, set[str]]:
    result = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            result[words[0]] = set(words[1:])
    return result


@pytest.mark.django_db
@pytest.mark.parametrize("url_name", ["login", "home", "beneficiary_list"])
def test_pages_carry_a_strict_csp(client, social_worker, url_name):
    if url_name != "login":
        client.login(username="ts", password=TEST_PASSWORD)
    response = client.get(reverse(url_name))
    assert response.status_code == 200
    policy = directives(response["Content-Security-Policy"])
    assert policy["default-src"] == {"'self'"}
    assert policy["script-src"] == {"'self'"}
    assert policy["style-src"] == {"'self'"}
    assert policy["frame-ancestors"] == {"'none'"}
    assert policy["form-action"] == {"'self'"}
    assert policy["object-src"] == {"'none'"}
    everything = " ".join(" ".join(values) for values in policy.values())
    assert "unsafe-inline" not in everything and "unsafe-eval" not in everything
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_beneficiary_page_has_no_inline_script_or_style(client, social_worker):
    client.login(username="ts", password=TEST_PASSWORD)
    page = client.get(reverse("beneficiary_detail", args=[BeneficiaryFactory().pk])).content.decode()
    assert not INLINE.search(page), INLINE.search(page)


# An inline <script> (no src), a <style> element, a style="" attribute or an on*="" handler.
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S|<style[\s>]|\sstyle=|\son[a-z]+=", re.IGNORECASE)


def project_templates():
    root = Path(settings.BASE_DIR)
    for path in sorted(root.rglob("*.html")):
        parts = path.relative_to(root).parts
        # Virtualenvs (.venv, make test-latest's .venv-latest) hold other projects' templates.
        if parts[0].startswith(".venv") or parts[0] in {"node_modules", "staticfiles", "build"}:
            continue
        if "vendor" in parts:
            continue
        yield path


def test_no_template_needs_unsafe_inline():
    offenders = []
    for path in project_templates():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if INLINE.search(line):
                offenders.append(f"{path.relative_to(settings.BASE_DIR)}:{number}: {line.strip()}")
    assert offenders == [], "put scripts in static/js/*.js and styles in static/css/*.css"


def test_production_security_settings():
    """Production values are checked by `check --deploy` (tests/config/test_env.py); these hold always."""
    assert settings.SESSION_COOKIE_HTTPONLY
    assert settings.SECURE_CONTENT_TYPE_NOSNIFF
    assert settings.X_FRAME_OPTIONS == "DENY"
    assert settings.AUTH_PASSWORD_VALIDATORS[1]["OPTIONS"]["min_length"] >= 12


@pytest.mark.django_db
def test_no_html_page_shows_a_full_nir(client, admin_user):
    """The NIR is masked on every page (only the audited reveal shows it); downloads are not pages."""
    from tests.accounts.test_access_matrix import named_views, url_for

    beneficiary = BeneficiaryFactory()
    client.force_login(admin_user)
    shown = []
    for name, pattern in named_views():
        if name in {"logout", "reveal_nir"}:
            continue
        url = url_for(pattern, {"pk": beneficiary.pk, "cohort": "sortis-du-fichier"})
        for query in ({}, {"q": beneficiary.birth_name}):
            response = client.get(url, query, follow=True)  # a search redirects to its token
            if not response.get("Content-Type", "").startswith("text/html"):
                continue
            body = b"".join(response.streaming_content) if response.streaming else response.content
            if beneficiary.nir_key in body.decode(errors="replace"):
                shown.append(f"{name} {url} {query}")
    assert shown == []


def test_gunicorn_access_log_leaves_out_query_strings_and_referrers():
    import runpy

    config = runpy.run_path(str(Path(settings.BASE_DIR) / "gunicorn.conf.py"))
    log_format = config["access_log_format"]
    assert "%(U)s" in log_format  # the path
    for forbidden in ("%(r)s", "%(q)s", "%(f)s", "%({"):
        assert forbidden not in log_format


@pytest.mark.django_db
def test_signed_in_pages_and_downloads_are_not_cached(client, social_worker):
    person = BeneficiaryFactory(commune_code="82121")
    client.login(username="ts", password=TEST_PASSWORD)
    for url in (
        reverse("home"),
        reverse("beneficiary_list"),
        reverse("beneficiary_detail", args=[person.pk]),
        reverse("beneficiary_export"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"], url
