"""Import a PECGM file: validate it whole, reconcile every record, keep the history, report.

The steps, in order:

1. SHA-256 of the file: a file already imported is a duplicate, recorded as
   such, and nothing is parsed or changed.
2. The import lock (`import_lock`): two imports never run at once; the
   second is refused with a French message.
3. ONE pass in ONE transaction: each record is read and checked; records are
   matched and written by batches (`_Writer`): the people a batch's records
   may be, and their current situations, are read in a few queries while
   the batch before is matched (no query per record, and no index of every
   beneficiary in memory: the import's memory does not grow with the
   Département's file of people). Any structural
   problem, even at the end of the file, or more than
   `settings.PECGM_MAX_REJECT_RATIO` of the records rejected, or a monthly
   stock far smaller than the previous one (`settings.PECGM_MIN_STOCK_RATIO`),
   raises inside the transaction and refuses the whole file: nothing of it
   stays. A crash rolls it all back the same way.

A refused attempt is still an `ImportRun` (status `rejected`, with its errors),
saved outside the rolled-back transaction; a crashed one (connection lost,
disk full: not the file's fault) is `interrupted`, with its cause.

Personal data never goes into logs or exception messages: runs and record
numbers only.
"""

from __future__ import annotations

import fcntl
import gc
import hashlib
import json
import logging
import operator
import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from beneficiaries.models import Beneficiary, Source
from beneficiaries.versioned_cache import invalidate_dashboard
from beneficiaries.warming import warm_counts_after_import
from exchanges import table_statistics
from exchanges.faults import durably, infrastructure_cause
from exchanges.followup import (
    DATE_ATTRS,
    PECGM_ATTRS,
    Situation,
    clean_values,
    derive_status,
    events_between,
    has_unknown_codes,
    newest_stock_date,
)
from exchanges.matching import (
    Keys,
    Matcher,
    MatchResult,
    ft_key,
    keys_of,
)
from exchanges.models import (
    SUCCESSFUL_STATUSES,
    EventKind,
    FollowUp,
    ImportReject,
    ImportRun,
    ImportStatus,
    JobSeekerSnapshot,
    MatchRule,
    RejectLevel,
    ReviewCase,
    ReviewReason,
    ReviewStatus,
    StatusEvent,
)
from exchanges.pecgm_reader import FileRejected, RecordIssue, read_pecgm
from exchanges.review import BENEFICIARY_FIELDS

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000
# COPY's text format for NULL.
NULL = "\\N"
# How often (in records) the progress is published.
PROGRESS_EVERY = 2000
# Errors kept on a refused file: enough to understand it, not a copy of a broken file.
MAX_STORED_ERRORS_ON_REJECT = 1000
# Errors kept in memory while reading: all of them while the file may still be
# accepted (each is stored), then no more than this (the file will be refused).
MAX_STORED_ERRORS = MAX_STORED_ERRORS_ON_REJECT
# PostgreSQL advisory lock key of the PECGM import ("PECGM" in ASCII).
ADVISORY_LOCK_KEY = 0x5045_4347_4D
# SQLite has no advisory lock: the import holds an OS lock on this file in DATA_DIR.
LOCK_FILE_NAME = "pecgm-import.lock"
# The identity kept on a review case, to show the admin what was received.
REVIEW_VALUES = (
    "nir",
    "birth_name",
    "usage_name",
    "first_name",
    "birth_date",
    "caf_number",
    "msa_number",
    "ft_institution_code",
    "ft_identifier",
    "commune_code",
)
MATCH_COUNTERS = {
    MatchRule.NIR: "matched_nir",
    MatchRule.FT_IDENTIFIER: "matched_ft_identifier",
    MatchRule.CAF_MSA: "matched_caf_msa",
    MatchRule.NAME: "matched_name",
    MatchRule.CONFIRMED: "matched_confirmed",
}


class ImportBusy(Exception):
    """Another import holds the lock."""


BUSY_MESSAGE = "Un autre import PECGM est en cours : réessayez quand il sera terminé."
# The cause of a run left "running" by a dead worker (status `interrupted`: the file
# was never judged, so the exchange automation fetches and imports it again).
INTERRUPTED_MESSAGE = "Import interrompu : le processus qui l'exécutait s'est arrêté."


# --- Entry point --------------------------------------------------------------------


def import_pecgm(
    path: str | Path,
    *,
    started_by: str = "command",
    user=None,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
    file_name: str | None = None,
    counts_computed_next: bool = False,
    force_small_stock: bool = False,
) -> ImportRun:
    """Import one PECGM file and return its run (`run.summary()` is the `--json` report).

    Raises ImportBusy when another import is running. With `dry_run`, all is
    done in a transaction that is rolled back: the run returned is not saved.
    `counts_computed_next`: the caller computes the pages' counts once the import
    is done (beneficiaries.warming); the pages keep the previous ones until then.
    `force_small_stock`: import a monthly stock even if it is much smaller than the
    previous one (`_check_stock_size`); only an operator's command sets it.
    """
    path = Path(path)
    digest, size, details = _fingerprint(path)
    run = ImportRun(
        file_name=file_name or path.name, sha256=digest, size=size, started_by=started_by, user=user
    )
    run.dry_run = dry_run
    with import_lock(run):
        previous = ImportRun.objects.filter(sha256=digest, status__in=SUCCESSFUL_STATUSES).first()
        if previous is not None:
            run.status = ImportStatus.DUPLICATE
            run.reference_date, run.periodicity = previous.reference_date, previous.periodicity
            run.finished_at = timezone.now()
            run._pending_errors = []
            if not dry_run:
                run.save()
            logger.info("PECGM import: run %s is a duplicate of run %s", run.pk, previous.pk)
            return run
        if not dry_run:
            run.save()
        with _fewer_collections():
            return _import(path, run, progress, details, counts_computed_next, force_small_stock)


