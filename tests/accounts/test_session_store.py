"""accounts.session_store: production's sessions, written without waiting for the disk."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.session_store import SessionStore

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RELAXED = "SET LOCAL synchronous_commit TO OFF"


def test_a_session_write_does_not_wait_for_the_disk():
    session = SessionStore()
    session["essai"] = "valeur"
    with CaptureQueriesContext(connection) as queries:
        session.save()
    assert any(RELAXED in query["sql"] for query in queries)
    # Only for that transaction: the connection's own setting is untouched.
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
    stored = Session.objects.get(session_key=session.session_key)
    assert stored.get_decoded() == {"essai": "valeur"}
    assert SessionStore(session_key=session.session_key).load() == {"essai": "valeur"}


def test_inside_another_transaction_the_commit_is_left_alone():
    session = SessionStore()
    session["essai"] = "valeur"
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        session.save()
    assert not any(RELAXED in query["sql"] for query in queries)
    assert Session.objects.filter(session_key=session.session_key).exists()
