"""Five years of history (issue 25): import, size, pages, purge and backup as the months pile up.

    DATABASE_URL=postgres://USER:PASS@127.0.0.1:5432/THROWAWAY \\
        python bench/history.py --people 150000 --months 60

Builds, on PostgreSQL, the history a Département accumulates, month by month:

- `--people` beneficiaries (90 % of them in France Travail's stock, which
  also holds as many people again as a tenth of them that the Département
  does not know: created by the import, as in production);
- a monthly stock per month (`exchanges.synthetic.next_month`: each month
  about `--change-ratio` of the people change status, category or structure,
  a few percent leave and enter);
- months 1 and 2 and the last `--real-months` (at least 2) go through the real
  import (`import_pecgm()`, in a process of its own: its time and peak memory
  are its own), the last `--flux-months` of them preceded by a daily flux
  (`Q` files, one per working day, holding that month's changes: the stock at
  the month's end then confirms them);
- the months in between are built fast: the same file is written and read by
  the same reader, each record goes through the import's own record step
  (`pecgm_step.step_record`) and sink (`pecgm_sinks`, COPY), and the people
  who left the stock through `pecgm_stock.mark_absent`; only the matching is a
  dictionary (NIR, then France Travail identifier) instead of the batch
  queries. The rows are those the import would write.

Prints, for month 2 and the last month: the import's time and peak memory
(and their ratios), the database's size in total and per table, the bytes
per person-month of the history and the ratio of the database's growth to
the raw PECGM bytes; then the pages of `bench/pages.py` at a human pace
(`--clients` users, `--think-ms` of think time: list, search, parcours of a
person with every month, dashboard, cohorts); at the end the retention
purge's time and `pg_dump`'s time and size. THE DATABASE IS EMPTIED: never
point it at real data.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import logging
import os
import random
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from beneficiaries.demo import fake_people  # noqa: E402
from beneficiaries.models import Beneficiary, Source  # noqa: E402
from contract.nir import nir_key  # noqa: E402
from exchanges.matching import FOLLOWUP_FIELDS, MatchResult, ft_key, situation_of  # noqa: E402
from exchanges.models import (  # noqa: E402
    FollowUp,
    ImportRun,
    ImportStatus,
    JobSeekerSnapshot,
    MatchRule,
    ReviewCase,
)
from exchanges.pecgm_reader import read_pecgm  # noqa: E402
from exchanges.pecgm_sinks import SideConnection, open_sink  # noqa: E402
from exchanges.pecgm_step import StepContext, StepIds, step_record, warning_rows  # noqa: E402
from exchanges.pecgm_stock import StockPosition, mark_absent  # noqa: E402
from exchanges.synthetic import COMMUNES, fake_pecgm_records, month_end, next_month, write_pecgm  # noqa: E402

FIRST_MONTH = date(2021, 1, 31)
BATCH = 2000


def month_ends(count: int) -> list[date]:
    days = [FIRST_MONTH]
    while len(days) < count:
        days.append(month_end(days[-1] + timedelta(days=1)))
    return days


def file_name(day: date, periodicity: str = "M") -> str:
    return f"PECGM_082_{day:%Y%m%d}_{periodicity}.xml"


# --- One real import, in a process of its own ------------------------------------------


def import_files(paths: list[Path]) -> dict:
    """`import_pecgm()` of each file in a fresh process: seconds and that process's peak memory."""
    command = [sys.executable, __file__, "--import-files", *map(str, paths)]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    output = process.stdout.read()
    _pid, status, usage = os.wait4(process.pid, 0)  # the child's own peak memory
    process.returncode = os.waitstatus_to_exitcode(status)
    lines = output.strip().splitlines()
    result = json.loads(lines[-1]) if lines else {"error": "no output"}
    if process.returncode or "error" in result:
        raise SystemExit(f"import failed: {result}")
    result["wall_seconds"] = time.perf_counter() - started
    # (The child's own VmHWM: its rusage would count the pages of this process, which it
    # shared between the fork and the exec.)
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return result


def _import_files_here(paths: list[str]) -> None:
    """The child: import each file, print one JSON line (seconds of the imports alone)."""
    from exchanges.pecgm_import import after_imports, import_pecgm

    seconds, statuses, records = 0.0, [], 0
    for path in paths:
        started = time.perf_counter()
        run = import_pecgm(path, started_by="command")
        seconds += time.perf_counter() - started
        statuses.append(str(run.status))
        records += run.records
        if run.status not in ("imported", "imported_with_rejects"):
            print(json.dumps({"error": f"{path}: {run.status} {run.error_message[:300]}"}))
            sys.exit(1)
    after_imports(records)  # as an exchange run does after its files (not timed)
    peak = _high_water_mb()
    print(json.dumps({"seconds": seconds, "files": len(paths), "peak_mb": peak, "statuses": statuses}))