def after_imports(records: int) -> None:
    """What follows imports made with `counts_computed_next=True`, once for all of them.

    The planner's statistics of the tables they outgrew (exchanges.table_statistics), then
    the pages' counts (beneficiaries.warming), which the pages wait for on the previous
    ones. Not inside import_pecgm(): the import's time is the import's, and an exchange run
    of several files needs this once.
    """
    table_statistics.analyze_outgrown(table_statistics.IMPORTED_MODELS, records)
    warm_counts_after_import()


def _import(
    path: Path,
    run: ImportRun,
    progress: Callable[[int, int], None] | None,
    details: int,
    counts_computed_next: bool,
    force_small_stock: bool,
) -> ImportRun:
    run.progress_total = details
    reporter = _Progress(run, progress)
    errors: list[RecordIssue] = []
    notes: list[RecordIssue] = []  # warnings about the whole file
    try:
        reader = read_pecgm(path, file_name=run.file_name)
        run.reference_date = reader.header.reference_date
        run.periodicity = reader.header.periodicity
        # Read now: once the writer starts, the connection belongs to it (PostgreSQL).
        previous_stock = _previous_stock(run.reference_date) if run.periodicity == "M" else None
        # One pass, in one transaction: records are written as they are read, and
        # anything that refuses the file (a truncated end, a wrong footer, too many
        # rejects) raises inside the transaction, which rolls everything back. The
        # file is thus judged whole before anything of it becomes visible, without
        # being read twice.
        with transaction.atomic():
            if run.dry_run:
                run.save()  # rolled back below, with everything else
            with _Writer(run, reporter) as writer:
                for record in reader.records():
                    run.records += 1
                    reporter.tick()
                    if record.errors:
                        run.rejected_records += 1
                        if len(errors) < MAX_STORED_ERRORS or run.rejected_records <= _allowed_rejects(run):
                            errors.extend(record.errors)
                    writer.add(record)
                _check_reject_ratio(run)
                notes += _check_stock_size(run, previous_stock, force_small_stock)
                writer.finish()
            if run.dry_run:
                transaction.set_rollback(True)
        if run.dry_run:
            run.pk = None
        run.imported = run.records - run.rejected_records
        run.warnings += len(notes)
        run.status = ImportStatus.IMPORTED_WITH_REJECTS if errors else ImportStatus.IMPORTED
        run.finished_at = timezone.now()
        run.progress_processed = run.progress_total = max(run.records, 1)
        reporter.processed, reporter.total = run.records, run.records
        if run.dry_run:
            run._pending_errors = [_error_dict(issue) for issue in errors]
        else:
            run.save()
            invalidate_dashboard(computed_next=counts_computed_next)  # the pages' cached counts
            ImportReject.objects.bulk_create(
                (_reject_row(run, issue, RejectLevel.ERROR) for issue in errors), batch_size=BATCH_SIZE
            )
            ImportReject.objects.bulk_create(_reject_row(run, issue, RejectLevel.WARNING) for issue in notes)
        logger.info("PECGM import: run %s %s (%s records)", run.pk, run.status, run.records)
        return run
    except FileRejected as exc:
        issue = RecordIssue(exc.record, exc.field or "", "", exc.message)
        kept = [issue, *errors[: MAX_STORED_ERRORS_ON_REJECT - 1]]
        _finish_rejected(run, kept, exc.message)
        logger.info("PECGM import: run %s rejected (record %s)", run.pk, exc.record)
        return run
    except Exception as exc:
        # Not the file's fault (connection lost, disk full, a bug of ours): interrupted, and
        # the next attempt imports the file again (exchanges.faults).
        _finish_interrupted(run, infrastructure_cause(exc))
        logger.exception("PECGM import: run %s interrupted, rolled back", run.pk)
        raise
    finally:
        reporter.close()


def _allowed_rejects(run: ImportRun) -> int:
    """How many rejected records the file may have, from its announced size (the footer comes last)."""
    return int(settings.PECGM_MAX_REJECT_RATIO * max(run.progress_total, run.records)) + 1


def _check_reject_ratio(run: ImportRun) -> None:
    ratio = run.rejected_records / run.records if run.records else 0.0
    if ratio > settings.PECGM_MAX_REJECT_RATIO:
        raise FileRejected(
            _(
                "%(file)s : %(rejected)d enregistrements rejetés sur %(records)d (%(ratio).1f %%), "
                "au-delà du seuil de %(max).1f %% : le fichier entier est refusé"
            )
            % {
                "file": run.file_name,
                "rejected": run.rejected_records,
                "records": run.records,
                "ratio": 100 * ratio,
                "max": 100 * settings.PECGM_MAX_REJECT_RATIO,
            }
        )


