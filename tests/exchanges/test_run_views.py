"""The "Échanges" pages and the admins' home alerts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from exchanges.alerts import exchange_alerts
from exchanges.models import ImportRun, ImportStatus
from exchanges.runs import Direction, ExchangeRun, RunStatus
from orientations.models import CgpemExport
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    assert client.login(username=admin_user.username, password=TEST_PASSWORD)
    return client


def finished_run(**fields) -> ExchangeRun:
    now = timezone.now()
    defaults = {
        "direction": Direction.FETCH,
        "status": RunStatus.SUCCEEDED,
        "started_at": now - timedelta(seconds=42),
        "finished_at": now,
        "started_by": "beat",
    }
    return ExchangeRun.objects.create(**{**defaults, **fields})


def test_list_shows_runs_with_their_facts(admin_client):
    finished_run(
        files=[{"name": "PECGM_082_20250131_M.xml", "status": "imported"}],
        counts={"listed": 1, "imported": 1, "records": 12},
    )
    finished_run(direction=Direction.DEPOSIT, status=RunStatus.FAILED, error_message="Serveur injoignable")
    page = admin_client.get(reverse("exchange_runs")).content.decode()
    assert "PECGM_082_20250131_M.xml" in page
    assert "1 importé," in page and "12 enregistrements" in page
    assert "Serveur injoignable" in page
    assert "0:00:42" in page and "beat" in page
    assert "Lancer l'échange" in page


def test_start_button_runs_a_fetch(admin_client, admin_user, settings, django_capture_on_commit_callbacks):
    settings.EXCHANGE_URL = ""
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("exchange_run_start"), {"direction": "fetch"})
    run = ExchangeRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "exchange_run_detail", args=[run.pk]
    )
    assert run.user == admin_user and run.started_by == admin_user.username
    entry = AuditEntry.objects.get(action="started_exchange")
    assert (entry.user, entry.object_id, entry.extra) == (admin_user, str(run.pk), {"direction": "fetch"})
    # eager in tests: it already ran, and failed on the missing configuration
    assert run.status == RunStatus.FAILED and "EXCHANGE_URL" in run.error_message


def test_start_needs_post(admin_client):
    assert admin_client.get(reverse("exchange_run_start")).status_code == 405
    assert not ExchangeRun.objects.exists()


def test_progress_partial_polls_while_running_and_stops_after(admin_client):
    run = ExchangeRun.objects.create(
        direction=Direction.FETCH, status=RunStatus.RUNNING, progress_done=1, progress_total=4
    )
    url = reverse("exchange_run_progress", args=[run.pk])
    running = admin_client.get(url, headers={"HX-Request": "true"})
    assert 'hx-trigger="every 2s"' in running.content.decode()
    assert 'value="25"' in running.content.decode() and "25 %" in running.content.decode()
    assert "HX-Refresh" not in running
    ExchangeRun.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED)
    done = admin_client.get(url, headers={"HX-Request": "true"})
    assert "hx-trigger" not in done.content.decode()
    assert done["HX-Refresh"] == "true"


def test_detail_shows_error_and_downloads_the_raw_file(admin_client, settings):
    folder = settings.EXCHANGE_FILES_DIR / "pecgm"
    folder.mkdir(parents=True)
    (folder / "PECGM_082_20250131_M.xml").write_bytes(b"<PECGM/>")
    run = finished_run(
        status=RunStatus.FAILED,
        error_message="Fichier rejeté à l'import : PECGM_082_20250131_M.xml.",
        files=[
            {
                "name": "PECGM_082_20250131_M.xml",
                "status": "rejected",
                "archive": "pecgm/PECGM_082_20250131_M.xml",
            }
        ],
    )
    page = admin_client.get(reverse("exchange_run_detail", args=[run.pk])).content.decode()
    assert "Fichier rejeté à l&#x27;import" in page
    assert "<td>rejeté</td>" in page
    url = reverse("exchange_run_file", args=[run.pk]) + "?fichier=PECGM_082_20250131_M.xml"
    assert url.replace("&", "&amp;") in page or url in page
    response = admin_client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"<PECGM/>"
    assert "attachment" in response["Content-Disposition"]
    entry = AuditEntry.objects.get(action="downloaded_file")
    assert entry.object_id == str(run.pk) and entry.extra == {"file": "PECGM_082_20250131_M.xml"}


def test_raw_file_download_refuses_names_not_in_the_run(admin_client, settings):
    (settings.EXCHANGE_FILES_DIR).mkdir(parents=True, exist_ok=True)
    (settings.EXCHANGE_FILES_DIR / "secret_key").write_text("x")
    run = finished_run(files=[{"name": "a.xml", "archive": "../secret_key"}, {"name": "b.xml"}])
    base = reverse("exchange_run_file", args=[run.pk])
    assert admin_client.get(base + "?fichier=a.xml").status_code == 404
    assert admin_client.get(base + "?fichier=b.xml").status_code == 404
    assert admin_client.get(base + "?fichier=secret_key").status_code == 404


def test_pages_are_for_admins_only(client, orientation_officer):
    run = finished_run()
    client.login(username=orientation_officer.username, password=TEST_PASSWORD)
    for url in (reverse("exchange_runs"), reverse("exchange_run_detail", args=[run.pk])):
        assert client.get(url).status_code == 403
    assert client.post(reverse("exchange_run_start"), {"direction": "fetch"}).status_code == 403
    assert not ExchangeRun.objects.exclude(pk=run.pk).exists()


# --- Alerts -------------------------------------------------------------------------


def test_alert_when_the_last_fetch_failed(settings):
    settings.PECGM_ALERT_AFTER_DAY = 28
    finished_run(status=RunStatus.FAILED, error_message="Identifiant ou mot de passe refusé (401)")
    alerts = exchange_alerts(date(2025, 3, 3))
    assert any("a échoué" in a.message and "401" in a.message for a in alerts)
    finished_run()  # a later success clears it
    assert not any("réception" in a.message for a in exchange_alerts(date(2025, 3, 3)))


def test_alert_when_no_monthly_file_after_the_alert_day(settings):
    settings.PECGM_ALERT_AFTER_DAY = 10
    settings.EXCHANGE_MONTHLY_DEPOSIT_DAY = 28
    assert exchange_alerts(date(2025, 3, 10)) == []
    assert any("Aucun fichier PECGM mensuel" in a.message for a in exchange_alerts(date(2025, 3, 11)))
    ImportRun.objects.create(
        file_name="PECGM_082_20250228_M.xml",
        sha256="a" * 64,
        periodicity="M",
        reference_date=date(2025, 2, 28),
        status=ImportStatus.IMPORTED,
    )
    assert exchange_alerts(date(2025, 3, 11)) == []


def test_alert_when_cgpem_not_deposited(settings):
    settings.PECGM_ALERT_AFTER_DAY = 28
    settings.EXCHANGE_MONTHLY_DEPOSIT_DAY = 1
    assert any("CGPEM" in a.message for a in exchange_alerts(date(2025, 3, 2)))
    CgpemExport.objects.create(
        file_name="CGPEM_082_20250228_M.xml",
        path="/nowhere",
        sha256="b" * 64,
        periodicity="M",
        period_start=date(2025, 2, 1),
        period_end=date(2025, 2, 28),
        deposited_at=timezone.now(),
    )
    assert exchange_alerts(date(2025, 3, 2)) == []


def test_home_page_shows_alerts_to_admins_only(client, admin_user, social_worker, settings):
    settings.PECGM_ALERT_AFTER_DAY = 28
    finished_run(status=RunStatus.FAILED, error_message="Serveur d'échanges injoignable")
    client.login(username=admin_user.username, password=TEST_PASSWORD)
    assert "Serveur d&#x27;échanges injoignable" in client.get(reverse("home")).content.decode()
    client.logout()
    client.login(username=social_worker.username, password=TEST_PASSWORD)
    assert "injoignable" not in client.get(reverse("home")).content.decode()


def test_an_alert_links_elsewhere_but_not_to_the_page_it_is_on(admin_client, settings):
    settings.PECGM_ALERT_AFTER_DAY = 0  # the monthly stock is overdue whatever today is, and none imported
    runs_page = reverse("exchange_runs")
    home = admin_client.get(reverse("home")).content.decode()
    assert "Aucun fichier PECGM mensuel importé" in home and f'href="{runs_page}">Voir' in home
    page = admin_client.get(runs_page).content.decode()
    assert "Aucun fichier PECGM mensuel importé" in page and f'href="{runs_page}">Voir' not in page


def test_a_fetch_lists_its_rejects_and_links_each_import_to_its_grouped_warnings(admin_client):
    from exchanges.models import ImportReject, RejectLevel

    imported = ImportRun.objects.create(
        file_name="PECGM_082_20250531_M.xml", status=ImportStatus.IMPORTED_WITH_REJECTS, warnings=2
    )
    ImportReject.objects.create(run=imported, record_number=4, field="NIR", message="NIR refusé")
    for number in (1, 2):
        ImportReject.objects.create(
            run=imported,
            level=RejectLevel.WARNING,
            record_number=number,
            field="CONSEILLER_PE",
            message="plus long que 27 caractères : gardé en entier",
        )
    run = finished_run(files=[{"name": imported.file_name, "status": "imported", "import_run": imported.pk}])
    page = admin_client.get(reverse("exchange_run_detail", args=[run.pk])).content.decode()
    assert "NIR refusé" in page
    assert "plus long que 27" not in page  # on the import's page, grouped
    assert reverse("import_run_detail", args=[imported.pk]) in page
    grouped = admin_client.get(reverse("import_run_detail", args=[imported.pk])).content.decode()
    assert "<strong>2 ×</strong>" in grouped and "CONSEILLER_PE" in grouped


# --- What is stuck ------------------------------------------------------------------


def _aged(run: ExchangeRun, minutes: int) -> ExchangeRun:
    ExchangeRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))
    run.refresh_from_db()
    return run


def test_the_home_page_shows_an_exchange_running_or_waiting_too_long(admin_client, settings):
    settings.PECGM_ALERT_AFTER_DAY = 28
    settings.EXCHANGE_STUCK_ALERT_MINUTES = 90
    running = _aged(ExchangeRun.objects.create(direction=Direction.FETCH, status=RunStatus.RUNNING), 120)
    _aged(ExchangeRun.objects.create(direction=Direction.DEPOSIT, status=RunStatus.QUEUED), 30)  # not yet
    home = admin_client.get(reverse("home")).content.decode()
    assert f"L&#x27;échange n° {running.pk} (Réception PECGM) est en cours depuis 120 min." in home
    assert "attend depuis" not in home
    ExchangeRun.objects.filter(pk=running.pk).update(status=RunStatus.SUCCEEDED, finished_at=timezone.now())
    assert "en cours depuis" not in admin_client.get(reverse("home")).content.decode()


def test_a_stuck_exchange_is_emailed_to_admins_once(settings, mailoutbox):
    from exchanges.tasks import reap_exchanges
    from tests.factories import UserFactory

    UserFactory(username="a1", role="admin", email="a1@example.fr")
    settings.EXCHANGE_ALERT_EMAIL = True
    settings.EXCHANGE_STUCK_ALERT_MINUTES = 90
    waiting = _aged(
        ExchangeRun.objects.create(
            direction=Direction.DEPOSIT,
            status=RunStatus.QUEUED,
            task_id="t-1",
            error_message="Un autre échange du même type est déjà en cours : celui-ci attend son tour.",
        ),
        100,
    )
    reap_exchanges.delay().get()
    reap_exchanges.delay().get()
    assert len(mailoutbox) == 1
    assert f"L'échange n° {waiting.pk} (Dépôt CGPEM) attend depuis 100 min." in mailoutbox[0].body
    assert mailoutbox[0].to == ["a1@example.fr"]


def test_a_worker_that_does_not_answer_is_an_alert(admin_client, settings):
    from exchanges.runs import WorkerSeen, worker_seen

    settings.PECGM_ALERT_AFTER_DAY = 28
    settings.EXCHANGE_REAPER_MINUTES = 2
    settings.CELERY_TASK_ALWAYS_EAGER = False  # production: tasks need a worker
    assert "Aucun worker Celery n&#x27;a encore répondu" in admin_client.get(reverse("home")).content.decode()
    worker_seen("celery@app")
    assert "worker Celery" not in admin_client.get(reverse("home")).content.decode()
    WorkerSeen.objects.update(seen_at=timezone.now() - timedelta(minutes=11))
    assert (
        "Aucun worker Celery n&#x27;a répondu depuis le" in admin_client.get(reverse("home")).content.decode()
    )


def test_a_run_started_while_redis_is_down_waits_for_it_without_alert(
    admin_client, settings, monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    from exchanges import tasks

    settings.EXCHANGE_ALERT_EMAIL = True

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.fetch_pecgm, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("exchange_run_start"), {"direction": "fetch"})
    assert response.status_code == 302
    run = ExchangeRun.objects.get()
    assert run.status == RunStatus.QUEUED  # not failed: the reaper sends it once Redis is back
    assert "attend son retour" in run.error_message
    assert mailoutbox == []