def _high_water_mb() -> float:
    """This process's peak RSS since its exec (VmHWM; getrusage would include the parent's pages)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


# --- A month built fast: the import's reader, record step and sink, a dictionary for matching ---


class FastMonths:
    """People found by NIR, then by France Travail identifier; their situations kept in memory."""

    def __init__(self):
        self.by_nir: dict[str, int] = {}
        self.by_ft: dict[tuple[str, str], int] = {}
        for key, person in Beneficiary.objects.exclude(nir_key="").values_list("nir_key", "id").iterator():
            self.by_nir[key] = person
        self.situations = {}
        for row in FollowUp.objects.values_list("beneficiary_id", *FOLLOWUP_FIELDS).iterator():
            situation = situation_of(row[1:])
            self.situations[row[0]] = situation
            if situation.ft:
                self.by_ft[situation.ft] = row[0]

    def build(self, path: Path, day: date) -> dict:
        started = time.perf_counter()
        reader = read_pecgm(path)
        with transaction.atomic():
            run = ImportRun.objects.create(
                file_name=path.name,
                sha256=hashlib.sha256(path.name.encode()).hexdigest(),
                size=path.stat().st_size,
                reference_date=day,
                periodicity="M",
                started_by="bench",
            )
            position = StockPosition.of(day, "M")
            context = StepContext(
                run.pk,
                day,
                "M",
                True,
                position.absent,
                position.has_history,
                position.is_late,
                timezone.now(),
            )
            side = SideConnection()
            sink = open_sink(side)
            ids = StepIds(
                snapshot=sink.ids(JobSeekerSnapshot),
                review=sink.ids(ReviewCase),
                beneficiary=sink.ids(Beneficiary),
            )
            counts = {"records": 0, "created": 0, "review": 0, "warnings": 0}
            try:
                for record in reader.records():
                    counts["records"] += 1
                    if record.warnings:
                        sink.add_warnings(warning_rows(run.pk, record.warnings))
                        counts["warnings"] += len(record.warnings)
                    if record.errors:
                        continue
                    self._record(context, ids, sink, record, counts)
                    if counts["records"] % BATCH == 0:
                        sink.flush()
                sink.flush()
                sink.drain()
            finally:
                sink.close()
                side.close()
            mark_absent(run.pk, day, with_events=position.has_history)
            run.status = ImportStatus.IMPORTED
            run.records = run.imported = counts["records"]
            run.created, run.review, run.warnings = counts["created"], counts["review"], counts["warnings"]
            run.matched_nir = counts["records"] - counts["created"]
            run.finished_at = timezone.now()
            run.save()
        # Who left this stock is absent from now on (mark_absent, above).
        left = set(
            FollowUp.objects.filter(absent_from_last_stock=True, reference_date__lt=day).values_list(
                "beneficiary_id", flat=True
            )
        )
        for person in left:
            situation = self.situations.get(person)
            if situation is not None and not situation.absent:
                self.situations[person] = situation._replace(absent=True)
        return {"seconds": time.perf_counter() - started, **counts}

    def _record(self, context, ids, sink, record, counts) -> None:
        values = record.values
        ft = ft_key(values["ft_institution_code"], values["ft_identifier"])
        nir = nir_key(values["nir"] or "")
        person = self.by_nir.get(nir) if nir else None
        if person is None and ft is not None:
            person = self.by_ft.get(ft)
        result = MatchResult(person, MatchRule.NIR) if person is not None else MatchResult()
        old = self.situations.get(person) if person is not None else None
        rows = step_record(context, ids, record.number, values, ft, result, old, bool(record.warnings))
        if rows.new_person is not None:
            beneficiary = Beneficiary(
                id=rows.new_person.id, source=Source.FRANCE_TRAVAIL, **rows.new_person.identity
            )
            beneficiary.created_at = beneficiary.updated_at = rows.new_person.created_at
            beneficiary.refresh_keys()
            sink.add_beneficiary(beneficiary)
            counts["created"] += 1
            counts["review"] += 1
            if nir:
                self.by_nir[nir] = beneficiary.id
        if rows.beneficiary_id is not None:
            self.situations[rows.beneficiary_id] = rows.situation
            if ft is not None:
                self.by_ft[ft] = rows.beneficiary_id
        sink.add(rows)


# --- Daily flux --------------------------------------------------------------------------


def _key(record: dict) -> str:
    return record.get("nir") or record.get("ft_identifier") or ""


def daily_flux(previous: list[dict], current: list[dict], day: date, folder: Path, rng: random.Random):
    """The month's changes (new people and changed records), one `Q` file per working day.

    A record goes to a working day on or after the latest date it holds in the
    month (a cessation on the 12th is not in the flux of the 5th).
    """
    before = {_key(record): record for record in previous}
    start = day.replace(day=1)
    days = [
        start + timedelta(days=n) for n in range(day.day - 1) if (start + timedelta(days=n)).weekday() < 5
    ]
    by_day: dict[date, list[dict]] = {d: [] for d in days}
    for record in current:
        if before.get(_key(record)) == record:
            continue
        latest = max(
            (value for value in record.values() if isinstance(value, date) and start <= value < day),
            default=start,
        )
        fitting = [d for d in days if d >= latest] or days[-1:]
        by_day[rng.choice(fitting)].append(record)
    paths = []
    for flux_day, records in by_day.items():
        if records:
            path = folder / file_name(flux_day, "Q")
            write_pecgm(path, records, reference_date=flux_day, periodicity="Q")
            paths.append(path)
    return paths


# --- Sizes -----------------------------------------------------------------------------


def vacuum() -> None:
    """As autovacuum does between two months (not timed)."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def sizes() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        total = cursor.fetchone()[0]
        cursor.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid), pg_relation_size(c.oid), c.reltuples "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname = 'public' ORDER BY 2 DESC LIMIT 8"
        )
        tables = {name: (whole, heap, rows) for name, whole, heap, rows in cursor.fetchall()}
    return {"total": total, "tables": tables}


