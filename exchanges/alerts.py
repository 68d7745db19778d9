"""What admins must be told about exchanges: on their home page, and optionally by email.

A missed PECGM file is lost (the server deletes it after a month), so the
alerts point at what needs a human: the last fetch failed, no monthly stock
imported this month after PECGM_ALERT_AFTER_DAY (exchanges.tasks.monthly_stock_due
also e-mails it), the CGPEM of last month not deposited, the last deposit failed;
an exchange running or waiting for longer than EXCHANGE_STUCK_ALERT_MINUTES; no
worker seen lately (nothing would run).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from django.apps import apps
from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.models import User
from exchanges.models import SUCCESSFUL_STATUSES, ImportRun
from exchanges.runs import FINISHED, Direction, ExchangeRun, RunStatus, last_worker_seen
from orientations.models import CgpemExport

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    message: str
    url: str = ""
    level: str = "warning"  # Bootstrap alert colour


def _last_finished(direction: str) -> ExchangeRun | None:
    """The last run that decided something. One interrupted before it started (another run
    was going, or its message was lost and a fresh one sent) did not: the one doing the work tells."""
    return (
        ExchangeRun.objects.filter(direction=direction, status__in=FINISHED)
        .exclude(status=RunStatus.INTERRUPTED, attempts=0)
        .order_by("-finished_at", "-id")
        .first()
    )


def exchange_alerts(today: date | None = None) -> list[Alert]:
    today = today or timezone.localdate()
    alerts = [*_worker_alerts(), *_stuck_alerts()]
    last_fetch = _last_finished(Direction.FETCH)
    if last_fetch is not None and last_fetch.ended_badly:
        alerts.append(
            Alert(
                _("La dernière réception des fichiers PECGM a %(ended)s (%(when)s) : %(error)s")
                % {
                    "ended": _ended(last_fetch),
                    "when": date_format(timezone.localtime(last_fetch.finished_at), "DATETIME_FORMAT"),
                    "error": last_fetch.error_message,
                },
                reverse("exchange_run_detail", args=[last_fetch.pk]),
                "danger",
            )
        )
    if stock_overdue(today):
        alerts.append(Alert(_missing_stock_message(), reverse("exchange_runs"), "danger"))
    last_deposit = _last_finished(Direction.DEPOSIT)
    if last_deposit is not None and last_deposit.ended_badly:
        alerts.append(
            Alert(
                _("Le dernier dépôt du fichier CGPEM a %(ended)s : %(error)s")
                % {"ended": _ended(last_deposit), "error": last_deposit.error_message},
                reverse("exchange_run_detail", args=[last_deposit.pk]),
                "danger",
            )
        )
    elif today.day > settings.EXCHANGE_MONTHLY_DEPOSIT_DAY and not _monthly_cgpem_deposited(today):
        alerts.append(
            Alert(
                _("Le fichier CGPEM du mois dernier n'a pas été déposé sur le serveur de France Travail."),
                reverse("exchange_runs"),
            )
        )
    return alerts


def _ended(run: ExchangeRun) -> str:
    return _("été interrompu") if run.status == RunStatus.INTERRUPTED else _("échoué")


def stuck_runs() -> list[ExchangeRun]:
    """Runs running or waiting for longer than EXCHANGE_STUCK_ALERT_MINUTES."""
    since = timezone.now() - timedelta(minutes=settings.EXCHANGE_STUCK_ALERT_MINUTES)
    return list(
        ExchangeRun.objects.filter(
            status__in=[RunStatus.QUEUED, RunStatus.RUNNING], created_at__lt=since
        ).order_by("created_at")
    )


def _stuck_message(run: ExchangeRun) -> str:
    minutes = int((timezone.now() - run.created_at).total_seconds() // 60)
    if run.status == RunStatus.RUNNING:
        text = _("L'échange n° %(id)s (%(direction)s) est en cours depuis %(minutes)s min.")
    else:
        text = _("L'échange n° %(id)s (%(direction)s) attend depuis %(minutes)s min.")
    message = text % {"id": run.pk, "direction": run.get_direction_display(), "minutes": minutes}
    if run.error_message:
        message += " " + run.error_message
    return message


def _stuck_alerts() -> list[Alert]:
    return [
        Alert(_stuck_message(run), reverse("exchange_run_detail", args=[run.pk]), "danger")
        for run in stuck_runs()
    ]


def worker_silent_since():
    """When no worker has answered for too long: the last time one did (None if never); else False.

    Workers run the reaper every EXCHANGE_REAPER_MINUTES (beat) and at their start;
    missing three of them means no worker, or no beat. Not asked in embedded mode
    (tasks run in the web process).
    """
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return False
    last = last_worker_seen()
    limit = timedelta(minutes=max(3 * settings.EXCHANGE_REAPER_MINUTES, 10))
    if last is not None and timezone.now() - last < limit:
        return False
    return last


def _worker_alerts() -> list[Alert]:
    silent = worker_silent_since()
    if silent is False:
        return []
    if silent is None:
        message = _(
            "Aucun worker Celery n'a encore répondu : les échanges ne s'exécutent pas. "
            "Vérifiez les services worker et beat (docs/production.md)."
        )
    else:
        message = _(
            "Aucun worker Celery n'a répondu depuis le %(when)s : les échanges ne s'exécutent pas. "
            "Vérifiez les services worker et beat (docs/production.md)."
        ) % {"when": date_format(timezone.localtime(silent), "DATETIME_FORMAT")}
    return [Alert(message, reverse("exchange_runs"), "danger")]


def notify_stuck() -> list[int]:
    """Email the admins, once per run, about the runs stuck for too long (the reaper calls it)."""
    runs = [run for run in stuck_runs() if run.stuck_alerted_at is None]
    if not runs or not settings.EXCHANGE_ALERT_EMAIL:
        return []
    subject = _("[Liaison RSA] Échange bloqué : n° %(ids)s") % {"ids": ", ".join(str(run.pk) for run in runs)}
    body = "\n\n".join(_stuck_message(run) for run in runs)
    body += "\n\n" + _("Détail : page « Échanges » de Liaison RSA.")
    if _send_to_admins(subject, body, "stuck runs"):
        ExchangeRun.objects.filter(pk__in=[run.pk for run in runs]).update(stuck_alerted_at=timezone.now())
    return [run.pk for run in runs]


def _missing_stock_message() -> str:
    return _(
        "Aucun fichier PECGM mensuel importé ce mois-ci (attendu au plus tard le %(day)s) : "
        "le serveur de France Travail efface les fichiers au bout d'un mois, "
        "un fichier non récupéré est perdu. La réception est retentée chaque jour."
    ) % {"day": settings.PECGM_ALERT_AFTER_DAY}


def stock_overdue(today: date) -> bool:
    """Past PECGM_ALERT_AFTER_DAY and the month's stock still not imported."""
    return today.day > settings.PECGM_ALERT_AFTER_DAY and not monthly_stock_imported(today)