def _previous_stock(reference_date: date) -> ImportRun | None:
    """The accepted stock a new one is compared with: the newest up to its reference date
    (of that date, the last imported: a corrected stock replaces the first). A late older
    month is compared with the month before it, not with a newer one."""
    return (
        ImportRun.objects.filter(
            periodicity="M", status__in=SUCCESSFUL_STATUSES, reference_date__lte=reference_date
        )
        .order_by("-reference_date", "-id")
        .first()
    )


def _check_stock_size(run: ImportRun, previous: ImportRun | None, forced: bool) -> list[RecordIssue]:
    """Refuse a monthly stock much smaller than the previous one, unless an operator forces it.

    A stock replaces the previous picture: whoever is missing from it is marked
    absent, with a "left" event. An empty or partial file (an extraction gone
    wrong at France Travail: a well-formed file, with a footer that agrees)
    would thus "remove" most of the Département's job seekers at once. Real stocks move by
    a few per cent a month. The first stock has nothing to be compared with.
    Returns the note kept on the run when the operator forced it.
    """
    if previous is None or run.records >= settings.PECGM_MIN_STOCK_RATIO * previous.records:
        return []
    figures = {
        "file": run.file_name,
        "records": run.records,
        # French: 0 and 1 take the singular.
        "records_word": "enregistrements" if run.records > 1 else "enregistrement",
        "ratio": 100 * settings.PECGM_MIN_STOCK_RATIO,
        "previous": previous.records,
        "previous_file": previous.file_name,
        "previous_date": f"{previous.reference_date:%d/%m/%Y}",
    }
    if forced:
        logger.warning(
            "PECGM import: run %s, stock of %s records forced (previous stock: %s)",
            run.pk,
            run.records,
            previous.records,
        )
        message = _(
            "Stock mensuel de %(records)d %(records_word)s importé malgré sa taille, moins de %(ratio)g %% "
            "des %(previous)d du stock précédent (%(previous_file)s, données au %(previous_date)s) : "
            "import forcé par l'option --force-small-stock."
        )
        return [RecordIssue(None, "NB_ENREGISTREMENTS", str(run.records), message % figures)]
    raise FileRejected(
        _(
            "Fichier %(file)s refusé : champ NB_ENREGISTREMENTS, stock mensuel de %(records)d "
            "%(records_word)s, moins de %(ratio)g %% des %(previous)d du stock précédent "
            "(%(previous_file)s, données au %(previous_date)s). Importé, il marquerait absents "
            "du stock tous les bénéficiaires qui n'y figurent pas : rien n'a été modifié. "
            "Vérifiez le fichier auprès de France Travail ; s'il est complet, faites-le importer "
            "en ligne de commande : python manage.py import_pecgm %(file)s --force-small-stock "
            "(seuil : réglage PECGM_MIN_STOCK_RATIO)."
        )
        % figures,
        field="NB_ENREGISTREMENTS",
    )


def _finish_rejected(run: ImportRun, issues: list[RecordIssue], message: str) -> None:
    run.status = ImportStatus.REJECTED
    run.error_message = message
    run.imported = run.matched_nir = run.matched_ft_identifier = run.matched_caf_msa = run.matched_name = 0
    run.matched_confirmed = 0
    run.created = run.review = run.warnings = 0
    run.finished_at = timezone.now()
    run._pending_errors = [_error_dict(issue) for issue in issues]
    if run.dry_run or run.pk is None:
        return
    run.save()
    ImportReject.objects.bulk_create(_reject_row(run, issue, RejectLevel.ERROR) for issue in issues)
    # The summary reads them back from the database like any other run's.
    del run._pending_errors


def _finish_interrupted(run: ImportRun, cause: str) -> None:
    run.status = ImportStatus.INTERRUPTED
    run.error_message = _("Import interrompu : %(cause)s Rien n'a été enregistré.") % {"cause": cause}
    run.imported = run.matched_nir = run.matched_ft_identifier = run.matched_caf_msa = run.matched_name = 0
    run.matched_confirmed = 0
    run.created = run.review = run.warnings = 0
    run.finished_at = timezone.now()
    run._pending_errors = []
    if run.dry_run or run.pk is None:
        return
    # Recorded even while the database that caused the fault is still restarting.
    durably(run.save, f"PECGM import run {run.pk}")


def _error_dict(issue: RecordIssue) -> dict:
    return {"record": issue.record, "field": issue.field, "message": issue.message}


def _field_name(field: str | None) -> str:
    # An unknown element's tag comes from the file: it must fit its column whatever its length.
    return (field or "")[: ImportReject._meta.get_field("field").max_length]


def _reject_row(run: ImportRun, issue: RecordIssue, level: str) -> ImportReject:
    return ImportReject(
        run=run,
        level=level,
        record_number=issue.record,
        field=_field_name(issue.field),
        value=str(issue.value or ""),
        message=issue.message,
    )


# --- Before parsing: fingerprint, lock, progress ------------------------------------------


def _fingerprint(path: Path) -> tuple[str, int, int]:
    """SHA-256, size, and a quick count of DETAIL tags (for the progress bar before the footer is read).

    One read of the file for all three: a duplicate costs this read only.
    """
    digest = hashlib.sha256()
    size = count = 0
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            window = tail + chunk[:7]
            # A tag cut between two chunks is in the window of the two ends, counted once.
            count += chunk.count(b"<DETAIL>") + window.count(b"<DETAIL>")
            tail = chunk[-7:]
    return digest.hexdigest(), size, count


