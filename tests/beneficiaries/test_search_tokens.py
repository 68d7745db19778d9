"""beneficiaries.search_tokens: the search text behind a token bound to the session, out of the database."""

from __future__ import annotations

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from beneficiaries import search_tokens
from tests.factories import TEST_PASSWORD, BeneficiaryFactory

pytestmark = pytest.mark.django_db


def session() -> SessionStore:
    store = SessionStore()
    store.create()
    return store


def test_a_token_names_one_text_for_one_session_and_tells_nothing_of_it():
    mine, theirs = session(), session()
    token = search_tokens.remember(mine, "Zéphyrin DUPONT")
    assert search_tokens.remember(mine, "Zéphyrin DUPONT") == token  # the same URL for the same search
    assert search_tokens.remember(mine, "Martin") != token
    assert "zephyrin" not in token.lower() and "dupont" not in token.lower()
    assert search_tokens.recall(mine, token) == "Zéphyrin DUPONT"
    # Another session knows neither the token nor the text, even for the same search.
    assert search_tokens.recall(theirs, token) is None
    assert search_tokens.remember(theirs, "Zéphyrin DUPONT") != token


def test_a_token_that_cannot_be_one_is_not_looked_up(monkeypatch):
    mine = session()
    looked_up = []
    monkeypatch.setattr(search_tokens.cache, "get", lambda key, *args: looked_up.append(key))
    for token in ("", "../../x", "Zéphyrin", "0123456789abcdef0"):
        assert search_tokens.recall(mine, token) is None
    assert looked_up == []


def test_a_search_lasts_the_session_s_idle_timeout_after_its_last_use(settings, monkeypatch):
    settings.SESSION_IDLE_TIMEOUT = 600
    timeouts = []
    real_set, real_touch = cache.set, cache.touch
    monkeypatch.setattr(
        search_tokens.cache, "set", lambda k, v, t: timeouts.append(("set", t)) or real_set(k, v, t)
    )
    monkeypatch.setattr(
        search_tokens.cache, "touch", lambda k, t: timeouts.append(("touch", t)) or real_touch(k, t)
    )
    mine = session()
    token = search_tokens.remember(mine, "Martin")
    assert search_tokens.recall(mine, token) == "Martin"
    assert timeouts == [("set", 600), ("touch", 600)]
    cache.delete(search_tokens._key(mine, token))  # its time is up
    assert search_tokens.recall(mine, token) is None


def test_a_search_writes_nothing_to_the_database(client, orientation_officer):
    client.login(username=orientation_officer.username, password=TEST_PASSWORD)
    officer_client = client
    BeneficiaryFactory(birth_name="Martin", usage_name="")
    url = reverse("beneficiary_list")
    officer_client.get(url)  # the session as it is between two searches
    with CaptureQueriesContext(connection) as queries:
        response = officer_client.post(url, {"q": "martin"}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "martin" in response.content.decode().lower()
    writes = [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")]
    assert writes == []
    # The list it points to still finds the text.
    assert 'value="martin"' in officer_client.get(response["HX-Push-Url"]).content.decode()
