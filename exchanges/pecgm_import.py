"""Import a PECGM file: validate it whole, reconcile every record, keep the history, report.

This module is the orchestrator; it reads top to bottom as the import runs:

1. SHA-256 of the file: a file already imported is a duplicate, recorded as
   such, and nothing is parsed or changed.
2. The import lock (`import_lock`, a `tracked_runs.NamedLock`): two imports
   never run at once; the second is refused with a French message.
3. ONE pass in ONE transaction (`_import`): read each record
   (`exchanges.pecgm_reader`) → match it, by batches (`_Batches`: the people a
   batch's records may be, and their current situations, are read in a few
   queries while the batch before is matched; no index of every beneficiary
   in memory) → the record step (`exchanges.pecgm_step`: the rows one record
   produces, no database) → the sink (`exchanges.pecgm_sinks`: COPY or ORM)
   → accept the file (`exchanges.pecgm_acceptance`: reject ratio, small
   stock) → finish (`exchanges.pecgm_stock`: who left the stock). Any
   structural problem, even at the end of the file, or a rule of acceptance
   broken raises inside the transaction and refuses the whole file: nothing
   of it stays. A crash rolls it all back the same way.
4. Once committed, `signals.pecgm_imported` tells the pages (beneficiaries).

A refused attempt is still an `ImportRun` (status `rejected`, error kind
`rejection`, with its errors), saved outside the rolled-back transaction; a
crashed one (connection lost, disk full: not the file's fault) is
`interrupted` (error kind `crash`), with its cause.

Personal data never goes into logs or exception messages: runs and record
numbers only.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import operator
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from beneficiaries.models import Beneficiary, Source
from contract.file_names import name_mismatch
from contract.nir import nir_key
from exchanges import table_statistics
from exchanges.faults import durably, infrastructure_cause
from exchanges.followup import Situation
from exchanges.matching import SITE_CHANGE_MOTIVE, Keys, Matcher, keys_of, record_keys, situation_of
from exchanges.models import (
    SUCCESSFUL_STATUSES,
    ImportReject,
    ImportRun,
    ImportStatus,
    JobSeekerSnapshot,
    RejectLevel,
    ReviewCase,
)
from exchanges.pecgm_acceptance import allowed_rejects, check_reject_ratio, check_stock_size, previous_stock
from exchanges.pecgm_reader import FileRejected, ParsedRecord, RecordIssue, read_pecgm
from exchanges.pecgm_sinks import open_sink
from exchanges.pecgm_step import StepContext, StepIds, field_name, step_record, warning_rows
from exchanges.pecgm_stock import StockPosition, mark_absent, mark_unreadable
from exchanges.signals import pecgm_imported, pecgm_imports_finished
from exchanges.tracked_runs import ErrorKind, NamedLock, ProgressPublisher, SideConnection, interrupt_runs

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000
# How often (in records) the progress is published.
PROGRESS_EVERY = 2000
# Errors kept on a refused file: enough to understand it, not a copy of a broken file.
MAX_STORED_ERRORS_ON_REJECT = 1000
# Errors kept in memory while reading: all of them while the file may still be
# accepted (each is stored), then no more than this (the file will be refused).
MAX_STORED_ERRORS = MAX_STORED_ERRORS_ON_REJECT
# Two imports never run at once (PostgreSQL advisory key "PECGM" in ASCII; SQLite: this file in DATA_DIR).
IMPORT_LOCK = NamedLock("PECGM", "pecgm-import.lock")


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
    is done (pages.warming); the pages keep the previous ones until then.
    `force_small_stock`: import a monthly stock even if it is much smaller than the
    previous one (`pecgm_acceptance.check_stock_size`); only an operator's command sets it.
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
    the pages' counts (`signals.pecgm_imports_finished`, heard by pages.warming),
    which the pages wait for on the previous ones. Not inside import_pecgm(): the import's
    time is the import's, and an exchange run of several files needs this once.
    """
    table_statistics.analyze_outgrown(table_statistics.IMPORTED_MODELS, records)
    pecgm_imports_finished.send(sender=ImportRun, records=records)