# Objects (records, rows, matching indexes) an import allocates before the cycle
# collector looks at the youngest ones; Python's default is 700.
GC_YOUNG_THRESHOLD = 10_000


@contextmanager
def _fewer_collections():
    """Let the cycle collector run less often during an import.

    An import makes and drops millions of small objects, nearly none of them in
    a cycle (reference counting frees them), and keeps a few batches of them
    alive at once: with the default threshold the collector ran some 2 000
    times, twenty of them over every object of the process, for a tenth of the
    import's time. Memory stays bounded: it still runs, every GC_YOUNG_THRESHOLD
    objects kept.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(max(GC_YOUNG_THRESHOLD, thresholds[0]), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


@contextmanager
def import_lock(run: ImportRun):
    """Hold the PECGM import lock, or raise ImportBusy.

    Both locks belong to the importing process and end with it, however it ends:
    PostgreSQL's session advisory lock, SQLite's file lock (`_file_lock`). So a
    run still "running" when the lock is taken was left by a dead import.
    """
    lock = _advisory_lock if connection.vendor == "postgresql" else _file_lock
    with lock(run):
        yield


@contextmanager
def _advisory_lock(run: ImportRun):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        if not cursor.fetchone()[0]:
            raise ImportBusy(BUSY_MESSAGE)
    try:
        # A run left "running" by a crash is over: the lock proves nobody runs it.
        _mark_interrupted()
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])


def _lock_path() -> Path:
    return Path(settings.DATA_DIR) / LOCK_FILE_NAME


@contextmanager
def _file_lock(run: ImportRun):
    """SQLite (the embedded mode, one machine): an exclusive `flock` on a file in DATA_DIR.

    The kernel releases it when its holder's file is closed or its process dies,
    kill -9 and out-of-memory included: a run still "running" once we hold it was
    left by a dead import, and is marked interrupted at once. (A "running" run used
    to block every import for hours: a dead process leaves no other trace, and a
    PID recorded on the run may be reused, or live in another container.)
    """
    # "a": created if missing, never truncated; Python does not pass it to child processes.
    with _lock_path().open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ImportBusy(BUSY_MESSAGE) from None
        _mark_interrupted()
        yield
    # Closing the file released the lock.


def _mark_interrupted() -> None:
    """Under the import lock: a run still "running" is one whose import died."""
    ImportRun.objects.filter(status=ImportStatus.RUNNING).update(
        status=ImportStatus.INTERRUPTED,
        error_message=_(INTERRUPTED_MESSAGE),
        finished_at=timezone.now(),
    )


class _Progress:
    """Counts records and publishes (processed, total) for the progress bar.

    The import runs inside a transaction that others cannot see into: on
    PostgreSQL the figures go through the side connection (which the writer
    also uses for sequence values); on SQLite (one writer at a time) they show
    when the import ends.
    """

    def __init__(self, run: ImportRun, callback: Callable[[int, int], None] | None):
        self.run, self.callback = run, callback
        self.processed, self.total = 0, run.progress_total
        self.side = _SideConnection()

    def tick(self) -> None:
        self.processed += 1
        if self.processed % PROGRESS_EVERY == 0:
            self.publish()

    def publish(self) -> None:
        total = max(self.total, self.processed)
        if self.callback is not None:
            self.callback(self.processed, total)
        if self.run.pk is None or self.run.dry_run:
            return
        if not connection.in_atomic_block:
            ImportRun.objects.filter(pk=self.run.pk).update(
                progress_processed=self.processed, progress_total=total
            )
        elif connection.vendor == "postgresql":
            self.side.execute(
                f"UPDATE {ImportRun._meta.db_table} SET progress_processed = %s, progress_total = %s "  # noqa: S608
                "WHERE id = %s",
                [self.processed, total, self.run.pk],
            )

    def close(self) -> None:
        self.side.close()


# --- The write pass -----------------------------------------------------------------------


SNAPSHOT_COLUMNS = (
    "id",
    "beneficiary_id",
    "run_id",
    "record_number",
    "reference_date",
    "periodicity",
    "match_rule",
    *PECGM_ATTRS,
)
FOLLOWUP_COLUMNS = (
    "beneficiary_id",
    "status",
    "reference_date",
    "periodicity",
    "source_snapshot_id",
    "absent_from_last_stock",
    "has_unknown_codes",
    "updated_at",
    *PECGM_ATTRS,
)
EVENT_COLUMNS = (
    "beneficiary_id",
    "run_id",
    "kind",
    "date",
    "motive",
    "motive_label",
    "previous_value",
    "new_value",
)
REJECT_COLUMNS = ("run_id", "level", "record_number", "field", "value", "message")
# Every column of the model: a field added later is written too, not silently left out.
BENEFICIARY_COLUMNS = tuple(field.attname for field in Beneficiary._meta.concrete_fields)
REVIEW_COLUMNS = (
    "id",
    "run_id",
    "snapshot_id",
    "record_number",
    "reason",
    "beneficiary_id",
    "values",
    "status",
    "created_at",
    "resolution_note",
)
CANDIDATE_COLUMNS = ("reviewcase_id", "beneficiary_id")

# COPY's text format: a tab between columns, \N for NULL, and these escaped.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_PECGM_VALUES = operator.itemgetter(*PECGM_ATTRS)
_DATE_POSITIONS = tuple(position for position, attr in enumerate(PECGM_ATTRS) if attr in DATE_ATTRS)
_TABS = len(PECGM_ATTRS) - 1
# Dates as COPY writes them: a file holds a few thousand distinct ones at most.
_ISO_DATES: dict[date, str] = {}
_ISO_DATES_MAX = 100_000


def _copy_value(value) -> str:
    if value is None:
        return "\\N"
    if value.__class__ is str:
        return value.translate(_COPY_ESCAPES)
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, dict):
        return json.dumps(value).translate(_COPY_ESCAPES)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def _copy_line(row: tuple) -> str:
    return "\t".join([_copy_value(value) for value in row]) + "\n"


def _pecgm_copy_text(values: dict) -> str:
    """The PECGM columns of one record in COPY text, built once for its snapshot and its follow-up."""
    # A missing text is '' and a missing date NULL (as `clean_values` does): every
    # missing value first made '', then the dates put right, by position.
    row = [value or "" for value in _PECGM_VALUES(values)]
    nulls = 0
    for position in _DATE_POSITIONS:
        day = row[position]
        if day:
            text = _ISO_DATES.get(day)
            if text is None:
                text = day.isoformat()
                if len(_ISO_DATES) < _ISO_DATES_MAX:
                    _ISO_DATES[day] = text
            row[position] = text
        else:
            row[position] = NULL
            nulls += 1
    text = "\t".join(row)
    # A tab, a line break or a backslash inside a value (rare): escape value by value.
    # (The only backslashes expected are those of the NULL dates.)
    if "\n" in text or "\r" in text or text.count("\t") != _TABS or text.count("\\") != nulls:
        text = "\t".join(
            [
                part if position in _DATE_POSITIONS else part.translate(_COPY_ESCAPES)
                for position, part in enumerate(row)
            ]
        )
    return text


# The tables an import writes, in the order each batch writes them. (Foreign keys
# are checked at commit: a follow-up may name a beneficiary of the same batch.)
_TABLES = {
    "beneficiaries": (Beneficiary, BENEFICIARY_COLUMNS),
    "snapshots": (JobSeekerSnapshot, SNAPSHOT_COLUMNS),
    "reviews": (ReviewCase, REVIEW_COLUMNS),
    "candidates": (ReviewCase.candidates.through, CANDIDATE_COLUMNS),
    "followups": (FollowUp, FOLLOWUP_COLUMNS),
    "events": (StatusEvent, EVENT_COLUMNS),
    "warnings": (ImportReject, REJECT_COLUMNS),
}


class _Batch:
    """The rows of about BATCH_SIZE records, for every table: COPY text lines on
    PostgreSQL, tuples elsewhere. Follow-ups are keyed by beneficiary: the same
    person twice in a batch (a flux) keeps the later record."""

    def __init__(self):
        self.rows: dict[str, list] = {name: [] for name in _TABLES if name != "followups"}
        self.followups: dict[int, object] = {}

    def __len__(self) -> int:
        return len(self.rows["snapshots"])


def _copy_sql(model, columns: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    names = ", ".join(quote(model._meta.get_field(name).column) for name in columns)
    return f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN"


def _write_batch_copy(cursor, batch: _Batch, copy_sql: dict[str, str]) -> None:
    """PostgreSQL: each table's rows in one COPY; the follow-ups replaced whole."""
    for name in _TABLES:
        if name == "followups":
            if not batch.followups:
                continue
            # (The ids as one text: a list is made an array literal value by value, in Python.)
            cursor.execute(
                f"DELETE FROM {FollowUp._meta.db_table} "  # noqa: S608
                "WHERE beneficiary_id = ANY(string_to_array(%s, ',')::bigint[])",
                [",".join(map(str, batch.followups))],
            )
            lines = batch.followups.values()
        else:
            lines = batch.rows[name]
            if not lines:
                continue
        with cursor.copy(copy_sql[name]) as copy:
            copy.write("".join(lines))


