"""Whose fault is it (exchanges.faults): causes in French, and records written despite a restart."""

from __future__ import annotations

import errno

import pytest
from django.db import InterfaceError, OperationalError

from exchanges.faults import DiskFull, durably, infrastructure_cause


def test_causes_are_said_in_french_without_the_exceptions_text():
    lost = infrastructure_cause(OperationalError("server closed the connection; NIR 1 85 05 …"))
    assert "base de données" in lost and "NIR" not in lost
    assert "base de données" in infrastructure_cause(InterfaceError("connection already closed"))
    full = infrastructure_cause(OSError(errno.ENOSPC, "No space left on device", "/srv/data/files/pecgm"))
    assert full.startswith("Disque plein") and "/srv/data/files/pecgm" in full
    assert "/srv/x" in str(DiskFull("/srv/x"))
    assert "KeyError" in infrastructure_cause(KeyError("secret"))
    assert "secret" not in infrastructure_cause(KeyError("secret"))


@pytest.mark.django_db(transaction=True)
def test_a_record_is_written_once_the_database_is_back(settings, monkeypatch):
    settings.EXCHANGE_DB_RECOVERY_SECONDS = 5
    monkeypatch.setattr("exchanges.faults.time.sleep", lambda seconds: None)
    calls = []

    def write():
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("the database system is starting up")
        return "written"

    assert durably(write, "test") == "written"
    assert len(calls) == 3


@pytest.mark.django_db(transaction=True)
def test_a_record_gives_up_when_the_database_stays_down(settings, monkeypatch):
    settings.EXCHANGE_DB_RECOVERY_SECONDS = 0

    def write():
        raise OperationalError("the database system is shutting down")

    with pytest.raises(OperationalError):
        durably(write, "test")