def _import(
    path: Path,
    run: ImportRun,
    progress: Callable[[int, int], None] | None,
    details: int,
    counts_computed_next: bool,
    force_small_stock: bool,
) -> ImportRun:
    run.progress_total = details
    reporter = _Progress(run, progress, ProgressPublisher(run))
    errors: list[RecordIssue] = []
    notes: list[RecordIssue] = []  # warnings about the whole file
    try:
        reader = read_pecgm(path, file_name=run.file_name)
        run.reference_date = reader.header.reference_date
        run.periodicity = reader.header.periodicity
        header = reader.header
        mismatch = name_mismatch(run.file_name, header.departement, header.reference_date, header.periodicity)
        if mismatch:
            reader.close()
            raise FileRejected(mismatch, field="ENTETE")
        # Read now: once the sink starts, the connection belongs to it (PostgreSQL).
        previous = previous_stock(run.reference_date) if run.periodicity == "M" else None
        # One pass, in one transaction: records are written as they are read, and
        # anything that refuses the file (a truncated end, a wrong footer, too many
        # rejects) raises inside the transaction, which rolls everything back. The
        # file is thus judged whole before anything of it becomes visible, without
        # being read twice.
        with transaction.atomic():
            if run.dry_run:
                run.save()  # rolled back below, with everything else
            with _Batches(run, reporter.publisher.side) as batches:
                # read → match a batch → step → sink
                for record in reader.records():
                    run.records += 1
                    reporter.tick()
                    if record.errors:
                        run.rejected_records += 1
                        if len(errors) < MAX_STORED_ERRORS or run.rejected_records <= allowed_rejects(run):
                            errors.extend(record.errors)
                    batches.add(record)
                # accept
                check_reject_ratio(run)
                notes += check_stock_size(run, previous, force_small_stock)
                # finish
                batches.finish()
            if run.dry_run:
                transaction.set_rollback(True)
        if run.dry_run:
            run.pk = None
        run.imported = run.records - run.rejected_records
        run.warnings += len(notes)
        run.status = ImportStatus.IMPORTED_WITH_REJECTS if errors else ImportStatus.IMPORTED
        run.finished_at = timezone.now()
        run.progress_done = run.progress_total = max(run.records, 1)
        reporter.processed, reporter.total = run.records, run.records
        if run.dry_run:
            run._pending_errors = [_error_dict(issue) for issue in errors]
        else:
            run.save()
            # The pages' cached counts (beneficiaries listens).
            pecgm_imported.send(sender=ImportRun, run=run, counts_computed_next=counts_computed_next)
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


def _finish_rejected(run: ImportRun, issues: list[RecordIssue], message: str) -> None:
    run.status = ImportStatus.REJECTED
    run.error_kind = ErrorKind.REJECTION
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
    run.error_kind = ErrorKind.CRASH
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


