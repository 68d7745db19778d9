"""The monthly stock is polled every day until imported (issue 21), with the alert after a day.

France Travail's server keeps a monthly file one month: a fetch once on a fixed day misses a
file that appears later. The simulator is real (HTTPS, in-process), the tasks eager, sent with
the beat schedule's own kwargs.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from exchanges.models import ImportRun, ImportStatus
from exchanges.runs import Direction, ExchangeRun, RunStatus
from exchanges.tasks import fetch_pecgm, monthly_stock_due
from tests.exchanges.import_files import pecgm_file, record_for
from tests.exchanges.test_tasks import _beat_schedule_with
from tests.factories import BeneficiaryFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

FEB = date(2025, 2, 28)
BEAT_KWARGS = settings.CELERY_BEAT_SCHEDULE["pecgm-monthly-stock"]["kwargs"]


@pytest.fixture
def polling(exchange_settings):
    exchange_settings.PECGM_POLL_FROM_DAY = 3
    exchange_settings.PECGM_ALERT_AFTER_DAY = 10
    exchange_settings.EXCHANGE_ALERT_EMAIL = True
    exchange_settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    UserFactory(username="admin1", role="admin", email="admin1@example.fr")
    return exchange_settings


def fetches() -> int:
    return ExchangeRun.objects.filter(direction=Direction.FETCH).count()


def poll(day: str) -> bool:
    """One day of beat: the check, then the fetch when due (what `until_imported` does today)."""
    due = monthly_stock_due(date.fromisoformat(day))
    if due:
        fetch_pecgm.delay(periodicities=["M"], started_by="beat").get()
    return due


def test_a_stock_that_appears_late_in_the_month_is_still_taken(polling, exchange_server, tmp_path):
    assert not poll("2025-03-02")  # before PECGM_POLL_FROM_DAY
    # From the poll day on, every day until the stock is there.
    assert all(poll(day) for day in ("2025-03-03", "2025-03-04", "2025-03-10"))
    assert fetches() == 3
    assert set(ExchangeRun.objects.values_list("status", flat=True)) == {RunStatus.SUCCEEDED}
    assert not ImportRun.objects.exists()
    assert mail.outbox == []  # not after the alert day yet

    # The 20th, France Travail publishes February's stock: taken that day.
    (tmp_path / "made").mkdir()
    path = pecgm_file(tmp_path / "made", [record_for(BeneficiaryFactory())], FEB, "M")
    exchange_server.publish("082", path.name, path.read_bytes())
    assert poll("2025-03-20")
    assert ImportRun.objects.get().reference_date == FEB
    # Then no more fetching this month; April's stock is due again from the 3rd.
    assert not poll("2025-03-21")
    assert fetches() == 4
    assert monthly_stock_due(date(2025, 4, 3))


def test_after_the_alert_day_each_poll_without_the_stock_emails_the_admins(polling):
    UserFactory(username="worker1", role="social_worker", email="worker1@example.fr")
    assert monthly_stock_due(date(2025, 3, 10))
    assert mail.outbox == []
    assert monthly_stock_due(date(2025, 3, 11))
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["admin1@example.fr"]
    assert "Stock mensuel PECGM non reçu au 11/03/2025" in message.subject
    assert "efface les fichiers au bout d'un mois" in message.body


def test_no_email_unless_switched_on(polling):
    polling.EXCHANGE_ALERT_EMAIL = False
    assert monthly_stock_due(date(2025, 3, 15))
    assert mail.outbox == []


def test_the_beat_entry_fetches_only_while_the_months_stock_is_missing(polling):
    polling.PECGM_POLL_FROM_DAY = 1
    polling.PECGM_ALERT_AFTER_DAY = 28
    assert BEAT_KWARGS["until_imported"] is True
    fetch_pecgm.delay(**BEAT_KWARGS).get()
    assert fetches() == 1  # today, nothing imported: fetched (the server has nothing)
    last_month = timezone.localdate().replace(day=1) - timedelta(days=1)
    ImportRun.objects.create(
        file_name=f"PECGM_082_{last_month:%Y%m%d}_M.xml",
        sha256="c" * 64,
        periodicity="M",
        reference_date=last_month,
        status=ImportStatus.IMPORTED,
    )
    assert fetch_pecgm.delay(**BEAT_KWARGS).get() is None
    assert fetches() == 1  # imported: no fetch, no run recorded
    # Started by hand, a fetch always runs.
    fetch_pecgm.delay(periodicities=["M"], started_by="admin").get()
    assert fetches() == 2


def test_the_poll_days_come_from_the_environment_and_old_names_are_refused(tmp_path):
    assert _beat_schedule_with(tmp_path, PECGM_POLL_FROM_DAY="4", PECGM_ALERT_AFTER_DAY="12").returncode == 0
    before = _beat_schedule_with(tmp_path, PECGM_POLL_FROM_DAY="12", PECGM_ALERT_AFTER_DAY="4")
    assert before.returncode != 0 and "PECGM_ALERT_AFTER_DAY must not come before" in before.stderr
    for old, new in (
        ("EXCHANGE_MONTHLY_FETCH_DAY", "PECGM_POLL_FROM_DAY"),
        ("EXCHANGE_ALERT_DAY", "PECGM_ALERT_AFTER_DAY"),
    ):
        refused = _beat_schedule_with(tmp_path, **{old: "5"})
        assert refused.returncode != 0 and f"{old} is replaced by {new}" in refused.stderr
    wrong = _beat_schedule_with(tmp_path, PECGM_POLL_FROM_DAY="31")
    assert wrong.returncode != 0 and "PECGM_POLL_FROM_DAY" in wrong.stderr
    default = json.loads(_beat_schedule_with(tmp_path).stdout)
    assert default["pecgm-monthly-stock"][:2] == ["exchanges.tasks.fetch_pecgm", BEAT_KWARGS]