def _write_batch_orm(batch: _Batch) -> None:
    """SQLite: bulk_create, table by table; the follow-ups replaced whole."""
    for name, (model, columns) in _TABLES.items():
        if name == "followups":
            rows = list(batch.followups.values())
            if rows:
                FollowUp.objects.filter(beneficiary_id__in=list(batch.followups))._raw_delete(
                    connection.alias
                )
        else:
            rows = batch.rows[name]
        if rows:
            model.objects.bulk_create(
                [model(**dict(zip(columns, row, strict=True))) for row in rows], batch_size=500
            )


class _Query(NamedTuple):
    """Queries for the writer thread to run in turn: `job(cursor)`, its result in `future`."""

    job: Callable
    future: Future


class _Cancelled(Exception):
    """The import stopped: what was still queued is not run."""


class _BackgroundWriter:
    """PostgreSQL: batches written by a thread on the import's own connection.

    While PostgreSQL stores a batch (indexes, the follow-ups' replacement) on
    the machine's other core, this process reads the next one: the writes no
    longer wait for the parse, nor the parse for the writes. The thread uses
    the connection alone while the file is read (`drain()` hands it back); a
    short queue keeps memory flat. Its errors are raised in the import.

    It also runs the queries that read the people of the batches to come
    (`call`), in turn with the writes: inside the import's transaction, they
    see every batch written before them.
    """

    def __init__(self):
        self.raw = connection.connection  # the psycopg connection, inside the transaction
        self.copy_sql = {name: _copy_sql(model, columns) for name, (model, columns) in _TABLES.items()}
        self.cancelled = False
        self.queue: queue.Queue = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="pecgm-import-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            try:
                if self.error is not None or self.cancelled:
                    raise self.error or _Cancelled()
                with self.raw.cursor() as cursor:
                    if item.__class__ is _Query:
                        item.future.set_result(item.job(cursor))
                    else:
                        _write_batch_copy(cursor, item, self.copy_sql)
            except BaseException as error:  # handed to the import's thread
                if self.error is None and not self.cancelled:
                    self.error = error
                if item.__class__ is _Query and not item.future.done():
                    item.future.set_exception(error)
            finally:
                self.queue.task_done()
        self.queue.task_done()

    def submit(self, batch: _Batch) -> None:
        self._raise()
        self.queue.put(batch)

    def call(self, job: Callable) -> Future:
        """Run `job(cursor)` after what is queued; its result (or error) comes in the future."""
        self._raise()
        future: Future = Future()
        self.queue.put(_Query(job, future))
        return future

    def drain(self) -> None:
        """Wait until every batch is written; the connection is the import's again."""
        self.queue.join()
        self._raise()

    def close(self, cancel: bool = False) -> None:
        """Stop the thread; with `cancel`, skip what it has not written (all is rolled back)."""
        self.cancelled = self.cancelled or cancel
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error