def _reject_row(run: ImportRun, issue: RecordIssue, level: str) -> ImportReject:
    return ImportReject(
        run=run,
        level=level,
        record_number=issue.record,
        field=field_name(issue.field),
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
    objects kept. The objects the process held before the import are frozen
    (`gc.freeze()`) for its length: its full passes then skip them.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(max(GC_YOUNG_THRESHOLD, thresholds[0]), *thresholds[1:])
    # What the process held before the import (Django, its modules: some 100 000
    # objects) is set aside: the collector's full passes look at the import's only.
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()  # back among the oldest, for the next full pass
        gc.set_threshold(*thresholds)


@contextmanager
def import_lock(run: ImportRun):
    """Hold the PECGM import lock, or raise ImportBusy.

    The lock belongs to the importing process and ends with it, however it ends
    (`tracked_runs.NamedLock`): a run still "running" once it is taken was left by
    a dead import, and is marked interrupted at once. (A "running" run used to
    block every import for hours: a dead process leaves no other trace, and a
    PID recorded on the run may be reused, or live in another container.)
    """
    with IMPORT_LOCK.held(busy=lambda: ImportBusy(BUSY_MESSAGE)):
        _mark_interrupted()
        yield


def reap_imports() -> int:
    """The reaper's sweep: if no import holds the lock, the runs left "running" are interrupted."""
    with IMPORT_LOCK.if_free() as free:
        count = _mark_interrupted() if free else 0
    if count:
        logger.warning("PECGM import: runs left running by a dead import marked interrupted: %d", count)
    return count


def _mark_interrupted() -> int:
    """Under the import lock: a run still "running" is one whose import died."""
    return interrupt_runs(ImportRun.objects.all(), _(INTERRUPTED_MESSAGE))


class _Progress:
    """Counts records and publishes (done, total) for the progress bar, every PROGRESS_EVERY.

    Through the run's `ProgressPublisher`, whose side connection (PostgreSQL) the
    sink also uses for sequence values. A dry run publishes to the callback only.
    """

    def __init__(
        self, run: ImportRun, callback: Callable[[int, int], None] | None, publisher: ProgressPublisher
    ):
        self.run, self.callback, self.publisher = run, callback, publisher
        self.processed, self.total = 0, run.progress_total

    def tick(self) -> None:
        self.processed += 1
        if self.processed % PROGRESS_EVERY == 0:
            self.publish()

    def publish(self) -> None:
        total = max(self.total, self.processed)
        if self.callback is not None:
            self.callback(self.processed, total)
        if not self.run.dry_run:
            self.publisher.publish(progress_done=self.processed, progress_total=total)

    def close(self) -> None:
        self.publisher.close()


# --- Match a batch → step → sink ----------------------------------------------------------


_SITE_CHANGE_IDENTITY = operator.itemgetter("nir", "birth_name", "first_name", "birth_date")


def _changes_site(values: dict) -> bool:
    """A registration ceased with motive 46: the person's new identifier follows."""
    return values["cessation_motive"] == SITE_CHANGE_MOTIVE and values["cessation_date"] is not None


class _Batches:
    """The records of one file, matched by batches, each turned into rows and handed to the sink.

    Batch k is matched while the sink's writer writes batch k-1 and then reads
    the people of batch k+1. So the people read for a batch miss what the
    import did in the batch before it and in itself: the matcher and the
    situations keep that in memory (`recent`), two batches, no more.
    """

    def __init__(self, run: ImportRun, side: SideConnection):
        self.run = run
        self.position = StockPosition.of(run.reference_date, run.periodicity)
        self.context = StepContext(
            run_id=run.pk,
            day=run.reference_date,
            periodicity=run.periodicity,
            stock=self.position.stock,
            absent=self.position.absent,
            has_history=self.position.has_history,
            is_late=self.position.is_late,
            now=timezone.now(),
        )
        # Read before the sink starts: then the connection belongs to it, and
        # any query goes through it (`call`), in turn with the writes.
        self.matcher = Matcher.from_database(run_queries=self._query_now)
        self.sink = open_sink(side)
        self.ids = StepIds(
            snapshot=self.sink.ids(JobSeekerSnapshot),
            review=self.sink.ids(ReviewCase),
            beneficiary=self.sink.ids(Beneficiary),
        )
        # Records read and not matched yet: the batch being read, and the batches
        # read whose people are being fetched (with their keys and the future of that fetch).
        self.reading: list[ParsedRecord] = []
        self.read: deque[tuple[list[ParsedRecord], list[Keys | None], Future]] = deque()
        # Current situations this import set in the previous and the current batch (not
        # necessarily written yet); the others are read with the batch's people.
        self.recent_situations: list[dict[int, Situation | None]] = [{}]
        # The keys of the refused records that may name someone known (NIR, identifier).
        self.unreadable: list[Keys] = []

    def __enter__(self) -> _Batches:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        self.sink.close(cancel=exc is not None)

    def _query_now(self, job: Callable):
        """A query the batch's reading did not foresee (rare): run in turn, and waited for."""
        return self.sink.call(job).result()

    def add(self, record: ParsedRecord) -> None:
        self.reading.append(record)
        if len(self.reading) >= BATCH_SIZE:
            self._read_ahead()

    def _read_ahead(self) -> None:
        """A batch is read: have its people fetched, and match the batch read before it meanwhile."""
        records, self.reading = self.reading, []
        # Each record's matching keys, computed once (None for a rejected record).
        keys = [None if r.errors else keys_of(r.values) for r in records]
        job = self.matcher.prefetch_job([k for k in keys if k is not None])
        self.read.append((records, keys, self.sink.call(job)))
        if len(self.read) > 1:
            self._match_batch(*self.read.popleft())

    def _match_batch(self, records: list[ParsedRecord], keys: list[Keys | None], fetched: Future) -> None:
        self.matcher.use(fetched.result())
        self.matcher.next_batch()
        self.recent_situations = [self.recent_situations[-1], {}]
        for record, k in zip(records, keys, strict=True):
            self._record(record, k)
        self.sink.flush()

    def _situation(self, beneficiary_id: int) -> Situation | None:
        """The person's current situation: set by this import lately, or read with the batch's people."""
        for situations in reversed(self.recent_situations):
            if beneficiary_id in situations:
                return situations[beneficiary_id]
        followup = self.matcher.followup(beneficiary_id)
        if followup is None:
            return None
        return situation_of(followup)

    def _record(self, record: ParsedRecord, keys: Keys | None) -> None:
        """One record: its warnings, then (accepted) match → step → sink."""
        run = self.run
        if record.warnings:
            self.sink.add_warnings(warning_rows(run.pk, record.warnings))
            run.warnings += len(record.warnings)
        if record.errors:
            self._note_unreadable(record.values)
            return
        result = self.matcher.match_keys(keys)
        if not result.is_match:
            # The new identifier of someone who changed site (motive 46): no review, no new person.
            result = self.matcher.site_change(keys) or result
        old = self._situation(result.beneficiary_id) if result.is_match else None
        rows = step_record(
            self.context, self.ids, record.number, record.values, keys.ft, result, old, bool(record.warnings)
        )
        # What later records must find before the sink has written it.
        matcher = self.matcher
        if rows.new_person is not None:
            beneficiary = Beneficiary(
                id=rows.new_person.id, source=Source.FRANCE_TRAVAIL, **rows.new_person.identity
            )
            beneficiary.created_at = beneficiary.updated_at = rows.new_person.created_at
            matcher.add(beneficiary)  # a second record of the same person finds them (keys refreshed)
            self.sink.add_beneficiary(beneficiary)
        if rows.beneficiary_id is not None:
            matcher.add_ft_identifier(rows.beneficiary_id, keys.ft, record.values["ft_identifier"])
            if rows.kept_ft is not None:
                matcher.keep_ft_identifier(rows.beneficiary_id, rows.kept_ft)
            self.recent_situations[-1][rows.beneficiary_id] = rows.situation
        if rows.beneficiary_id is not None and _changes_site(record.values):
            matcher.site_changed(rows.beneficiary_id, *_SITE_CHANGE_IDENTITY(record.values), keys.ft)
        self.sink.add(rows)
        for counter in rows.counters:
            setattr(run, counter, getattr(run, counter) + 1)

    def _note_unreadable(self, values: dict) -> None:
        """A refused record: keep what may name a known person (« reçu, illisible », see `finish`)."""
        if len(self.unreadable) > allowed_rejects(self.run):
            return  # the file will be refused
        # The NIR's 13 first characters, key or not; the identifier as the matcher takes it.
        nir = nir_key(values.get("nir") if isinstance(values.get("nir"), str) else "")
        keys = record_keys(
            None,
            nir=nir if len(nir) == 13 else "",
            ft_institution_code=values.get("ft_institution_code"),
            ft_identifier=values.get("ft_identifier"),
        )
        if keys.nir or keys.ft:
            self.unreadable.append(keys)

    def finish(self) -> None:
        """The file is read and accepted: match and write the last batches, then what needs the whole file."""
        if self.reading:
            self._read_ahead()
        while self.read:
            self._match_batch(*self.read.popleft())
        self.sink.drain()
        if self.unreadable and not self.position.is_late:
            named = self.matcher.named_by(self.unreadable)
            mark_unreadable(named, self.run.reference_date, stock=self.position.stock)
        if self.position.marks_absence:
            mark_absent(self.run.pk, self.run.reference_date, with_events=self.position.has_history)
