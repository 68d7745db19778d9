"""What admins must be told about exchanges: on their home page, and optionally by email.

A missed PECGM file is lost (the server deletes it after a month), so the
alerts point at what needs a human: the last fetch failed, no monthly stock
imported this month after PECGM_ALERT_AFTER_DAY (exchanges.tasks.monthly_stock_due
also e-mails it), the CGPEM of last month not deposited, the last deposit failed.
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

from exchanges.runs import Direction, ExchangeRun, RunStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    message: str
    url: str = ""
    level: str = "warning"  # Bootstrap alert colour


def _last_finished(direction: str) -> ExchangeRun | None:
    return (
        ExchangeRun.objects.filter(direction=direction, status__in=[RunStatus.SUCCEEDED, RunStatus.FAILED])
        .order_by("-finished_at", "-id")
        .first()
    )


def exchange_alerts(today: date | None = None) -> list[Alert]:
    today = today or timezone.localdate()
    alerts = []
    last_fetch = _last_finished(Direction.FETCH)
    if last_fetch is not None and last_fetch.status == RunStatus.FAILED:
        alerts.append(
            Alert(
                _("La dernière réception des fichiers PECGM a échoué (%(when)s) : %(error)s")
                % {
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
    if last_deposit is not None and last_deposit.status == RunStatus.FAILED:
        alerts.append(
            Alert(
                _("Le dernier dépôt du fichier CGPEM a échoué : %(error)s")
                % {"error": last_deposit.error_message},
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
    from exchanges.models import SUCCESSFUL_STATUSES, ImportRun

    previous_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    return ImportRun.objects.filter(
        periodicity="M", status__in=SUCCESSFUL_STATUSES, reference_date__gte=previous_month
    ).exists()


def _monthly_cgpem_deposited(today: date) -> bool:
    if not apps.is_installed("orientations"):
        return True
    from orientations.models import CgpemExport

    last_month_end = today.replace(day=1) - timedelta(days=1)
    return CgpemExport.objects.filter(
        periodicity="M", period_end__gte=last_month_end, deposited_at__isnull=False
    ).exists()


def _recipients() -> list[str]:
    """The admins to e-mail (those with an address), none unless EXCHANGE_ALERT_EMAIL is on."""
    if not settings.EXCHANGE_ALERT_EMAIL:
        return []
    from accounts.models import User

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
    """Email the admins that a run failed, when EXCHANGE_ALERT_EMAIL is on."""
    recipients = _recipients()
    if not recipients:
        return
    subject = _("[Liaison RSA] Échec : %(direction)s n° %(id)s") % {
        "direction": run.get_direction_display(),
        "id": run.pk,
    }
    body = _(
        "L'échange n° %(id)s (%(direction)s) a échoué.\n\n%(error)s\n\n"
        "Détail : page « Échanges » de Liaison RSA."
    ) % {"id": run.pk, "direction": run.get_direction_display(), "error": run.error_message}
    try:
        send_mail(subject, body, None, recipients)
    except Exception:  # an unreachable mail server must not hide the failure itself
        logger.exception("exchange run %s: failure email not sent", run.pk)
