"""Import a PECGM file: validate it whole, reconcile every record, keep the history, report.

The steps, in order:

1. SHA-256 of the file: a file already imported is a duplicate, recorded as
   such, and nothing is parsed or changed.
2. The import lock (`import_lock`): two imports never run at once; the
   second is refused with a French message.
3. A first, read-only pass (`PecgmReader.records()` to the end): any
   structural problem, or more than `settings.PECGM_MAX_REJECT_RATIO` of the
   records rejected, refuses the whole file. Nothing has been written yet.
4. A second pass writes everything in ONE transaction, in batches, from
   in-memory indexes built once (`Matcher`, the current situations): no
   query per record. A crash rolls it all back.

A refused or crashed attempt is still an `ImportRun` (status `rejected`, with
its errors), saved outside the rolled-back transaction.

Personal data never goes into logs or exception messages: runs and record
numbers only.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from beneficiaries.dashboard import invalidate_dashboard
from beneficiaries.models import Beneficiary, Source
from exchanges.followup import (
    PECGM_ATTRS,
    Situation,
    clean_values,
    derive_status,
    events_between,
    has_unknown_codes,
    newest_stock_date,
)
from exchanges.matching import Matcher, MatchResult
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
    StatusEvent,
)
from exchanges.pecgm_reader import FileRejected, RecordIssue, read_pecgm

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000
# How often (in records) the progress is published.
PROGRESS_EVERY = 2000
# Errors kept on a refused file: enough to understand it, not a copy of a broken file.
MAX_STORED_ERRORS_ON_REJECT = 1000
# PostgreSQL advisory lock key of the PECGM import ("PECGM" in ASCII).
ADVISORY_LOCK_KEY = 0x5045_4347_4D
# SQLite has no advisory lock: a "running" run younger than this blocks another import.
RUNNING_TIMEOUT = timedelta(hours=6)
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
# The error of a run left "running" by a dead worker: the file was never judged,
# so the exchange automation fetches and imports it again (exchanges.transfers).
INTERRUPTED_MESSAGE = "Import interrompu."


# --- Entry point --------------------------------------------------------------------


def import_pecgm(
    path: str | Path,
    *,
    started_by: str = "command",
    user=None,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
    file_name: str | None = None,
) -> ImportRun:
    """Import one PECGM file and return its run (`run.summary()` is the `--json` report).

    Raises ImportBusy when another import is running. With `dry_run`, all is
    done in a transaction that is rolled back: the run returned is not saved.
    """
    path = Path(path)
    digest, size = _fingerprint(path)
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
        return _import(path, run, progress)


def _import(path: Path, run: ImportRun, progress: Callable[[int, int], None] | None) -> ImportRun:
    run.progress_total = 2 * _count_details(path)
    reporter = _Progress(run, progress)
    errors: list[RecordIssue] = []
    try:
        # Pass 1: read everything, write nothing.
        reader = read_pecgm(path, file_name=run.file_name)
        run.reference_date = reader.header.reference_date
        run.periodicity = reader.header.periodicity
        rejected_numbers: set[int] = set()
        for record in reader.records():
            run.records += 1
            if record.errors:
                errors.extend(record.errors)
                rejected_numbers.add(record.number)
            reporter.tick()
        run.rejected_records = len(rejected_numbers)
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
        reporter.total = 2 * run.records
        reporter.processed = run.records

        # Pass 2: write, in one transaction.
        with transaction.atomic():
            if run.dry_run:
                run.save()  # rolled back below, with everything else
            _Writer(run, reporter).write(reader.records())
            if run.dry_run:
                transaction.set_rollback(True)
        if run.dry_run:
            run.pk = None
        run.imported = run.records - run.rejected_records
        run.status = ImportStatus.IMPORTED_WITH_REJECTS if errors else ImportStatus.IMPORTED
        run.finished_at = timezone.now()
        run.progress_processed = run.progress_total = reporter.total
        if run.dry_run:
            run._pending_errors = [_error_dict(issue) for issue in errors]
        else:
            run.save()
            invalidate_dashboard()  # the caseworker pages' cached counts
            ImportReject.objects.bulk_create(
                (_reject_row(run, issue, RejectLevel.ERROR) for issue in errors), batch_size=BATCH_SIZE
            )
        logger.info("PECGM import: run %s %s (%s records)", run.pk, run.status, run.records)
        return run
    except FileRejected as exc:
        issue = RecordIssue(exc.record, exc.field or "", "", exc.message)
        kept = [issue, *errors[: MAX_STORED_ERRORS_ON_REJECT - 1]]
        _finish_rejected(run, kept, exc.message)
        logger.info("PECGM import: run %s rejected (record %s)", run.pk, exc.record)
        return run
    except Exception:
        _finish_rejected(run, [], _("Erreur interne pendant l'import : rien n'a été enregistré."))
        logger.exception("PECGM import: run %s failed, rolled back", run.pk)
        raise
    finally:
        reporter.close()


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


def _fingerprint(path: Path) -> tuple[str, int]:
    """SHA-256 and size: all a duplicate costs (a re-delivery must be cheap)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _count_details(path: Path) -> int:
    """A quick count of DETAIL tags, for the progress bar before the footer is read."""
    count = 0
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            window = tail + chunk
            count += window.count(b"<DETAIL>")
            # Keep the last bytes so that a tag cut between two chunks is counted once.
            tail = window[-7:]
    return count