def mb(value: float) -> str:
    return f"{value / 1e6:,.1f} MB"


def show_sizes(label: str, measured: dict, raw_bytes: int, person_months: int, months: int) -> None:
    snapshots = measured["tables"].get(JobSeekerSnapshot._meta.db_table, (0, 0, 0))[0]
    print(f"\n  Database after {label}: {mb(measured['total'])} in all")
    for name, (whole, heap, rows) in measured["tables"].items():
        print(f"    {name:<40} {mb(whole):>12} ({mb(heap)} table, ~{max(rows, 0):,.0f} rows)")
    print(
        f"  History (snapshots and their indexes): {snapshots / person_months:,.0f} bytes per person-month "
        f"({person_months:,} person-months); raw PECGM {raw_bytes / person_months:,.0f} bytes per record: "
        f"ratio {snapshots / raw_bytes:.3f}"
    )
    print(
        f"  Whole database: {measured['total'] / months / 1e6:,.1f} MB per monthly stock on average, "
        f"{measured['total'] / raw_bytes:.3f} × the raw PECGM bytes of the {months} months"
    )


# --- Pages -------------------------------------------------------------------------------


def _pages_module():
    spec = importlib.util.spec_from_file_location("bench_pages", ROOT / "bench" / "pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pages(args, people: int) -> dict:
    """bench/pages.py's human-pace load: p95 per page kind."""
    from accounts.models import User

    bench_pages = _pages_module()
    # The parcours of people in every stock so far (their first record in the first file,
    # in the newest one still): at the last month, people with every month of the history.
    first_run = ImportRun.objects.order_by("id").values_list("id", flat=True).first()
    newest = FollowUp.objects.order_by("-reference_date").values_list("reference_date", flat=True).first()
    every_month = list(
        FollowUp.objects.filter(reference_date=newest, absent_from_last_stock=False)
        .filter(beneficiary__snapshots__run_id=first_run)
        .values_list("beneficiary_id", flat=True)[:5000]
    )
    print(f"  parcours drawn among {len(every_month)} people in every stock so far", flush=True)
    drawn = bench_pages.scenario_urls

    def scenario_urls(rng, people, names, communes=None):
        urls = drawn(rng, people, names, communes)
        if every_month:
            urls["parcours"] = f"/beneficiaires/{rng.choice(every_month)}/"
        return urls

    bench_pages.scenario_urls = scenario_urls
    users = [f"bench{n}" for n in range(args.clients)]
    for username in users:
        user, _created = User.objects.get_or_create(username=username)
        user.role = "orientation_officer"
        user.set_password(bench_pages.PASSWORD)
        user.save()
    connection.close()
    process, url = bench_pages.start_server(args.workers, 1)
    try:
        cookies = [bench_pages.login_cookie(url, username) for username in users]
        bench_pages.load(url, cookies, people, 10**9, args.warmup_seconds)
        result = bench_pages.load(
            url, cookies, people, 10**9, args.page_seconds, think_ms=args.think_ms, server_pid=process.pid
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
    bench_pages.report_samples(
        result["samples"],
        result["seconds"],
        f"Pages: {args.clients} clients, mean think time {args.think_ms:.0f} ms, {args.page_seconds:.0f} s",
    )
    p95 = {}
    for kind in bench_pages.KINDS:
        values = [ms for _start, k, ms, _status in result["samples"] if k == kind]
        if values:
            p95[kind] = bench_pages.percentile(values, 0.95)
    return p95


def copy_database(suffix: str) -> str:
    """A copy of the bench database as it stands (CREATE DATABASE … TEMPLATE), for `--pages-only`.

    The pages' figures are the part of this bench a busy machine spoils most: with `--copies`,
    the build can run beside other work and the pages be measured later, on a quiet machine,
    on the very databases month 2 and the last month left.
    """
    import psycopg
    from psycopg import sql

    settings = connection.settings_dict
    name = f"{settings['NAME']}_{suffix}"
    connection.close()  # a template database must have no other session
    with psycopg.connect(
        dbname="postgres",
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"],
        autocommit=True,
    ) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(settings["NAME"])
            )
        )
    return name