class _InlineWriter:
    """SQLite: the same interface, everything done at once on the import's connection."""

    def submit(self, batch: _Batch) -> None:
        _write_batch_orm(batch)

    def call(self, job: Callable) -> Future:
        future: Future = Future()
        with connection.cursor() as cursor:
            future.set_result(job(cursor))
        return future

    def drain(self) -> None:
        pass

    def close(self, cancel: bool = False) -> None:
        pass


class _Writer:
    """Writes the records of one file as they are read: see `_import`."""

    def __init__(self, run: ImportRun, reporter: _Progress):
        self.run = run
        self.reporter = reporter
        self.postgres = connection.vendor == "postgresql"
        self.day: date = run.reference_date
        self.day_text = self.day.isoformat()
        self.stock = run.periodicity == "M"
        previous_stock = newest_stock_date()
        self.newest_stock = max(
            filter(None, [previous_stock, self.day if self.stock else None]), default=None
        )
        # Events need something to compare with: the very first file sets the scene.
        self.has_history = ImportRun.objects.filter(status__in=SUCCESSFUL_STATUSES).exists()
        # An older stock imported late enters the history only.
        self.is_late = bool(previous_stock and self.day < previous_stock)
        self.absent = bool(self.newest_stock and self.day < self.newest_stock)
        self.now = timezone.now()
        self.now_text = self.now.isoformat()
        # While the file is read, the connection belongs to the background writer:
        # any query goes through it (`call`), in turn with the writes.
        self.matcher = Matcher.from_database(run_queries=self._query_now)
        self.beneficiary_ids = _IdAllocator(Beneficiary, reporter.side)
        self.snapshot_ids = _IdAllocator(JobSeekerSnapshot, reporter.side)
        self.review_ids = _IdAllocator(ReviewCase, reporter.side)
        self.batch = _Batch()
        self.background = _BackgroundWriter() if self.postgres else _InlineWriter()
        # Records read and not matched yet: the batch being read, and the batches
        # read whose people are being fetched (with the future of that fetch).
        self.reading: list = []
        self.read: deque[tuple[list, Future]] = deque()
        # Current situations this import set in the previous and the current batch (not
        # necessarily written yet); the others are read with the batch's people.
        self.recent_situations: list[dict[int, Situation | None]] = [{}]

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        self.background.close(cancel=exc is not None)

    def _query_now(self, job: Callable):
        """A query the batch's reading did not foresee (rare): run in turn, and waited for."""
        return self.background.call(job).result()

    # --- batches of records -------------------------------------------------
    #
    # Batch k is matched while the writer thread writes batch k-1 and then reads
    # the people of batch k+1. So the people read for a batch miss what the
    # import did in the batch before it and in itself: the matcher and the
    # situations keep that in memory (`recent`), two batches, no more.

    def add(self, record) -> None:
        self.reading.append(record)
        if len(self.reading) >= BATCH_SIZE:
            self._read_ahead()

    def _read_ahead(self) -> None:
        """A batch is read: have its people fetched, and match the batch read before it meanwhile."""
        records, self.reading = self.reading, []
        # Each record's matching keys, computed once (None for a rejected record).
        keys = [None if r.errors else keys_of(r.values) for r in records]
        job = self.matcher.prefetch_job([k for k in keys if k is not None])
        self.read.append((records, keys, self.background.call(job)))
        if len(self.read) > 1:
            self._match_batch(*self.read.popleft())

    def _match_batch(self, records: list, keys: list, fetched: Future) -> None:
        self.matcher.use(fetched.result())
        self.matcher.next_batch()
        self.recent_situations = [self.recent_situations[-1], {}]
        for record, k in zip(records, keys, strict=True):
            self._record(record, k)
        self.flush()

    def _situation(self, beneficiary_id: int) -> Situation | None:
        """The person's current situation: set by this import lately, or read with the batch's people."""
        for situations in reversed(self.recent_situations):
            if beneficiary_id in situations:
                return situations[beneficiary_id]
        followup = self.matcher.followup(beneficiary_id)
        if followup is None:
            return None
        institution, ident, *values = followup
        return Situation(*values, ft_key(institution, ident))

    def _record(self, record, keys: Keys | None) -> None:
        run_id = self.run.pk
        for issue in record.warnings:
            self._row(
                "warnings",
                (
                    run_id,
                    RejectLevel.WARNING,
                    issue.record,
                    _field_name(issue.field),
                    str(issue.value or ""),
                    issue.message,
                ),
            )
            self.run.warnings += 1
        if not record.errors:
            self._add(record.number, record.values, keys, bool(record.warnings))

    def _add(self, number: int, values: dict, keys: Keys, warned: bool) -> None:
        result: MatchResult = self.matcher.match_keys(keys)
        snapshot_id = self.snapshot_ids.next()
        data = _pecgm_copy_text(values) if self.postgres else tuple(clean_values(values).values())
        if result.is_match:
            beneficiary_id = result.beneficiary_id
            counter = MATCH_COUNTERS[result.rule]
            setattr(self.run, counter, getattr(self.run, counter) + 1)
            rule = result.rule
        elif result.needs_review:
            self.run.review += 1
            self._snapshot(snapshot_id, None, number, "", data)
            self._review(snapshot_id, number, result.review_reason, result.candidates, None, values)
            return
        else:
            beneficiary_id = self.new_beneficiary(values)
            self.run.created += 1
            self.run.review += 1
            self._review(snapshot_id, number, ReviewReason.CREATED_FROM_FT, [], beneficiary_id, values)
            rule = ""
        self._snapshot(snapshot_id, beneficiary_id, number, rule, data)
        self.matcher.add_ft_identifier(beneficiary_id, keys.ft, values["ft_identifier"])
        self.follow(beneficiary_id, snapshot_id, values, keys.ft, data, warned)

    def _row(self, table: str, row: tuple) -> None:
        self.batch.rows[table].append(_copy_line(row) if self.postgres else row)

    def _snapshot(self, snapshot_id: int, beneficiary_id: int | None, number: int, rule: str, data) -> None:
        if self.postgres:
            self.batch.rows["snapshots"].append(
                f"{snapshot_id}\t{beneficiary_id or NULL}\t{self.run.pk}\t{number}\t{self.day_text}\t"
                f"{self.run.periodicity}\t{rule}\t{data}\n"
            )
        else:
            self.batch.rows["snapshots"].append(
                (
                    snapshot_id,
                    beneficiary_id,
                    self.run.pk,
                    number,
                    self.day,
                    self.run.periodicity,
                    rule,
                    *data,
                )
            )

    def _review(self, snapshot_id, number, reason, candidates, created_id, values) -> None:
        review_id = self.review_ids.next()
        self._row(
            "reviews",
            (
                review_id,
                self.run.pk,
                snapshot_id,
                number,
                reason,
                created_id,
                _identity(values),
                ReviewStatus.OPEN,
                self.now,
                "",
            ),
        )
        for candidate in candidates:
            self._row("candidates", (review_id, candidate))

    def new_beneficiary(self, values: dict) -> int:
        beneficiary = Beneficiary(
            id=self.beneficiary_ids.next(),
            source=Source.FRANCE_TRAVAIL,
            **{name: values[name] or "" for name in BENEFICIARY_FIELDS},  # birth date required, never ""
        )
        beneficiary.created_at = beneficiary.updated_at = self.now
        self.matcher.add(beneficiary)  # a second record of the same person finds them (keys refreshed)
        self.recent_situations[-1][beneficiary.pk] = None  # no follow-up yet
        self._row("beneficiaries", tuple(getattr(beneficiary, name) for name in BENEFICIARY_COLUMNS))
        return beneficiary.pk

    def follow(self, beneficiary_id: int, snapshot_id: int, values: dict, ft, data, warned: bool) -> None:
        """Make this record the beneficiary's current situation, unless a newer one is known.

        `warned`: the reader found something odd in the record; an unknown code is
        always among such things, so a record without warnings has none.
        """
        old = self._situation(beneficiary_id)
        if old is not None and old.reference_date and old.reference_date > self.day:
            self.recent_situations[-1][beneficiary_id] = old
            if ft and ft != old.ft:
                # No follow-up will hold this identifier: the matcher keeps it (as it kept every one).
                self.matcher.keep_ft_identifier(beneficiary_id, ft)
            return
        if old is not None and old.ft and old.ft != ft:
            # The follow-up replaced held another identifier: still found until the end of the run.
            self.matcher.keep_ft_identifier(beneficiary_id, old.ft)
        status = derive_status(values)
        new = Situation(
            self.day,
            status,
            values["category"] or "",
            values["main_structure_name"] or "",
            self.absent,
            ft,
        )
        self.recent_situations[-1][beneficiary_id] = new
        unknown = warned and has_unknown_codes(values)
        if self.postgres:
            row = (
                f"{beneficiary_id}\t{status}\t{self.day_text}\t{self.run.periodicity}\t{snapshot_id}\t"
                f"{'t' if self.absent else 'f'}\t{'t' if unknown else 'f'}\t{self.now_text}\t{data}\n"
            )
        else:
            row = (
                beneficiary_id,
                status,
                self.day,
                self.run.periodicity,
                snapshot_id,
                self.absent,
                unknown,
                self.now,
                *data,
            )
        self.batch.followups.pop(beneficiary_id, None)  # the later record of a person wins
        self.batch.followups[beneficiary_id] = row
        if self.has_history and not self.is_late:
            for event in events_between(old, new, values, stock=self.stock):
                event.update(beneficiary_id=beneficiary_id, run_id=self.run.pk)
                self._row("events", tuple(event.get(name) or "" for name in EVENT_COLUMNS))

    # --- batches ------------------------------------------------------------

    def flush(self) -> None:
        batch, self.batch = self.batch, _Batch()
        self.background.submit(batch)

    def finish(self) -> None:
        """The file is read and accepted: match and write the last batches, then what needs the whole file."""
        if self.reading:
            self._read_ahead()
        while self.read:
            self._match_batch(*self.read.popleft())
        self.background.drain()
        if self.stock and not self.is_late:
            self.mark_absent()

    def mark_absent(self) -> None:
        """Those whose newest data predates this stock are absent from it (a flux's silence means nothing)."""
        leaving = FollowUp.objects.filter(reference_date__lt=self.day, absent_from_last_stock=False)
        if self.has_history:
            # One statement: the database makes the events from the follow-ups itself
            # (a tenth of a stock may leave: as many rows not built in Python).
            sql, params = leaving.values("beneficiary_id").query.sql_with_params()
            quote = connection.ops.quote_name
            columns = ", ".join(quote(StatusEvent._meta.get_field(name).column) for name in EVENT_COLUMNS)
            given = {"run_id": self.run.pk, "kind": EventKind.LEFT_STOCK, "date": self.day}
            # Each of EVENT_COLUMNS: the person, a value given here, or '' (motive, labels, values).
            selected = [
                "leaving.beneficiary_id" if name == "beneficiary_id" else "%s" if name in given else "''"
                for name in EVENT_COLUMNS
            ]
            values = [given[name] for name in EVENT_COLUMNS if name in given]
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {quote(StatusEvent._meta.db_table)} ({columns}) "  # noqa: S608
                    f"SELECT {', '.join(selected)} FROM ({sql}) AS leaving",
                    [*values, *params],
                )
        leaving.update(absent_from_last_stock=True)


