"""Exchange runs: the durable record of each fetch or deposit, and the lock around it.

A run is written by the code that does the work (the Celery task, or the
`fetch_pecgm`/`deposit_cgpem` commands), so that the record exists whether
Celery runs eagerly, in a worker, or not at all. The web pages only read it.

The lock (`exchanges.tracked_runs.NamedLock`, one per direction) makes sure
that one direction (fetch or deposit) never runs twice at once, even when the
broker redelivers a task whose worker died: PostgreSQL's session advisory
lock, or SQLite's file lock, ends with the process holding it (a killed worker
cannot leave it behind).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from exchanges.tracked_runs import INTERRUPTED, RUNNING, NamedLock, TrackedRun, interrupt_runs

logger = logging.getLogger(__name__)


class Direction(models.TextChoices):
    FETCH = "fetch", _("Réception PECGM")
    DEPOSIT = "deposit", _("Dépôt CGPEM")


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("en attente")
    RUNNING = RUNNING, _("en cours")
    SUCCEEDED = "succeeded", _("réussi")
    FAILED = "failed", _("échoué")
    # Stopped by a fault of the infrastructure (worker killed, message lost, database
    # gone for longer than the retries): final for this run; a fresh one takes over.
    INTERRUPTED = INTERRUPTED, _("interrompu")


FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.INTERRUPTED)

# The status of each file of a run (`ExchangeRun.files`), as shown to admins.
FILE_STATUSES = {
    "already_imported": _("déjà importé (nom connu), non téléchargé"),
    "imported": _("importé"),
    "imported_with_rejects": _("importé avec rejets"),
    "duplicate": _("contenu déjà importé, ignoré"),
    "rejected": _("rejeté"),
    "interrupted": _("import interrompu, repris au prochain essai"),
    "ignored": _("ignoré : nom daté hors de la conservation du serveur, non téléchargé"),
    "deferred": _("reporté au prochain relevé (plafond de la réception atteint)"),
    "sending": _("envoi en cours"),
    "deposited": _("déposé"),
    "already_deposited": _("déjà déposé"),
}

# One lock per direction (advisory keys "EXCHF", "EXCHD" in ASCII, as before).
LOCKS = {
    Direction.FETCH: NamedLock("EXCHF", "exchange-fetch.lock"),
    Direction.DEPOSIT: NamedLock("EXCHD", "exchange-deposit.lock"),
}


class ExchangeRun(TrackedRun):
    """One fetch (list, download, import) or one deposit (generate, PUT) of the exchange server."""

    direction = models.CharField(_("sens"), max_length=10, choices=Direction.choices)
    status = models.CharField(_("statut"), max_length=12, choices=RunStatus.choices, default=RunStatus.QUEUED)
    # Fetch: the periodicities to fetch ("M", "QH"; empty = all). Deposit: the one periodicity.
    periodicities = models.CharField(_("périodicités"), max_length=3, blank=True)
    period_end = models.DateField(_("fin de période"), null=True, blank=True)
    # The Celery task id: a redelivered message finds its run instead of making another.
    task_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    attempts = models.PositiveIntegerField(_("tentatives"), default=0)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)

    # Files processed: [{"name", "sha256", "size", "status", "message", "import_run", "archive"}].
    # "archive" is relative to EXCHANGE_FILES_DIR (raw file download).
    files = models.JSONField(_("fichiers"), default=list, blank=True)
    # Deposit only: the CGPEM file sent, looked up when the server answers 409.
    file_name = models.CharField(_("fichier"), max_length=100, blank=True, db_index=True)
    sha256 = models.CharField(_("empreinte SHA-256"), max_length=64, blank=True)
    cgpem_export_id = models.PositiveIntegerField(null=True, blank=True)
    # {"listed", "downloaded", "imported", "duplicates", "rejected", "skipped", "records", "deposited"}
    counts = models.JSONField(_("compteurs"), default=dict, blank=True)
    # When the admins were emailed that this run was stuck (once per run).
    stuck_alerted_at = models.DateTimeField(null=True, blank=True)

    ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
    BADGES = {
        RunStatus.QUEUED: "text-bg-secondary",
        RunStatus.RUNNING: "text-bg-info",
        RunStatus.SUCCEEDED: "text-bg-success",
        RunStatus.FAILED: "text-bg-danger",
        RunStatus.INTERRUPTED: "text-bg-warning",
    }
    REFRESH_PAGE_WHEN_FINISHED = True
    PROGRESS_URL_NAME = "exchange_run_progress"

    class Meta:
        verbose_name = _("échange")
        verbose_name_plural = _("échanges")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["direction", "status", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} #{self.pk} ({self.get_status_display()})"

    @property
    def ended_badly(self) -> bool:
        """Failed or interrupted: its message says why (a waiting run's says why it waits)."""
        return self.status in (RunStatus.FAILED, RunStatus.INTERRUPTED)

    @property
    def waiting_message(self) -> str:
        return self.error_message if self.status == RunStatus.QUEUED else ""

    @property
    def progress_announcement(self) -> str:
        return _("Échange n° %(id)s : %(status)s") % {"id": self.pk, "status": self.get_status_display()}

    @property
    def files_display(self) -> list[dict]:
        """The files with a French label for their status."""
        return [
            {**entry, "status_label": FILE_STATUSES.get(entry.get("status", ""), entry.get("status", ""))}
            for entry in self.files
        ]

    @property
    def file_names(self) -> list[str]:
        return [entry["name"] for entry in self.files if entry.get("name")]

    def counts_summary(self) -> str:
        """The counts in one French line, for the list of runs."""
        if not self.counts:
            return ""
        if self.direction == Direction.DEPOSIT:
            if self.count("deposited"):
                n = self.count("records")
                return ngettext("déposé, %(n)s décision", "déposé, %(n)s décisions", n) % {"n": n}
            if self.files and self.files[0].get("status") == "already_deposited":
                return str(_("déjà déposé"))
            return ""
        listed = self.count("listed")
        parts = [
            ngettext("%(n)s fichier sur le serveur", "%(n)s fichiers sur le serveur", listed) % {"n": listed}
        ]
        for key, one, many in (
            ("imported", "%(n)s importé", "%(n)s importés"),
            ("skipped", "%(n)s déjà importé", "%(n)s déjà importés"),
            ("duplicates", "%(n)s en double", "%(n)s en double"),
            ("rejected", "%(n)s rejeté", "%(n)s rejetés"),
        ):
            if n := self.count(key):
                parts.append(ngettext(one, many, n) % {"n": n})
        if records := self.count("records"):
            parts.append(ngettext("%(n)s enregistrement", "%(n)s enregistrements", records) % {"n": records})
        return ", ".join(str(part) for part in parts)

    def count(self, key: str) -> int:
        return int(self.counts.get(key, 0))

    def file_entry(self, name: str) -> dict | None:
        return next((entry for entry in self.files if entry.get("name") == name), None)


class WorkerSeen(models.Model):
    """When a Celery worker last ran the reaper (beat's every EXCHANGE_REAPER_MINUTES, or its start).

    The sign that exchanges can run at all: a worker and beat that answer.
    One row per worker name (the host's, as Celery names it).
    """

    name = models.CharField(max_length=255, primary_key=True)
    seen_at = models.DateTimeField()

    class Meta:
        verbose_name = _("worker vu")
        verbose_name_plural = _("workers vus")

    def __str__(self) -> str:
        return f"{self.name} ({self.seen_at:%Y-%m-%d %H:%M})"


def worker_seen(name: str) -> None:
    WorkerSeen.objects.update_or_create(name=name[:255], defaults={"seen_at": timezone.now()})


def last_worker_seen():
    """The last time any worker answered, or None."""
    return WorkerSeen.objects.aggregate(last=models.Max("seen_at"))["last"]


# --- The lock and the runs it ends ----------------------------------------------------------

WORKER_GONE = _("Interrompu : le processus qui l'exécutait s'est arrêté.")


class RunBusy(Exception):
    """Another run of the same direction holds the lock."""


@contextmanager
def run_lock(run: ExchangeRun):
    """Hold the lock of the run's direction for the duration of the block, or raise RunBusy."""
    with LOCKS[run.direction].held(busy=RunBusy):
        yield


def interrupted_runs_over(run: ExchangeRun) -> None:
    """Under the lock: other runs of this direction left "running" died with their worker."""
    interrupt_runs(ExchangeRun.objects.filter(direction=run.direction).exclude(pk=run.pk), WORKER_GONE)


def run_summary(run: ExchangeRun) -> dict:
    """The JSON printed by `fetch_pecgm --json` / `deposit_cgpem --json`, and returned by the tasks."""
    return {
        "run": run.pk,
        "direction": run.direction,
        "status": run.status,
        "started_by": run.started_by,
        "attempts": run.attempts,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "counts": run.counts,
        "files": [
            {
                key: entry.get(key)
                for key in ("name", "sha256", "status", "import_run", "message")
                if key in entry
            }
            for entry in run.files
        ],
        "error": run.error_message,
    }