# --- Purge and backup ------------------------------------------------------------------


def purge(last_day: date, history_months: int | None) -> dict:
    from django.conf import settings

    from rights.retention import purge as retention_purge

    if history_months:
        settings.RETENTION_FT_HISTORY_MONTHS = history_months

    now = timezone.make_aware(datetime.combine(last_day + timedelta(days=1), datetime.min.time()))
    started = time.perf_counter()
    items = retention_purge(apply=True, now=now)
    return {"seconds": time.perf_counter() - started, "items": {item.category: item.count for item in items}}


def dump(folder: Path) -> dict:
    settings = connection.settings_dict
    path = folder / "history.dump"
    env = {**os.environ, "PGPASSWORD": settings["PASSWORD"] or ""}
    started = time.perf_counter()
    subprocess.run(
        [
            "pg_dump",
            "-Fc",
            "-h",
            settings["HOST"] or "127.0.0.1",
            "-p",
            str(settings["PORT"] or 5432),
            "-U",
            settings["USER"],
            "-f",
            str(path),
            settings["NAME"],
        ],
        check=True,
        env=env,
    )
    result = {"seconds": time.perf_counter() - started, "bytes": path.stat().st_size}
    path.unlink()
    return result


# --- Together ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=150_000)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--real-months", type=int, default=3, help="the last months through the real import")
    parser.add_argument("--flux-months", type=int, default=3, help="the last months with a daily flux")
    parser.add_argument("--change-ratio", type=float, default=0.1)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/liaison-history"))
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--think-ms", type=float, default=1000)
    parser.add_argument("--page-seconds", type=float, default=60)
    parser.add_argument("--warmup-seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--no-pages", action="store_true", help="skip the pages' load")
    parser.add_argument(
        "--copies",
        action="store_true",
        help="copy the database at month 2 and the last month instead of loading the pages then "
        "(measure them later with --pages-only on each copy)",
    )
    parser.add_argument(
        "--pages-only",
        action="store_true",
        help="only the pages' load, on the database as it is (a copy left by --copies)",
    )
    parser.add_argument(
        "--history-months",
        type=int,
        help="RETENTION_FT_HISTORY_MONTHS for the purge (a short history at a small scale has nothing older)",
    )
    parser.add_argument("--import-files", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.import_files:
        _import_files_here(args.import_files)
        return
    if connection.vendor != "postgresql":
        raise SystemExit("bench/history.py needs PostgreSQL: set DATABASE_URL")
    if args.pages_only:
        logging.disable(logging.INFO)
        print(f"Pages on {connection.settings_dict['NAME']} ({args.people} beneficiaries)", flush=True)
        for kind, value in pages(args, args.people).items():
            print(f"  {kind:<10} p95 {value:6.1f} ms")
        return
    if args.months < 4 or args.real_months < 2 or args.flux_months > args.real_months:
        raise SystemExit("--months 4 at least, --real-months 2 at least, --flux-months at most --real-months")
    logging.disable(logging.INFO)
    args.folder.mkdir(parents=True, exist_ok=True)
    days = month_ends(args.months)
    real = {0, 1, *range(args.months - args.real_months, args.months)}
    flux = set(range(args.months - args.flux_months, args.months))
    rng = random.Random(25)
    began = time.perf_counter()

    print(f"History: {args.people} beneficiaries × {args.months} monthly stocks", flush=True)
    call_command("flush", interactive=False, verbosity=0)
    known = round(args.people * 0.9)
    people = fake_people(args.people, seed=25, communes=COMMUNES)
    beneficiaries = []
    for values in people:
        beneficiary = Beneficiary(**values)
        beneficiary.refresh_keys()
        beneficiaries.append(beneficiary)
    Beneficiary.objects.bulk_create(beneficiaries, batch_size=5000)
    del beneficiaries
    records = list(fake_pecgm_records(people[:known], args.people, seed=25, reference_date=days[0]))
    del people
    raw_bytes = flux_bytes = person_months = 0  # the stocks' raw bytes; the daily fluxes'
    fast = None
    imports: dict[int, dict] = {}
    for index, day in enumerate(days):
        if index:
            previous, records = (
                records,
                list(
                    next_month(records, seed=25 + index, change_ratio=args.change_ratio, reference_date=day)
                ),
            )
        path = args.folder / file_name(day)
        write_pecgm(path, records, reference_date=day)
        raw_bytes += path.stat().st_size
        person_months += len(records)
        if index in real:
            fast = None  # the real import changes the situations
            if index in flux:
                paths = daily_flux(previous, records, day, args.folder, rng)
                vacuum()
                flux_result = import_files(paths)
                for flux_path in paths:
                    flux_bytes += flux_path.stat().st_size
                    flux_path.unlink()
                print(
                    f"  month {index + 1} ({day}): daily flux, {len(paths)} files, "
                    f"{flux_result['seconds']:.1f} s, peak {flux_result['peak_mb']:.0f} MB",
                    flush=True,
                )
            vacuum()
            result = import_files([path])
            imports[index] = result
            print(
                f"  month {index + 1} ({day}): real import of {len(records)} records, "
                f"{result['seconds']:.1f} s (process CPU {result['cpu_seconds']:.1f} s), "
                f"peak {result['peak_mb']:.0f} MB",
                flush=True,
            )
        else:
            if fast is None:
                fast = FastMonths()
            result = fast.build(path, day)
            vacuum()  # as autovacuum does in the month between two files (each month rewrites the follow-ups)
            print(
                f"  month {index + 1} ({day}): built fast, {result['records']} records, "
                f"{result['seconds']:.1f} s",
                flush=True,
            )
        path.unlink()
        if index == 1 or index == args.months - 1:
            vacuum()
            measured = sizes()
            print(f"\n== Month {index + 1} ({day}) ==")
            show_sizes(f"month {index + 1}", measured, raw_bytes, person_months, index + 1)
            if index == 1:
                first_sizes = (measured, raw_bytes + flux_bytes, person_months)
            if args.copies:
                print(f"  copied to {copy_database(f'month{index + 1}')} for --pages-only")
            elif not args.no_pages:
                imports[index]["pages"] = pages(args, args.people)
            print(flush=True)
    last = args.months - 1
    print(f"\n== Month 2 against month {args.months} ==")
    second, final = imports[1], imports[last]
    print(
        f"  import: {second['seconds']:.1f} s → {final['seconds']:.1f} s "
        f"({final['seconds'] / second['seconds']:.2f}×; goal ≤ 1.25×; the process's CPU "
        f"{second['cpu_seconds']:.1f} → {final['cpu_seconds']:.1f} s); "
        f"peak memory {second['peak_mb']:.0f} → {final['peak_mb']:.0f} MB "
        f"({final['peak_mb'] / second['peak_mb']:.2f}×)"
    )
    measured = sizes()
    growth = (measured["total"] - first_sizes[0]["total"]) / (args.months - 2)
    raw_growth = (raw_bytes + flux_bytes - first_sizes[1]) / (args.months - 2)
    print(
        f"  database growth per monthly stock after month 2: {mb(growth)} for {mb(raw_growth)} of raw PECGM "
        f"(stocks, and {mb(flux_bytes)} of daily flux in all): {growth / raw_growth:.3f} × (goal ≤ 0.25)"
    )
    if not args.no_pages and not args.copies:
        for kind, value in second.get("pages", {}).items():
            after = final["pages"].get(kind, 0)
            print(f"  {kind:<10} p95 {value:6.1f} → {after:6.1f} ms ({after / value:.2f}×)")
    result = purge(days[-1], args.history_months)
    print(f"\n  retention purge: {result['seconds']:.1f} s, {result['items']}")
    vacuum()
    print(f"  database after the purge: {mb(sizes()['total'])}")
    result = dump(args.folder)
    print(f"  pg_dump -Fc: {result['seconds']:.1f} s, {mb(result['bytes'])}")
    print(f"\nWhole bench: {(time.perf_counter() - began) / 60:.1f} min")


if __name__ == "__main__":
    main()