@contextmanager
def import_lock(run: ImportRun):
    """Hold the PECGM import lock, or raise ImportBusy.

    PostgreSQL: a session advisory lock, released even if the process dies.
    SQLite: its IMMEDIATE write transactions serialise the check of running
    runs (a crashed run stops blocking after RUNNING_TIMEOUT).
    """
    lock = _advisory_lock if connection.vendor == "postgresql" else _running_run_lock
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
        ImportRun.objects.filter(status=ImportStatus.RUNNING).update(
            status=ImportStatus.REJECTED,
            error_message=_(INTERRUPTED_MESSAGE),
            finished_at=timezone.now(),
        )
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])


@contextmanager
def _running_run_lock(run: ImportRun):
    with transaction.atomic():
        if ImportRun.objects.filter(
            status=ImportStatus.RUNNING, started_at__gte=timezone.now() - RUNNING_TIMEOUT
        ).exists():
            raise ImportBusy(BUSY_MESSAGE)
        if not run.dry_run:
            # Claimed inside the same write transaction: a second import sees it.
            run.save()
    yield


class _Progress:
    """Counts records and publishes (processed, total) for the progress bar.

    The write pass runs inside a transaction that others cannot see into: on
    PostgreSQL the figures go through a second connection; on SQLite (one
    writer at a time) they are published between the two passes only.
    """

    def __init__(self, run: ImportRun, callback: Callable[[int, int], None] | None):
        self.run, self.callback = run, callback
        self.processed, self.total = 0, run.progress_total
        self._side = None

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
            if self._side is None:
                self._side = connections.create_connection("default")
            with self._side.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {ImportRun._meta.db_table} SET progress_processed = %s, progress_total = %s "  # noqa: S608
                    "WHERE id = %s",
                    [self.processed, total, self.run.pk],
                )

    def close(self) -> None:
        if self._side is not None:
            self._side.close()
            self._side = None


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


