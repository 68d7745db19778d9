"""What every tracked run shares: a PECGM import (`ImportRun`) and an exchange (`ExchangeRun`).

- `TrackedRun`, the abstract model: a status with an explicit « interrompu »,
  start and end times, a heartbeat, progress (done / total), an error message
  and the error's kind (`ErrorKind`: the input's fault, or ours);
- `NamedLock`: one at a time per name, across processes: a PostgreSQL session
  advisory lock, an OS file lock under SQLite. Both end with their holder, however
  it ends (the server drops a dead session's locks, the kernel a dead process's
  files): a run still « en cours » once its lock is taken was left by a dead holder;
- `interrupt_runs`: the runs such a holder left « en cours » become « interrompu »;
- `heartbeat`: a thread writes the run's sign of life while it works;
- `ProgressPublisher`: progress written where the pages see it, even from inside a
  long transaction, through one side connection for the run's life.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, connections, models
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from exchanges.faults import DATABASE_ERRORS, close_broken_connection

logger = logging.getLogger(__name__)

# The two statuses every kind of run has (each model's own choices include them).
RUNNING = "running"
# Stopped by a fault that is not the input's (database, disk, killed process): final
# for this run; the next attempt takes the work again.
INTERRUPTED = "interrupted"


class ErrorKind(models.TextChoices):
    """Why a run ended badly, told by the code that ended it (never read back from its message)."""

    # The input's own fault (a file's structure or contents, the exchange server's answer,
    # the settings): the same attempt would be refused again; someone must act.
    REJECTION = "rejection", _("rejet")
    # Not the input's fault (database connection lost, disk full, killed worker, a bug of
    # ours, another run holding the lock): another attempt may succeed.
    CRASH = "crash", _("interruption")


class TrackedRun(models.Model):
    """The fields and the reading of a run whose progress and end the pages show.

    Each model narrows `status` to its own choices, which contain RUNNING and
    INTERRUPTED, and says which of them are still going (`ACTIVE_STATUSES`) and
    the badge of each (`BADGES`).
    """

    status = models.CharField(_("statut"), max_length=25, default=RUNNING)
    # Who started it ("command", "beat", "reaper", a login, "exchange:<run>"), and the user if a person did.
    started_by = models.CharField(_("lancé par"), max_length=50, default="command")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("utilisateur"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    started_at = models.DateTimeField(_("début"), null=True, blank=True)
    finished_at = models.DateTimeField(_("fin"), null=True, blank=True)
    # Written while the run works (`heartbeat`, `ProgressPublisher`): the reaper tells a
    # silent run from a slow one.
    heartbeat_at = models.DateTimeField(_("dernier signe de vie"), null=True, blank=True)
    # Polled by the progress bar while the run is going.
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    error_message = models.TextField(_("erreur"), blank=True)
    error_kind = models.CharField(
        _("nature de l'erreur"), max_length=10, choices=ErrorKind.choices, blank=True
    )

    ACTIVE_STATUSES: tuple[str, ...] = (RUNNING,)
    BADGES: dict[str, str] = {}
    # Reload the page once the run ends (its files and counts only show then).
    REFRESH_PAGE_WHEN_FINISHED = False
    # The URL name of the progress fragment (`run_views.run_progress`).
    PROGRESS_URL_NAME = ""

    class Meta:
        abstract = True

    @property
    def is_running(self) -> bool:
        return self.status == RUNNING

    @property
    def is_finished(self) -> bool:
        return self.status not in self.ACTIVE_STATUSES

    @property
    def is_crash(self) -> bool:
        return self.error_kind == ErrorKind.CRASH

    @property
    def is_rejection(self) -> bool:
        return self.error_kind == ErrorKind.REJECTION

    @property
    def progress_percent(self) -> int:
        if not self.progress_total:
            return 0
        return min(100, int(100 * self.progress_done / self.progress_total))

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def duration_text(self) -> str:
        """h:mm:ss, to the second."""
        if self.duration is None:
            return ""
        return str(timedelta(seconds=round(self.duration.total_seconds())))

    @property
    def badge_class(self) -> str:
        return self.BADGES.get(self.status, "text-bg-secondary")

    @property
    def progress_dom_id(self) -> str:
        # "run-progress…": static/js/announce.js reads out the status of these fragments.
        return f"run-progress-{self._meta.model_name}-{self.pk}"

    @property
    def waiting_message(self) -> str:
        """Why a run not started yet waits (shown under its status); empty by default."""
        return ""

    @property
    def progress_label(self) -> str:
        return _("Progression : %(percent)s %%") % {"percent": self.progress_percent}

    @property
    def progress_announcement(self) -> str:
        """What screen readers hear when the status changes (not each percentage)."""
        return str(self.get_status_display())


def save_fields(run: TrackedRun, **fields) -> None:
    """Set and store some fields of the run now."""
    for name, value in fields.items():
        setattr(run, name, value)
    type(run).objects.filter(pk=run.pk).update(**fields)


def interrupt_runs(runs: QuerySet, message: str, *, statuses: tuple[str, ...] = (RUNNING,)) -> int:
    """End « interrompu » (a crash) the runs of `runs` still in one of `statuses`; returns how many.

    Conditional on the status: a run that ended meanwhile keeps its own ending.
    """
    return runs.filter(status__in=statuses).update(
        status=INTERRUPTED,
        error_kind=ErrorKind.CRASH,
        error_message=str(message),
        finished_at=timezone.now(),
    )


# --- Named locks -----------------------------------------------------------------------


class LockBusy(Exception):
    """Another holder has the lock."""


# SQLite: the files this thread holds locked, by lock name, with how many times (re-entrant,
# as PostgreSQL's session locks are for the thread's connection).
_file_locks = threading.local()


@dataclass(frozen=True)
class NamedLock:
    """One holder at a time across processes, released when its holder ends, however it ends.

    PostgreSQL: a session advisory lock on the thread's connection; its key is the
    name's ASCII bytes as an integer (« PECGM » is 0x504543474D). SQLite (the embedded
    mode, one machine): an exclusive `flock` on `file_name` in DATA_DIR. Both are
    re-entrant within one thread: a reaper holding a direction's lock may run the
    fresh run it sends (eager tasks) in the same thread.
    """

    name: str
    file_name: str

    def __post_init__(self) -> None:
        if not (self.name.isascii() and 0 < len(self.name) <= 7):
            raise ValueError("a lock name is 1 to 7 ASCII characters (a positive 64-bit key)")

    @property
    def key(self) -> int:
        return int.from_bytes(self.name.encode("ascii"), "big")

    @property
    def path(self) -> Path:
        return Path(settings.DATA_DIR) / self.file_name

    def acquire(self) -> bool:
        """Take the lock if nobody else holds it; True if taken (then `release()` it)."""
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [self.key])
                return bool(cursor.fetchone()[0])
        held = _held_files()
        if self.name in held:
            held[self.name][1] += 1
            return True
        # "a": created if missing, never truncated; Python does not pass it to child processes.
        handle = self.path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        held[self.name] = [handle, 1]
        return True

    def release(self) -> None:
        if connection.vendor == "postgresql":
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [self.key])
            except DATABASE_ERRORS:
                # The connection was cut: the lock died with its session.
                close_broken_connection()
            return
        held = _held_files()
        entry = held[self.name]
        entry[1] -= 1
        if entry[1] == 0:
            del held[self.name]
            entry[0].close()  # closing the file releases the lock

    @contextmanager
    def held(self, busy: Callable[[], Exception] = LockBusy) -> Iterator[None]:
        """Hold the lock for the block, or raise `busy()` without running it."""
        if not self.acquire():
            raise busy()
        try:
            yield
        finally:
            self.release()

    @contextmanager
    def if_free(self) -> Iterator[bool]:
        """Hold the lock for the block if nobody does; yields whether it is held."""
        free = self.acquire()
        try:
            yield free
        finally:
            if free:
                self.release()


def _held_files() -> dict[str, list]:
    if not hasattr(_file_locks, "held"):
        _file_locks.held = {}
    return _file_locks.held


# --- Heartbeat ------------------------------------------------------------------------------


@contextmanager
def heartbeat(run: TrackedRun) -> Iterator[None]:
    """While the block runs, a thread writes the run's heartbeat every EXCHANGE_HEARTBEAT_SECONDS.

    It beats as long as the process lives, downloads and long queries included,
    so that the reaper (exchanges.reaper) tells a silent run from a slow one.
    PostgreSQL only: the thread has its own connection, outside the run's
    transactions; SQLite has one writer at a time and no worker to lose.
    """
    if connection.vendor != "postgresql":
        yield
        return
    stop = threading.Event()
    model = type(run)

    def beat() -> None:
        try:
            while not stop.wait(settings.EXCHANGE_HEARTBEAT_SECONDS):
                try:
                    model.objects.filter(pk=run.pk, status=RUNNING).update(heartbeat_at=timezone.now())
                except DATABASE_ERRORS:  # the database restarting: the next beat reconnects
                    connections["default"].close()
        finally:
            connections["default"].close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"{model._meta.model_name}-{run.pk}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


# --- Progress --------------------------------------------------------------------------------


class SideConnection:
    """A second PostgreSQL connection, outside the run's transaction, opened when first needed.

    It publishes the progress, and (the PECGM import) hands out sequence values
    while the main connection belongs to the background writer (sequences are
    not transactional: a rolled-back import only leaves gaps).
    """

    def __init__(self) -> None:
        self._connection = None

    @property
    def opened(self) -> bool:
        return self._connection is not None

    def execute(self, sql: str, params: list) -> list[tuple]:
        """Run one statement (autocommit). Not again on a new connection if this one was cut:
        the run ends interrupted and its next attempt starts over (tests/exchanges/test_faults_e2e.py)."""
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
            connection_, self._connection = self._connection, None
            try:
                connection_.close()
            except DATABASE_ERRORS:  # already cut: gone either way
                logger.debug("closing a cut side connection failed", exc_info=True)


class ProgressPublisher:
    """Stores a run's progress (and its heartbeat) so that the pages see it during the run.

    The PECGM import writes in one long transaction and publishes from inside
    it: written through that connection, the figures would only appear at the
    end. On PostgreSQL they go through `side`, one connection opened at the
    first such publish and kept until `close()`; on SQLite (one writer at a
    time) they wait for the end of the transaction, set on the object only.
    Outside a transaction, an ordinary update. Only for fields nobody else
    writes within that transaction (no lock waits).
    """

    def __init__(self, run: TrackedRun, side: SideConnection | None = None) -> None:
        self.run = run
        self.side = side or SideConnection()

    def __enter__(self) -> ProgressPublisher:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def publish(self, **fields) -> None:
        fields.setdefault("heartbeat_at", timezone.now())
        for name, value in fields.items():
            setattr(self.run, name, value)
        if self.run.pk is None:
            return
        if not connection.in_atomic_block:
            save_fields(self.run, **fields)
            return
        if connection.vendor != "postgresql":
            return
        model = type(self.run)
        columns, values = [], []
        for name, value in fields.items():
            field = model._meta.get_field(name)
            columns.append(f"{connection.ops.quote_name(field.column)} = %s")
            values.append(field.get_db_prep_save(value, connection))
        self.side.execute(
            f"UPDATE {connection.ops.quote_name(model._meta.db_table)} "  # noqa: S608 (names from the model)
            f"SET {', '.join(columns)} WHERE id = %s",
            [*values, self.run.pk],
        )

    def close(self) -> None:
        self.side.close()
