"""What a fetch and a deposit do, step by step; shared by the Celery tasks and the commands.

`execute(run)` takes a run from queued to succeeded or failed. Errors worth
another try later (`TransientExchangeError`, another run or import holding
the lock) are re-raised after the run is put back to "queued", so that the
caller (a Celery retry, or an operator) decides when to come back.

Idempotence:
- fetch: a file whose name was imported successfully is not downloaded
  again; a downloaded file whose SHA-256 was already imported (or rejected)
  is not imported again. A run redelivered after its worker died simply
  starts over and skips what was done.
- deposit: the CGPEM file of a period is generated once and kept; a period
  already deposited is not sent again. The contract has no GET for the CGPEM
  folder, so a `409` (name taken) counts as success only if one of our own
  runs already sent that name with the same SHA-256 (we record the attempt
  before the PUT, so a worker killed after the server answered is
  recognised); otherwise it is an error for an admin to look at.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import date, timedelta
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import ngettext

from config.private_files import copy_private, file_sha256
from contract.file_names import name_mismatch, name_out_of_range
from exchanges.alerts import notify_failure
from exchanges.client import (
    DepositConflict,
    ExchangeClient,
    ExchangeConfig,
    ExchangeError,
    TransientExchangeError,
)
from exchanges.faults import (
    DATABASE_ERRORS,
    DiskFull,
    close_broken_connection,
    durably,
    infrastructure_cause,
    is_disk_full,
)
from exchanges.models import SUCCESSFUL_STATUSES, ImportRun, ImportStatus
from exchanges.pecgm_import import ImportBusy, after_imports, import_pecgm
from exchanges.pecgm_reader import FileRejected, read_pecgm
from exchanges.reaper import remove_stale_downloads
from exchanges.runs import Direction, ExchangeRun, RunBusy, RunStatus, interrupted_runs_over, run_lock
from exchanges.tracked_runs import ErrorKind, ProgressPublisher, heartbeat, save_fields
from orientations.cgpem import CgpemError, archived_path, generate_cgpem
from orientations.models import CgpemExport

logger = logging.getLogger(__name__)


ALREADY_RUNNING = _lazy("Un autre échange du même type est déjà en cours : celui-ci attend son tour.")

# The progress bar of a fetch counts files, each divided in this many steps
# that follow the import's own (records processed / total).
PROGRESS_SCALE = 1000


class RetryLater(Exception):
    """The run could not start or finish now, but may later (lock held, network down).

    `infrastructure`: the fault is ours (database, disk), not the exchange
    server's; once the retries are spent the run ends « interrompu », not
    « échoué ». `database`: a lost database connection, retried sooner
    (EXCHANGE_DB_RETRY_DELAY_SECONDS). `busy`: another run of the same
    direction is going; this one only waits for it.
    """

    def __init__(
        self,
        message: str,
        *,
        countdown: int | None = None,
        infrastructure: bool = False,
        database: bool = False,
        busy: bool = False,
    ) -> None:
        super().__init__(message)
        self.countdown = countdown
        self.infrastructure = infrastructure or database
        self.database = database
        self.busy = busy


def received_dir() -> Path:
    return Path(settings.EXCHANGE_FILES_DIR) / "pecgm"


def incoming_dir() -> Path:
    return Path(settings.EXCHANGE_FILES_DIR) / "incoming"


def execute(run: ExchangeRun) -> ExchangeRun:
    """Run a queued (or interrupted) run to its end. Raises RetryLater for transient trouble."""
    run.refresh_from_db()
    if run.is_finished:
        return run  # a redelivered message of a finished run: nothing to do
    try:
        with run_lock(run):
            interrupted_runs_over(run)
            save_fields(
                run,
                status=RunStatus.RUNNING,
                started_at=run.started_at or timezone.now(),
                heartbeat_at=timezone.now(),
                attempts=run.attempts + 1,
                error_message="",
                error_kind="",
            )
            logger.info("exchange run %s (%s): started, attempt %d", run.pk, run.direction, run.attempts)
            with heartbeat(run), ProgressPublisher(run) as publisher:
                if run.direction == Direction.FETCH:
                    _fetch(run, publisher)
                else:
                    _deposit(run)
    except RunBusy:
        message = str(ALREADY_RUNNING)
        save_fields(run, status=RunStatus.QUEUED, error_message=message)
        raise RetryLater(message, countdown=settings.EXCHANGE_LOCK_LEASE_SECONDS, busy=True) from None
    except DATABASE_ERRORS as exc:
        # The connection was cut (server restarting, connection terminated): whatever the
        # import wrote was rolled back; a new connection and a later attempt take it again.
        logger.warning("exchange run %s: database connection lost (%s)", run.pk, type(exc).__name__)
        close_broken_connection()
        message = _("Interrompu : %(cause)s") % {"cause": infrastructure_cause(exc)}
        durably(
            lambda: save_fields(run, status=RunStatus.QUEUED, error_message=message), f"exchange run {run.pk}"
        )
        raise RetryLater(message, database=True) from None
    except TransientExchangeError as exc:
        save_fields(run, status=RunStatus.QUEUED, error_message=str(exc))
        raise RetryLater(str(exc)) from None
    except RetryLater as exc:
        save_fields(run, status=RunStatus.QUEUED, error_message=str(exc))
        raise
    except ExchangeError as exc:
        fail(run, str(exc))
    except SoftTimeLimitExceeded:
        fail(
            run,
            _("Durée maximale dépassée (%(seconds)s s, EXCHANGE_TASK_TIME_LIMIT_SECONDS) : échange arrêté.")
            % {"seconds": settings.EXCHANGE_TASK_TIME_LIMIT_SECONDS},
            kind=ErrorKind.CRASH,
        )
    except OSError as exc:
        if not is_disk_full(exc):
            logger.exception("exchange run %s: unexpected error", run.pk)
            fail(run, _unexpected_error(run), kind=ErrorKind.CRASH)
        else:
            # A full disk is no fault of the file nor of the server: come back once there is room.
            message = _("Interrompu : %(cause)s") % {"cause": infrastructure_cause(exc)}
            logger.error("exchange run %s: disk full", run.pk)
            save_fields(run, status=RunStatus.QUEUED, error_message=message)
            raise RetryLater(message, infrastructure=True) from None
    except Exception:
        logger.exception("exchange run %s: unexpected error", run.pk)
        fail(run, _unexpected_error(run), kind=ErrorKind.CRASH)
    logger.info("exchange run %s: %s", run.pk, run.status)
    return run


def _unexpected_error(run: ExchangeRun) -> str:
    return _("Erreur inattendue : voir le journal du serveur (échange n° %(id)s).") % {"id": run.pk}


def fail(run: ExchangeRun, message: str, *, kind: str = ErrorKind.REJECTION) -> None:
    """End the run « échoué »: by default refused (the server's answer, a file, the settings)."""
    save_fields(
        run, status=RunStatus.FAILED, error_message=message, error_kind=kind, finished_at=timezone.now()
    )

    notify_failure(run)


def give_up(run: ExchangeRun, exc: RetryLater) -> None:
    """No more retries for this run (or none possible: an eager task, a command)."""
    if exc.busy:
        # Not a failure: the run already going does the work. No alert.
        interrupt(run, str(exc), notify=False)
    elif exc.infrastructure:
        interrupt(run, str(exc))
    else:
        # The server unreachable or answering 5xx all along: « échoué », though another try may succeed.
        fail(run, str(exc), kind=ErrorKind.CRASH)


def interrupt(run: ExchangeRun, message: str, *, notify: bool = True) -> None:
    """End the run « interrompu »: a fault of ours stopped it, a fresh run takes the work again."""
    durably(
        lambda: save_fields(
            run,
            status=RunStatus.INTERRUPTED,
            error_message=message,
            error_kind=ErrorKind.CRASH,
            finished_at=timezone.now(),
        ),
        f"exchange run {run.pk}",
    )
    if notify:
        notify_failure(run)


def _succeed(run: ExchangeRun) -> None:
    save_fields(run, status=RunStatus.SUCCEEDED, error_message="", error_kind="", finished_at=timezone.now())


# --- Fetch ----------------------------------------------------------------------------


def _fetch(run: ExchangeRun, publisher: ProgressPublisher) -> None:
    client = ExchangeClient(ExchangeConfig.from_settings())
    # Under the fetch's lock: a partial download there was left by a dead fetch (every NIR in it).
    remove_stale_downloads()
    remote = client.list_pecgm()
    if run.periodicities:
        remote = [f for f in remote if f.periodicity in run.periodicities]
    counts = {"listed": len(remote), "downloaded": 0, "imported": 0, "duplicates": 0, "rejected": 0}
    counts["skipped"] = 0
    counts["records"] = 0
    done_names = set(
        ImportRun.objects.filter(
            file_name__in=[f.name for f in remote], status__in=SUCCESSFUL_STATUSES
        ).values_list("file_name", flat=True)
    )
    todo = [f for f in remote if f.name not in done_names]
    counts["skipped"] = len(remote) - len(todo)
    files = [{"name": f.name, "status": "already_imported"} for f in remote if f.name in done_names]
    # Names dated outside what the server can hold now are not fetched (a server listing
    # 300 fluxes of the year 2000); beyond the run's caps, files wait for the next run.
    todo, ignored = _within_dates(todo)
    files += ignored
    counts["ignored"] = len(ignored)
    deferred = todo[settings.EXCHANGE_MAX_FILES_PER_RUN :]
    todo = todo[: settings.EXCHANGE_MAX_FILES_PER_RUN]
    save_fields(run, counts=counts, files=files, progress_done=0, progress_total=len(todo) * PROGRESS_SCALE)

    rejected = []
    remembered = _rejected_sizes([f.name for f in todo])
    fetched_bytes = 0
    for position, remote_file in enumerate(todo):
        if fetched_bytes >= settings.EXCHANGE_MAX_BYTES_PER_RUN:
            deferred = todo[position:] + deferred
            break
        download = client.download(
            remote_file.name,
            incoming_dir(),
            known_sizes=remembered.get(remote_file.name, {}),
            keep_free=settings.EXCHANGE_MIN_FREE_DISK,
        )
        if download.known is not None:
            # Same name and size as a file rejected before: not fetched again.
            earlier = download.known
            entry = {"name": download.name, "size": earlier.size, "sha256": earlier.sha256}
            entry.update(status="rejected", import_run=earlier.pk, message=earlier.error_message)
            counts["rejected"] += 1
            rejected.append(download.name)
            files.append(entry)
            save_fields(run, files=files, counts=counts, progress_done=(position + 1) * PROGRESS_SCALE)
            continue
        fetched_bytes += download.size
        try:
            counts["downloaded"] += 1
            entry = {"name": download.name, "sha256": download.sha256, "size": download.size}
            # The last verdict on these bytes; an interrupted attempt is none (not the file's fault).
            earlier = (
                ImportRun.objects.filter(sha256=download.sha256)
                .filter(Q(status__in=SUCCESSFUL_STATUSES) | Q(error_kind=ErrorKind.REJECTION))
                .order_by("-id")
                .first()
            )
            if earlier is not None and earlier.status in SUCCESSFUL_STATUSES:
                entry.update(status="duplicate", import_run=earlier.pk)
                counts["duplicates"] += 1
            elif earlier is not None:
                # Rejected before for its own faults: the same bytes would be rejected again.
                entry.update(status="rejected", import_run=earlier.pk, message=earlier.error_message)
                counts["rejected"] += 1
                rejected.append(download.name)
            else:
                # A file whose header is wrong, or says other than its name, is not kept: the
                # import below records why, and its SHA-256 keeps it from being fetched again.
                if _header_refusal(download.path, download.name) is None:
                    entry["archive"] = _archive(download.path, download.name, download.sha256)
                try:
                    result = import_pecgm(
                        download.path,
                        started_by=_import_started_by(run),
                        user=run.user,
                        file_name=download.name,
                        progress=_file_progress(publisher, position, len(todo)),
                        counts_computed_next=True,  # below, once for all the files
                    )
                except ImportBusy as exc:
                    raise RetryLater(str(exc), countdown=60) from None
                entry.update(status=result.status, import_run=result.pk, records=result.records)
                counts["records"] += result.records
                if result.status in SUCCESSFUL_STATUSES:
                    counts["imported"] += 1
                elif result.status == ImportStatus.DUPLICATE:
                    counts["duplicates"] += 1
                else:  # rejected (an interrupted import raises)
                    entry["message"] = result.error_message
                    counts["rejected"] += 1
                    rejected.append(download.name)
            files.append(entry)
            save_fields(
                run,
                files=files,
                counts=counts,
                progress_done=(position + 1) * PROGRESS_SCALE,
                heartbeat_at=timezone.now(),
            )
        finally:
            download.path.unlink(missing_ok=True)
    if deferred:
        files += [{"name": f.name, "status": "deferred"} for f in deferred]
        counts["deferred"] = len(deferred)
        save_fields(run, files=files, counts=counts)
    if rejected:
        message = ngettext(
            "Fichier rejeté à l'import : %(names)s.",
            "Fichiers rejetés à l'import : %(names)s.",
            len(rejected),
        )
        fail(run, message % {"names": ", ".join(rejected)})
    else:
        _succeed(run)
    if counts["imported"]:
        # Once for all the run's files, the run already shown as done.
        after_imports(counts["records"])


def _import_started_by(run: ExchangeRun) -> str:
    return "beat" if run.started_by == "beat" else f"exchange:{run.pk}"


def _file_progress(publisher: ProgressPublisher, position: int, count: int):
    """The import's (records done, total) mapped on the run's progress bar: files, then records."""

    def report(processed: int, total: int) -> None:
        share = processed / total if total else 0
        publisher.publish(
            progress_done=int((position + share) * PROGRESS_SCALE), progress_total=count * PROGRESS_SCALE
        )

    return report


def _within_dates(remote: list) -> tuple[list, list[dict]]:
    """The files whose name's date the server may still hold, and entries for the others."""
    if not settings.EXCHANGE_MAX_FILE_AGE_DAYS:
        return remote, []
    today = timezone.localdate()
    kept, ignored = [], []
    for remote_file in remote:
        message = name_out_of_range(remote_file.name, today, settings.EXCHANGE_MAX_FILE_AGE_DAYS)
        if message:
            ignored.append({"name": remote_file.name, "status": "ignored", "message": message})
        else:
            kept.append(remote_file)
    return kept, ignored


def _rejected_sizes(names: list[str]) -> dict[str, dict]:
    """{name: {size: the ImportRun that rejected it}}: files already judged, by name and size."""
    known: dict[str, dict] = {}
    rejected = ImportRun.objects.filter(file_name__in=names, error_kind=ErrorKind.REJECTION)
    for earlier in rejected.order_by("id"):
        known.setdefault(earlier.file_name, {})[earlier.size] = earlier
    return known


def _header_refusal(path: Path, name: str) -> str | None:
    """Why the file's header is refused (broken, or other than its name promises); None if fine."""
    try:
        with read_pecgm(path, file_name=name) as reader:
            header = reader.header
    except FileRejected as exc:
        return exc.message
    return name_mismatch(name, header.departement, header.reference_date, header.periodicity)


def _archive(temp: Path, name: str, sha256: str) -> str:
    """Keep the raw file received under EXCHANGE_FILES_DIR/pecgm; returns its relative path."""
    directory = received_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    if target.exists() and file_sha256(target) != sha256:
        target = directory / f"{Path(name).stem}-{sha256[:12]}.xml"
    if not target.exists():
        _copy_complete(temp, target)
    return str(target.relative_to(Path(settings.EXCHANGE_FILES_DIR)))


def _copy_complete(source: Path, target: Path) -> None:
    """Copy under a temporary name, renamed once complete: never a truncated file under the real name."""
    part = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
    try:
        copy_private(source, part)
        os.replace(part, target)
    except BaseException as exc:
        part.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise DiskFull(target.parent) from None
        raise


# --- Deposit ---------------------------------------------------------------------------


def default_period_end(periodicity: str, today: date | None = None) -> date:
    """Monthly: the last day of the previous month. Weekly and daily: yesterday."""
    today = today or timezone.localdate()
    if periodicity == "M":
        return today.replace(day=1) - timedelta(days=1)
    return today - timedelta(days=1)


def _deposit(run: ExchangeRun) -> None:
    periodicity = run.periodicities or "M"
    period_end = run.period_end or default_period_end(periodicity)
    if run.period_end is None:
        save_fields(run, period_end=period_end)
    # Before producing anything: without a server to send to, no file is generated and archived.
    config = ExchangeConfig.from_settings()
    exports = CgpemExport.objects.filter(periodicity=periodicity, period_end=period_end).order_by("-id")
    export = exports.filter(deposited_at__isnull=False).first()
    if export is not None:
        save_fields(
            run,
            file_name=export.file_name,
            sha256=export.sha256,
            cgpem_export_id=export.pk,
            files=[_export_entry(export, "already_deposited")],
            counts={"deposited": 0, "records": export.records},
        )
        _succeed(run)
        return
    # Generated once per period, then only sent: a redelivered task sends the same bytes.
    export = exports.first()
    if export is None:
        try:
            export = generate_cgpem(
                periodicity, period_end, created_by=_import_started_by(run)[:30], user=run.user
            )
        except CgpemError as exc:
            fail(run, _("Fichier CGPEM non produit : %(reason)s") % {"reason": exc})
            return
    path = archived_path(export)
    if path is None or not path.is_file():
        fail(
            run,
            _("Le fichier archivé %(name)s est introuvable.") % {"name": export.file_name},
            kind=ErrorKind.CRASH,
        )
        return
    # Recorded before the PUT: if the worker dies after the server stored the
    # file, the redelivered run recognises the 409 as its own deposit.
    sent_before = (run.file_name, run.sha256) == (export.file_name, export.sha256) or (
        ExchangeRun.objects.filter(
            direction=Direction.DEPOSIT, file_name=export.file_name, sha256=export.sha256
        )
        .exclude(pk=run.pk)
        .exists()
    )
    save_fields(
        run,
        file_name=export.file_name,
        sha256=export.sha256,
        cgpem_export_id=export.pk,
        files=[_export_entry(export, "sending")],
        progress_done=0,
        progress_total=1,
        heartbeat_at=timezone.now(),
    )
    client = ExchangeClient(config)
    try:
        client.deposit(export.file_name, path)
        status = "deposited"
    except DepositConflict:
        if not sent_before or _other_sha_sent(export.file_name, export.sha256):
            fail(
                run,
                _(
                    "Le serveur a déjà un fichier %(name)s dont le contenu n'est pas celui que nous avons "
                    "envoyé : contactez France Travail avant tout nouveau dépôt."
                )
                % {"name": export.file_name},
            )
            return
        status = "already_deposited"
    CgpemExport.objects.filter(pk=export.pk, deposited_at__isnull=True).update(deposited_at=timezone.now())
    save_fields(
        run,
        files=[_export_entry(export, status)],
        counts={"deposited": 1 if status == "deposited" else 0, "records": export.records},
        progress_done=1,
    )
    _succeed(run)


def _other_sha_sent(name: str, sha256: str) -> bool:
    """Did one of our runs send another content under this name?"""
    return (
        ExchangeRun.objects.filter(direction=Direction.DEPOSIT, file_name=name)
        .exclude(sha256=sha256)
        .exclude(sha256="")
        .exists()
    )


def _export_entry(export, status: str) -> dict:
    entry = {"name": export.file_name, "sha256": export.sha256, "status": status, "records": export.records}
    base = Path(settings.EXCHANGE_FILES_DIR).resolve()
    path = Path(export.path).resolve()
    if path.is_relative_to(base):
        entry["archive"] = str(path.relative_to(base))
    return entry