def _identity(values: dict) -> dict:
    return {name: _json_value(values[name]) for name in REVIEW_VALUES}


assert set(BENEFICIARY_FIELDS) <= set(PECGM_ATTRS)


def _json_value(value):
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, date) else value


class _SideConnection:
    """A second PostgreSQL connection, outside the import's transaction, opened when first needed.

    It publishes the progress, and hands out sequence values while the main
    connection belongs to the background writer (sequences are not
    transactional: a rolled-back import only leaves gaps).
    """

    def __init__(self):
        self._connection = None

    def execute(self, sql: str, params: list) -> list[tuple]:
        if self._connection is None:
            self._connection = connections.create_connection("default")
            with self._connection.cursor() as cursor:
                # Progress figures and sequence values are not worth a wait for the disk on
                # each statement (the import's own commit still waits; a crash loses the run).
                cursor.execute("SET synchronous_commit TO off")
        with self._connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class _IdAllocator:
    """Primary keys of rows created during the import, known before their rows are written.

    A person may appear twice in one file (a flux): the second record must
    find the first, hence an id at once; snapshots are pointed at by review
    cases and follow-ups, and COPY hands back no ids. PostgreSQL gives
    sequence values (from a side connection: the main one is streaming);
    SQLite (one writer, inside our transaction) counts from the current maximum.
    """

    def __init__(self, model, side: _SideConnection):
        self.model = model
        self.side = side
        self.postgres = connection.vendor == "postgresql"
        self.free: list[int] = []
        self.last: int | None = None
        self.sequence: str | None = None
        # Values asked for at a time: doubled on each round trip (a big file asks a few
        # times, a small one wastes few values), up to this.
        self.block = BATCH_SIZE
        self.max_block = 8 * BATCH_SIZE

    def next(self) -> int:
        if self.postgres:
            if not self.free:
                if self.sequence is None:
                    self.sequence = self.side.execute(
                        "SELECT pg_get_serial_sequence(%s, 'id')", [self.model._meta.db_table]
                    )[0][0]
                # (The sequence named once: looking it up for each value took five times as long.)
                rows = self.side.execute(
                    "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [self.sequence, self.block]
                )
                self.block = min(2 * self.block, self.max_block)
                self.free = [row[0] for row in rows][::-1]
            return self.free.pop()
        if self.last is None:
            self.last = self.model.objects.order_by("-id").values_list("id", flat=True).first() or 0
        self.last += 1
        return self.last