def monthly_stock_imported(today: date) -> bool:
    """The month's stock is imported: a monthly file of last month or newer.

    A stock is dated by its reference date, the end of the month it describes, and arrives
    the next month; one produced early (the 28th, for the 31st) counts for the same month.
    """
    previous_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    return ImportRun.objects.filter(
        periodicity="M", status__in=SUCCESSFUL_STATUSES, reference_date__gte=previous_month
    ).exists()


def _monthly_cgpem_deposited(today: date) -> bool:
    if not apps.is_installed("orientations"):
        return True

    last_month_end = today.replace(day=1) - timedelta(days=1)
    return CgpemExport.objects.filter(
        periodicity="M", period_end__gte=last_month_end, deposited_at__isnull=False
    ).exists()


def _recipients() -> list[str]:
    """The admins to e-mail (those with an address), none unless EXCHANGE_ALERT_EMAIL is on."""
    if not settings.EXCHANGE_ALERT_EMAIL:
        return []

    return list(
        User.objects.filter(role="admin", is_active=True).exclude(email="").values_list("email", flat=True)
    )


def notify_missing_stock(today: date) -> bool:
    """E-mail the admins that the month's stock is still not imported; True if sent."""
    recipients = _recipients()
    if not recipients:
        return False
    subject = _("[Liaison RSA] Stock mensuel PECGM non reçu au %(date)s") % {
        "date": today.strftime("%d/%m/%Y")
    }
    body = _missing_stock_message() + "\n\n" + _("Détail : page « Échanges » de Liaison RSA.")
    try:
        send_mail(subject, body, None, recipients)
    except Exception:  # an unreachable mail server must not stop the fetch that follows
        logger.exception("monthly stock alert: email not sent")
        return False
    return True


def notify_failure(run: ExchangeRun) -> None:
    """Email the admins that a run failed (or was interrupted), when EXCHANGE_ALERT_EMAIL is on."""
    interrupted = run.status == RunStatus.INTERRUPTED
    subject = (
        _("[Liaison RSA] Interrompu : %(direction)s n° %(id)s")
        if interrupted
        else _("[Liaison RSA] Échec : %(direction)s n° %(id)s")
    ) % {"direction": run.get_direction_display(), "id": run.pk}
    body = _(
        "L'échange n° %(id)s (%(direction)s) a %(ended)s.\n\n%(error)s\n\n"
        "Détail : page « Échanges » de Liaison RSA."
    ) % {
        "id": run.pk,
        "direction": run.get_direction_display(),
        "ended": _ended(run),
        "error": run.error_message,
    }
    _send_to_admins(subject, body, f"exchange run {run.pk}")


def _send_to_admins(subject: str, body: str, what: str) -> bool:
    recipients = _recipients()
    if not recipients:
        return False
    try:
        send_mail(subject, body, None, recipients)
    except Exception:  # an unreachable mail server must not hide the failure itself
        logger.exception("%s: alert email not sent", what)
        return False
    return True