class _Table:
    """Fast inserts of plain rows: COPY on PostgreSQL, bulk_create elsewhere.

    Rows are tuples in `columns` order (attribute names: `beneficiary_id`);
    building 150 000 model instances of 50 fields would cost more than the
    parse itself.
    """

    def __init__(self, model, columns: tuple[str, ...]):
        self.model, self.columns = model, columns
        db_columns = ", ".join(
            connection.ops.quote_name(model._meta.get_field(name).column) for name in columns
        )
        self.copy_sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({db_columns}) FROM STDIN"

    def insert(self, rows: list[tuple]) -> None:
        if not rows:
            return
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor, cursor.cursor.copy(self.copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            self.model.objects.bulk_create(
                [self.model(**dict(zip(self.columns, row, strict=True))) for row in rows], batch_size=500
            )


@dataclass
class _Pending:
    """One batch, written together."""

    beneficiaries: list[Beneficiary] = field(default_factory=list)
    snapshots: list[tuple] = field(default_factory=list)
    # (snapshot id, record number, reason, candidate ids, created beneficiary id, identity received)
    reviews: list[tuple[int, int, str, list[int], int | None, dict]] = field(default_factory=list)
    # beneficiary id -> follow-up row
    followups: dict[int, tuple] = field(default_factory=dict)
    events: list[tuple] = field(default_factory=list)
    warnings: list[tuple] = field(default_factory=list)


class _Writer:
    def __init__(self, run: ImportRun, reporter: _Progress):
        self.run = run
        self.reporter = reporter
        self.day: date = run.reference_date
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
        self.matcher = Matcher.from_database()
        self.situations: dict[int, Situation] = {
            beneficiary_id: Situation(day, status, category, structure, absent)
            for beneficiary_id, day, status, category, structure, absent in FollowUp.objects.values_list(
                "beneficiary_id",
                "reference_date",
                "status",
                "category",
                "main_structure_name",
                "absent_from_last_stock",
            ).iterator(chunk_size=5000)
        }
        self.beneficiary_ids = _IdAllocator(Beneficiary)
        self.snapshot_ids = _IdAllocator(JobSeekerSnapshot)
        self.tables = {
            "snapshots": _Table(JobSeekerSnapshot, SNAPSHOT_COLUMNS),
            "followups": _Table(FollowUp, FOLLOWUP_COLUMNS),
            "events": _Table(StatusEvent, EVENT_COLUMNS),
            "warnings": _Table(ImportReject, REJECT_COLUMNS),
        }
        self.pending = _Pending()

    def write(self, records: Iterable) -> None:
        run_id = self.run.pk
        for record in records:
            self.reporter.tick()
            for issue in record.warnings:
                self.pending.warnings.append(
                    (
                        run_id,
                        RejectLevel.WARNING,
                        issue.record,
                        _field_name(issue.field),
                        str(issue.value or ""),
                        issue.message,
                    )
                )
                self.run.warnings += 1
            if record.errors:
                continue
            self.add(record.number, clean_values(record.values))
            if len(self.pending.snapshots) >= BATCH_SIZE:
                self.flush()
        self.flush()
        if self.stock and not self.is_late:
            self.mark_absent()

    def add(self, number: int, values: dict) -> None:
        result: MatchResult = self.matcher.match(**{name: values[name] for name in _MATCH_ARGS})
        snapshot_id = self.snapshot_ids.next()
        data = tuple(values[attr] for attr in PECGM_ATTRS)
        if result.is_match:
            beneficiary_id = result.beneficiary_id
            counter = MATCH_COUNTERS[result.rule]
            setattr(self.run, counter, getattr(self.run, counter) + 1)
        elif result.needs_review:
            self.run.review += 1
            self.pending.snapshots.append(
                (snapshot_id, None, self.run.pk, number, self.day, self.run.periodicity, "", *data)
            )
            self.pending.reviews.append(
                (snapshot_id, number, result.review_reason, result.candidates, None, _identity(values))
            )
            return
        else:
            beneficiary_id = self.new_beneficiary(values)
            self.run.created += 1
            self.run.review += 1
            self.pending.reviews.append(
                (snapshot_id, number, ReviewReason.CREATED_FROM_FT, [], beneficiary_id, _identity(values))
            )
        self.pending.snapshots.append(
            (
                snapshot_id,
                beneficiary_id,
                self.run.pk,
                number,
                self.day,
                self.run.periodicity,
                result.rule if result.is_match else "",
                *data,
            )
        )
        self.matcher.add_ft_identifier(beneficiary_id, values["ft_institution_code"], values["ft_identifier"])
        self.follow(beneficiary_id, snapshot_id, values, data)

    def new_beneficiary(self, values: dict) -> int:
        beneficiary = Beneficiary(
            id=self.beneficiary_ids.next(),
            source=Source.FRANCE_TRAVAIL,
            birth_date=values["birth_date"],
            **{name: values[name] or "" for name in _BENEFICIARY_FIELDS},
        )
        beneficiary.refresh_keys()
        self.matcher.add(beneficiary)  # a second record of the same person finds them
        self.pending.beneficiaries.append(beneficiary)
        return beneficiary.pk

    def follow(self, beneficiary_id: int, snapshot_id: int, values: dict, data: tuple) -> None:
        """Make this record the beneficiary's current situation, unless a newer one is known."""
        old = self.situations.get(beneficiary_id)
        if old is not None and old.reference_date and old.reference_date > self.day:
            return
        status = derive_status(values)
        new = Situation(self.day, status, values["category"], values["main_structure_name"], self.absent)
        self.situations[beneficiary_id] = new
        self.pending.followups[beneficiary_id] = (
            beneficiary_id,
            status,
            self.day,
            self.run.periodicity,
            snapshot_id,
            self.absent,
            has_unknown_codes(values),
            self.now,
            *data,
        )
        if self.has_history and not self.is_late:
            for event in events_between(old, new, values, stock=self.stock):
                event.update(beneficiary_id=beneficiary_id, run_id=self.run.pk)
                self.pending.events.append(tuple(event.get(name, "") for name in EVENT_COLUMNS))

    def flush(self) -> None:
        pending, self.pending = self.pending, _Pending()
        Beneficiary.objects.bulk_create(pending.beneficiaries, batch_size=500)
        self.tables["snapshots"].insert(pending.snapshots)
        reviews = [
            ReviewCase(
                run=self.run,
                snapshot_id=snapshot_id,
                record_number=number,
                reason=reason,
                beneficiary_id=created_id,
                values=identity,
            )
            for snapshot_id, number, reason, _candidates, created_id, identity in pending.reviews
        ]
        ReviewCase.objects.bulk_create(reviews, batch_size=500)
        Through = ReviewCase.candidates.through
        Through.objects.bulk_create(
            [
                Through(reviewcase_id=case.pk, beneficiary_id=candidate)
                for case, pending_review in zip(reviews, pending.reviews, strict=True)
                for candidate in pending_review[3]
            ],
            batch_size=500,
        )
        # A follow-up is replaced whole: its primary key is the beneficiary's.
        if pending.followups:
            FollowUp.objects.filter(beneficiary_id__in=list(pending.followups))._raw_delete(connection.alias)
        self.tables["followups"].insert(list(pending.followups.values()))
        self.tables["events"].insert(pending.events)
        self.tables["warnings"].insert(pending.warnings)

    def mark_absent(self) -> None:
        """Those whose newest data predates this stock are absent from it (a flux's silence means nothing)."""
        leaving = FollowUp.objects.filter(reference_date__lt=self.day, absent_from_last_stock=False)
        if self.has_history:
            self.tables["events"].insert(
                [
                    (beneficiary_id, self.run.pk, EventKind.LEFT_STOCK, self.day, "", "", "", "")
                    for beneficiary_id in leaving.values_list("beneficiary_id", flat=True).iterator(
                        chunk_size=5000
                    )
                ]
            )
        leaving.update(absent_from_last_stock=True)


def _identity(values: dict) -> dict:
    return {name: _json_value(values[name]) for name in REVIEW_VALUES}


_MATCH_ARGS = (
    "nir",
    "birth_name",
    "usage_name",
    "first_name",
    "birth_date",
    "caf_number",
    "msa_number",
    "ft_identifier",
    "ft_institution_code",
)
# The beneficiary fields a person known only from France Travail gets from the record.
_BENEFICIARY_FIELDS = (
    "nir",
    "birth_name",
    "usage_name",
    "first_name",
    "caf_number",
    "msa_number",
    "commune_code",
)

assert set(_MATCH_ARGS) <= set(PECGM_ATTRS) and set(_BENEFICIARY_FIELDS) <= set(PECGM_ATTRS)


def _json_value(value):
    return value.isoformat() if isinstance(value, date) else value


class _IdAllocator:
    """Primary keys of rows created during the import, known before their batch is written.

    A person may appear twice in one file (a flux): the second record must
    find the first, hence an id at once; snapshots are pointed at by review
    cases and follow-ups, and COPY hands back no ids. PostgreSQL gives
    sequence values; SQLite (one writer, inside our transaction) counts from
    the current maximum.
    """

    def __init__(self, model):
        self.model = model
        self.free: list[int] = []
        self.last: int | None = None

    def next(self) -> int:
        if connection.vendor == "postgresql":
            if not self.free:
                table = self.model._meta.db_table
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                        [table, BATCH_SIZE],
                    )
                    self.free = [row[0] for row in cursor.fetchall()][::-1]
            return self.free.pop()
        if self.last is None:
            self.last = self.model.objects.order_by("-id").values_list("id", flat=True).first() or 0
        self.last += 1
        return self.last
