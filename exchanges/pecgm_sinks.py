"""Bulk sinks of the PECGM import: the rows of the record step, written by batches.

They only serialise: the rows (`exchanges.pecgm_step`) are decided before
they come here. Two sinks with one interface (`open_sink()` picks one):

- `CopySink`, PostgreSQL: each batch is COPY text, written by a background
  thread on the import's own connection while the next batch is read;
- `OrmSink`, elsewhere (SQLite): tuples, `bulk_create`, at once.

The primary keys of new rows are handed out before their rows are written
(`id_allocator`): a person may appear twice in one file, and COPY gives no
ids back.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from datetime import date, datetime
from typing import NamedTuple

from django.db import connection

from beneficiaries.models import Beneficiary
from exchanges.followup import DATE_ATTRS, PECGM_ATTRS, clean_values, date_text, value_texts
from exchanges.models import FollowUp, ImportReject, JobSeekerSnapshot, ReviewCase, StatusEvent
from exchanges.pecgm_step import FollowUpRow, RecordRows, ReviewRow, SnapshotRow, WarningRow
from exchanges.pecgm_stock import EVENT_COLUMNS
from exchanges.tracked_runs import SideConnection

# Ids asked for at a time from a sequence, at first (doubled on each round trip).
ID_BLOCK = 2000
# COPY's text format for NULL.
NULL = "\\N"

assert SnapshotRow._fields[-1] == FollowUpRow._fields[-1] == "values"
# Each table's columns: the step's rows in their order, then (snapshots, follow-ups)
# the record's PECGM values.
SNAPSHOT_COLUMNS = (*SnapshotRow._fields[:-1], *PECGM_ATTRS)
FOLLOWUP_COLUMNS = (*FollowUpRow._fields[:-1], *PECGM_ATTRS)
REVIEW_COLUMNS = ReviewRow._fields
REJECT_COLUMNS = WarningRow._fields
assert REJECT_COLUMNS == ("run_id", "level", "record_number", "field", "value", "message")
# Every column of the model: a field added later is written too, not silently left out.
BENEFICIARY_COLUMNS = tuple(field.attname for field in Beneficiary._meta.concrete_fields)
CANDIDATE_COLUMNS = ("reviewcase_id", "beneficiary_id")

# COPY's text format: a tab between columns, \N for NULL, and these escaped.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_DATE_POSITIONS = tuple(position for position, attr in enumerate(PECGM_ATTRS) if attr in DATE_ATTRS)
_TABS = len(PECGM_ATTRS) - 1


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
    # (`value_texts` made them for the record's digest already: dates as text, '' when missing.)
    row = texts = value_texts(values)
    nulls = 0
    for position in _DATE_POSITIONS:
        if not texts[position]:
            if row is texts:
                row = texts.copy()  # shared: not to be changed
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
    """The rows of a batch of records, for every table: COPY text lines on
    PostgreSQL, tuples elsewhere. Follow-ups are keyed by beneficiary: the same
    person twice in a batch (a flux) keeps the later record."""

    def __init__(self):
        self.rows: dict[str, list] = {name: [] for name in _TABLES if name != "followups"}
        self.followups: dict[int, object] = {}
        # PostgreSQL: follow-ups whose values a record confirmed (`pecgm_step.confirms`),
        # updated in place rather than replaced; keyed likewise, never a key of `followups`.
        self.confirmed: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.rows["snapshots"])


def _copy_sql(model, columns: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    names = ", ".join(quote(model._meta.get_field(name).column) for name in columns)
    return f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN"


# A confirmation (a monthly record repeating the person's values: `pecgm_step.confirms`)
# changes its follow-up's own columns, never its PECGM values (equal digests, equal values):
# those columns go by COPY into a temporary table, then one UPDATE per batch sets them,
# and the columns the follow-up's COPY leaves out (`unreadable_on`) back to NULL, as a
# follow-up replaced whole would have them. Far less to write than the whole row.
CONFIRMED_COLUMNS = FollowUpRow._fields[:-1]
_CONFIRMED_TABLE = "pecgm_import_confirmed"


def _confirmed_sql() -> tuple[str, ...]:
    """The statements of a batch's confirmations: make the temporary table (once in a
    transaction: it goes at its end) and empty it, COPY into it, UPDATE from it."""
    quote = connection.ops.quote_name
    table = quote(FollowUp._meta.db_table)
    columns = [quote(FollowUp._meta.get_field(name).column) for name in CONFIRMED_COLUMNS]
    key, *changed = columns
    left_out = [field for field in FollowUp._meta.concrete_fields if field.attname not in FOLLOWUP_COLUMNS]
    assert all(field.null for field in left_out), "a column COPY leaves out must take NULL"
    assignments = [f"{column} = c.{column}" for column in changed]
    assignments += [f"{quote(field.column)} = NULL" for field in left_out]
    create = (
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {_CONFIRMED_TABLE} ON COMMIT DROP AS "  # noqa: S608
        f"SELECT {', '.join(columns)} FROM {table} WITH NO DATA"
    )
    empty = f"TRUNCATE {_CONFIRMED_TABLE}"
    copy = f"COPY {_CONFIRMED_TABLE} ({', '.join(columns)}) FROM STDIN"
    update = (
        f"UPDATE {table} AS f SET {', '.join(assignments)} "  # noqa: S608
        f"FROM {_CONFIRMED_TABLE} AS c WHERE f.{key} = c.{key}"
    )
    return create, empty, copy, update


def _write_batch_copy(
    cursor, batch: _Batch, copy_sql: dict[str, str], confirmed_sql: tuple[str, ...]
) -> None:
    """PostgreSQL: each table's rows in one COPY; the follow-ups replaced whole, or updated
    when a record confirmed them."""
    if batch.confirmed:
        create, empty, copy_confirmed, update = confirmed_sql
        cursor.execute(create)
        cursor.execute(empty)
        with cursor.copy(copy_confirmed) as copy:
            copy.write("".join(batch.confirmed.values()))
        cursor.execute(update)
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
        self.confirmed_sql = _confirmed_sql()
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
                        _write_batch_copy(cursor, item, self.copy_sql, self.confirmed_sql)
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


class _SequenceIds:
    """PostgreSQL: primary keys from the table's sequence, asked for by blocks on the side
    connection (the main one belongs to the writer thread)."""

    def __init__(self, model, side: SideConnection):
        self.model = model
        self.side = side
        self.free: list[int] = []
        self.sequence: str | None = None
        # Values asked for at a time: doubled on each round trip (a big file asks a few
        # times, a small one wastes few values), up to this.
        self.block = ID_BLOCK
        self.max_block = 8 * ID_BLOCK

    def next(self) -> int:
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


class _CountingIds:
    """SQLite (one writer, inside the import's transaction): counting from the current maximum."""

    def __init__(self, model):
        self.model = model
        self.last: int | None = None

    def next(self) -> int:
        if self.last is None:
            self.last = self.model.objects.order_by("-id").values_list("id", flat=True).first() or 0
        self.last += 1
        return self.last


class _Sink:
    """Rows in, batches out: `add()` the rows of each record, `flush()` a batch to the writer.

    `call(job)` runs `job(cursor)` in turn with the writes (the import's queries
    while the sink owns the connection); `drain()` waits for every write and hands
    the connection back; `close(cancel)` stops, skipping what is left on a failure.
    """

    def __init__(self, side: SideConnection):
        self.side = side
        self.batch = _Batch()

    def ids(self, model) -> Callable[[], int]:
        """The next primary key of `model`, before its row is written."""
        raise NotImplementedError

    def add(self, rows: RecordRows) -> None:
        raise NotImplementedError

    def add_beneficiary(self, beneficiary: Beneficiary) -> None:
        self.batch.rows["beneficiaries"].append(
            self._line(tuple(getattr(beneficiary, name) for name in BENEFICIARY_COLUMNS))
        )

    def add_warnings(self, rows: Iterable[WarningRow]) -> None:
        self.batch.rows["warnings"].extend(self._line(row) for row in rows)

    def _line(self, row: tuple):
        raise NotImplementedError

    def _add_review(self, rows: RecordRows) -> None:
        review = rows.review
        line = self._line
        self.batch.rows["reviews"].append(line(review))
        for candidate in rows.candidates:
            self.batch.rows["candidates"].append(line((review.id, candidate)))

    def flush(self) -> None:
        batch, self.batch = self.batch, _Batch()
        self.submit(batch)

    def submit(self, batch: _Batch) -> None:
        raise NotImplementedError

    def call(self, job: Callable) -> Future:
        raise NotImplementedError

    def drain(self) -> None:
        pass

    def close(self, cancel: bool = False) -> None:
        pass


class CopySink(_Sink):
    """PostgreSQL: COPY text lines, written by the background thread (`_BackgroundWriter`)."""

    def __init__(self, side: SideConnection):
        super().__init__(side)
        self.background = _BackgroundWriter()
        self._times: tuple[datetime | None, str] = (None, "")

    def ids(self, model) -> Callable[[], int]:
        return _SequenceIds(model, self.side).next

    def _line(self, row: tuple) -> str:
        return _copy_line(row)

    def add_warnings(self, rows: Iterable[WarningRow]) -> None:
        # A third of a month's records may carry one or two: each line made in one step.
        lines = self.batch.rows["warnings"]
        for run_id, level, record, field, value, message in rows:
            lines.append(
                f"{run_id}\t{_copy_value(level)}\t{NULL if record is None else record}\t"
                f"{field.translate(_COPY_ESCAPES)}\t{value.translate(_COPY_ESCAPES)}\t"
                f"{message.translate(_COPY_ESCAPES)}\n"
            )

    def _timestamp(self, moment: datetime) -> str:
        # One import stamps every row with the same moment: formatted once.
        if self._times[0] is not moment:
            self._times = (moment, moment.isoformat())
        return self._times[1]

    def add(self, rows: RecordRows) -> None:
        snapshot, followup = rows.snapshot, rows.followup
        if snapshot is not None:
            # The PECGM columns, built once for the snapshot and the follow-up.
            data = _pecgm_copy_text(snapshot.values)
            day = date_text(snapshot.reference_date)
            self.batch.rows["snapshots"].append(
                f"{snapshot.id}\t{snapshot.beneficiary_id or NULL}\t{snapshot.run_id}\t"
                f"{snapshot.record_number}\t{day}\t{snapshot.periodicity}\t{snapshot.match_rule}\t{data}\n"
            )
        if rows.review is not None:
            self._add_review(rows)
        if followup is not None:
            day = date_text(followup.reference_date)
            beneficiary_id = followup.beneficiary_id
            batch = self.batch
            # The later record of a person wins.
            batch.followups.pop(beneficiary_id, None)
            batch.confirmed.pop(beneficiary_id, None)
            absent, unknown = followup.absent_from_last_stock, followup.has_unknown_codes
            line = (
                f"{beneficiary_id}\t{followup.status}\t{day}\t{followup.periodicity}\t"
                f"{followup.source_snapshot_id}\t{'t' if absent else 'f'}\t{'t' if unknown else 'f'}\t"
                f"{self._timestamp(followup.updated_at)}\t{followup.values_digest}\t"
                f"{followup.confirmed_run_id}\t{followup.confirmed_record_number}"
            )
            if snapshot is None:
                # A record that confirms the person's values (pecgm_step.confirms): its follow-up
                # keeps its PECGM columns, only its own are set (CONFIRMED_COLUMNS).
                batch.confirmed[beneficiary_id] = line + "\n"
            else:
                batch.followups[beneficiary_id] = f"{line}\t{data}\n"
        if rows.events:
            self.batch.rows["events"].extend(_copy_line(event) for event in rows.events)

    def submit(self, batch: _Batch) -> None:
        self.background.submit(batch)

    def call(self, job: Callable) -> Future:
        return self.background.call(job)

    def drain(self) -> None:
        self.background.drain()

    def close(self, cancel: bool = False) -> None:
        self.background.close(cancel=cancel)


class OrmSink(_Sink):
    """SQLite: tuples, written with `bulk_create` on the import's connection at each flush."""

    def ids(self, model) -> Callable[[], int]:
        return _CountingIds(model).next

    def _line(self, row: tuple) -> tuple:
        return tuple(row)

    def add(self, rows: RecordRows) -> None:
        snapshot, followup = rows.snapshot, rows.followup
        data = tuple(clean_values((snapshot or followup).values).values())
        if snapshot is not None:
            self.batch.rows["snapshots"].append((*snapshot[:-1], *data))
        if rows.review is not None:
            self._add_review(rows)
        if followup is not None:
            self.batch.followups.pop(followup.beneficiary_id, None)  # the later record of a person wins
            self.batch.followups[followup.beneficiary_id] = (*followup[:-1], *data)
        self.batch.rows["events"].extend(rows.events)

    def submit(self, batch: _Batch) -> None:
        _write_batch_orm(batch)

    def call(self, job: Callable) -> Future:
        future: Future = Future()
        with connection.cursor() as cursor:
            future.set_result(job(cursor))
        return future


def open_sink(side: SideConnection) -> _Sink:
    """The sink of this database: COPY on PostgreSQL, the ORM elsewhere."""
    return CopySink(side) if connection.vendor == "postgresql" else OrmSink(side)
