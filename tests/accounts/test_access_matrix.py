"""Every URL × every role, anonymous included: deny by default.

The URL conf is walked, so a new view is covered the day it is added: it must
declare what it needs (`accounts.decorators.requires`, `login_required` or
`public`), and each role gets exactly what the capability table grants.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.roles import ROLE_CAPABILITIES
from tests.factories import TEST_PASSWORD, BeneficiaryFactory, TerritoryFactory, UserFactory

EXCLUDED_NAMESPACES = {"admin"}  # Django's admin site guards itself (staff only)


def iter_patterns(patterns=None, prefix=""):
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace in EXCLUDED_NAMESPACES:
                continue
            yield from iter_patterns(entry.url_patterns, prefix)
        elif isinstance(entry, URLPattern):
            yield entry


def named_views():
    return sorted((pattern.name, pattern) for pattern in iter_patterns() if pattern.name is not None)


def test_every_view_declares_its_access():
    undeclared = [
        name for name, pattern in named_views() if not hasattr(pattern.callback, "required_capability")
    ]
    unnamed = [str(p.pattern) for p in iter_patterns() if p.name is None]
    assert undeclared == [], f"views without an access declaration: {undeclared}"
    assert unnamed == [], f"unnamed URL patterns cannot be checked: {unnamed}"


def url_for(pattern: URLPattern, objects: dict) -> str:
    kwargs = {name: objects.get(name, 1) for name in pattern.pattern.converters}
    return reverse(pattern.name, kwargs=kwargs)


@pytest.mark.django_db
@pytest.mark.parametrize("role", [None, "social_worker", "orientation_officer", "admin"])
def test_access_matrix(client, users, role):
    objects = {"pk": BeneficiaryFactory().pk, "cohort": "radies-du-mois"}
    if role is not None:
        assert client.login(username=users[role].username, password=TEST_PASSWORD)
    granted = ROLE_CAPABILITIES.get(role, frozenset())

    failures = []
    for name, pattern in named_views():
        need = pattern.callback.required_capability
        url = url_for(pattern, objects)
        status = client.get(url).status_code
        if need == "public":
            allowed = True
        elif role is None:
            allowed = False
        else:
            allowed = need == "authenticated" or need in granted
        if allowed and status in (302, 403) and not (need == "public" and status == 302):
            failures.append(f"{name} ({url}): {status}, expected access")
        if (
            not allowed
            and role is None
            and not (status == 302 and "/connexion/" in client.get(url)["Location"])
        ):
            failures.append(f"{name} ({url}): {status}, expected a redirect to the login page")
        if not allowed and role is not None and status != 403:
            failures.append(f"{name} ({url}): {status}, expected 403")
    assert failures == []


def test_capability_table_is_nested():
    """An officer can do all a social worker can; an admin all an officer can."""
    assert ROLE_CAPABILITIES["social_worker"] <= ROLE_CAPABILITIES["orientation_officer"]
    assert ROLE_CAPABILITIES["orientation_officer"] <= ROLE_CAPABILITIES["admin"]


@pytest.mark.django_db
def test_admin_site_only_for_admins(client, users):
    for role, expected in (("social_worker", 403), ("orientation_officer", 403), ("admin", 200)):
        client.logout()
        client.login(username=users[role].username, password=TEST_PASSWORD)
        response = client.get("/admin/", follow=True)
        assert response.status_code == expected, role
        if expected == 403:
            assert "Accès refusé" in response.content.decode()
    # Signed out: the application's own login page, which comes back to the admin site.
    client.logout()
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == "/connexion/?next=/admin/"


@pytest.mark.django_db
def test_territories_hold_on_every_url(client):
    """Every URL, as a restricted social worker, pointed at the outsider: never shown.

    Walks the whole URL conf like the access matrix, so the pages other parts
    add (follow-up, orientations, exports, dashboard, search) are covered too.
    """
    restricted = UserFactory(username="ts-montauban", role="social_worker")
    restricted.territories.add(TerritoryFactory(name="Montauban", communes="82121"))
    BeneficiaryFactory(commune_code="82121", birth_name="Dedans")
    outsider = BeneficiaryFactory(commune_code="82033", birth_name="Dehors", first_name="Zephyrine")
    client.login(username="ts-montauban", password=TEST_PASSWORD)
    leaks = []
    for name, pattern in named_views():
        if name in {"logout"}:
            continue
        url = url_for(pattern, {"pk": outsider.pk, "cohort": "sortis-du-fichier"})
        for query in ({}, {"q": "dehors"}, {"q": outsider.nir_key}):
            response = client.get(url, query, follow=True)  # a search redirects to its token
            raw = b"".join(response.streaming_content) if response.streaming else response.content
            body = raw.decode(errors="replace").lower()
            # Pages echo the query (search box): look only for what the query does not hold.
            # The first name is never searched for; the NIR is looked for unless searched.
            shown = "zephyrine" in body or ("q" not in query and "dehors" in body)
            if shown or (query.get("q") != outsider.nir_key and outsider.nir_key in body):
                leaks.append(f"{name} {url} {query}")
    assert leaks == []
