"""Benchmark the caseworker pages: printed figures, not a test.

    createdb liaison_pages_bench   # a throw-away database: THE SCRIPT EMPTIES IT
    DATABASE_URL=postgres://USER:PASS@127.0.0.1:5432/liaison_pages_bench \\
        python bench/pages.py [--people 200000] [--months 24] [--reuse] \\
        [--clients 20] [--max-seconds 60] [--workers 3] [--threads 1] [--only search,list] \\
        [--think-ms 0] [--with-import FILE [--import-records N]] [--samples FILE] [--explain] \\
        [--territories K]

1. Builds a synthetic database (PostgreSQL only): N beneficiaries written with
   COPY, then, inside PostgreSQL (INSERT … SELECT over generate_series, no
   row crosses the wire), one job-seeker snapshot per person per month over
   `--months` months, the current follow-ups, the status events (« PPAE
   signé » by the import's rule over the snapshots, exchanges 0019) and an
   orientation decision for 70 % of them. `--reuse` keeps a database that
   already has the people (build it once, outside the bench lock).
2. Starts gunicorn on 127.0.0.1 (an ephemeral port), logs `--clients` users in
   through the login form, loads for `--warmup-seconds` (not counted), then
   measures a CLOSED LOOP: each client sends its next request as soon as the
   previous one answered, in turn search (the form POSTed by htmx, answered
   with the list; `--search-redirect`: then the list the redirect names,
   both counted, as without JavaScript), filtered list, a beneficiary's
   page, the dashboard, a cohort, « Mes bénéficiaires » and the home page
   (each user the référent of CASELOAD people of their scope). The clients use http.client (cheap: their
   CPU share of the machine is printed), one connection each.
   `--think-ms` adds a mean think time per client: a lighter, open-ended load,
   printed as such, NOT the target's figure. With CACHE_URL (or REDIS_URL) set,
   gunicorn's workers share their cache in Redis, as in production.
3. `--with-import FILE` runs `manage.py import_pecgm FILE` on the same
   database while the clients browse (from `--import-delay` s), stops when it
   ends (`--after-import` s later: the counts are computed again once an
   import commits), and prints the figures of the requests made during the
   import and after it;
   `--import-records N` first writes FILE: next month's stock for the first
   N people of the database (exchanges.synthetic). The import changes the
   database (one more month).
4. Prints p50/p95/p99 (ms) and errors per page, requests/s, and where the
   CPU went (client, gunicorn, the database's backends, the rest).
   `--explain` prints EXPLAIN ANALYZE of the SQL of one request of each kind;
   `--samples FILE` writes every measured request (and the import's start and
   end) to a CSV file, with the clock time to set beside PostgreSQL's log.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import date, timedelta
from importlib import import_module
from pathlib import Path
from urllib.parse import quote_plus, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Territory, User  # noqa: E402
from beneficiaries.demo import name_lists  # noqa: E402
from beneficiaries.models import PERSON_FIELDS, Beneficiary  # noqa: E402
from beneficiaries.names import fold, name_key  # noqa: E402
from exchanges.models import FollowUp, ImportRun, JobSeekerSnapshot, StatusEvent  # noqa: E402
from orientations.models import OrientationDecision, ReferentBody  # noqa: E402

PASSWORD = "mot-de-passe-du-banc-d-essai"  # noqa: S105 (a synthetic account on a throw-away database)
LAST_MONTH = date(2025, 1, 31)
COMMUNES = [f"82{n:03d}" for n in range(1, 196)]
AGENCIES = [
    "FRANCE TRAVAIL MONTAUBAN",
    "FRANCE TRAVAIL MOISSAC",
    "FT CASTELSARRASIN",
    "FRANCE TRAVAIL CAUSSADE",
]
COHORTS = ["sans-contact", "cessations-du-mois", "radies-du-mois"]
KINDS = ["search", "list", "parcours", "dashboard", "cohort", "caseload", "home"]
CASELOAD = 120  # people each bench user is the référent of (« Mes bénéficiaires »)
COUNSELLORS = ["DUPONT MARIE", "MARTIN PAUL", "BERNARD SOPHIE", "PETIT LUC", "ROUX CLAIRE"]


# --- 1. The database ------------------------------------------------------------------


def month_ends(count: int) -> list[date]:
    ends, day = [], LAST_MONTH
    for _ in range(count):
        ends.append(day)
        day = day.replace(day=1) - timedelta(days=1)
    return list(reversed(ends))


def commune_of(person: int) -> str:
    """The commune of the bench's person `person` (its id, from 1): they go round COMMUNES in turn."""
    return COMMUNES[(person - 1) % len(COMMUNES)]


def copy_beneficiaries(count: int, names: list[str], first_names: list[str]) -> None:
    rng = random.Random(82)
    columns = [
        "nir", "nir_key", "birth_name", "usage_name", "first_name", "birth_date", "caf_number", "msa_number",
        "commune_code", "rsa_start_date", "source", "birth_name_key", "usage_name_key", "first_name_key",
        "search_text", "created_at", "updated_at",
    ]  # fmt: skip
    now = timezone.now().isoformat()
    with connection.cursor() as cursor:
        copy_sql = f"COPY beneficiaries_beneficiary ({', '.join(columns)}) FROM STDIN"
        with cursor.cursor.copy(copy_sql) as copy:
            for index in range(count):
                sex = 1 + index % 2
                birth = date(1960, 1, 1) + timedelta(days=rng.randint(0, 16000))
                commune = commune_of(index + 1)
                nir = f"{sex}{birth:%y%m}{commune}{index % 1000:03d}"[:13] + f"{index % 97:02d}"
                birth_name = rng.choice(names)
                usage_name = rng.choice(names) if sex == 2 and rng.random() < 0.2 else ""
                first = rng.choice(first_names)
                caf = str(1000000 + index)
                search = " ".join(
                    p for p in (fold(birth_name), fold(usage_name), fold(first), nir[:13], caf) if p
                )
                copy.write_row(
                    [
                        nir,
                        nir[:13],
                        birth_name,
                        usage_name,
                        first,
                        birth,
                        caf,
                        "",
                        commune,
                        birth + timedelta(days=365 * 25),
                        "local",
                        name_key(birth_name),
                        name_key(usage_name),
                        name_key(first),
                        search,
                        now,
                        now,
                    ]  # fmt: skip
                )


def snapshot_columns(model) -> tuple[list[str], list[str]]:
    """Every column of the PECGM part, with an SQL expression over `b` (beneficiary), `r` (run), `m`."""
    special = {
        "nir": "b.nir_key",
        "birth_name": "upper(b.birth_name)",
        "usage_name": "upper(b.usage_name)",
        "first_name": "upper(b.first_name)",
        "birth_date": "b.birth_date",
        "commune_code": "b.commune_code",
        "caf_number": "b.caf_number",
        "registration_date": "date '2022-01-03' + (b.id % 700)::int",
        "category": "((b.id + r.m / 6) % 5 + 1)::text",
        "category_label": "'CATEGORIE ' || ((b.id + r.m / 6) % 5 + 1)::text",
        "ft_institution_code": "'076'",
        "ft_identifier": "lpad((1000000 + b.id)::text, 7, '0') || 'A'",
        # The last months: 13 % ceased (a third of them back to work), 9 % struck off.
        "cessation_date": "CASE WHEN b.id % 100 < 13 AND r.m >= {last} - 1 THEN r.reference_date - 9 END",
        "cessation_motive": "CASE WHEN b.id % 100 < 13 AND r.m >= {last} - 1 "
        "THEN (ARRAY['11','41','90'])[b.id % 3 + 1] ELSE '' END",
        "cessation_motive_label": "CASE WHEN b.id % 100 < 13 AND r.m >= {last} - 1 THEN (ARRAY["
        "'reprise d''emploi par ses propres moyens sur emploi durable à temps plein',"
        "'fin de stage ou de mesure','absence au contrôle (non réponse à DAM)'])[b.id % 3 + 1] "
        "ELSE '' END",
        "radiation_date": "CASE WHEN b.id % 100 BETWEEN 13 AND 21 AND r.m = {last} "
        "THEN r.reference_date - 5 END",
        "radiation_motive": "CASE WHEN b.id % 100 BETWEEN 13 AND 21 AND r.m = {last} THEN '21' ELSE '' END",
        "radiation_motive_label": "CASE WHEN b.id % 100 BETWEEN 13 AND 21 AND r.m = {last} "
        "THEN 'insuffisance de recherche d''emploi suspension de ... (durée variable)' ELSE '' END",
        "main_structure_name": f"(ARRAY{AGENCIES!r})[(b.id + r.m / 12) % {len(AGENCIES)} + 1]",
        "main_structure_postcode": "'82000'",
        "main_structure_post_office": "'MONTAUBAN'",
        "delegated_structure_name": "CASE WHEN b.id % 10 = 0 THEN 'CAP EMPLOI 82' ELSE '' END",
        "ft_counsellor": f"(ARRAY{COUNSELLORS!r})[b.id % {len(COUNSELLORS)} + 1]",
        # Signed a month after the registration, 90 %; in the records from the first stock after it
        # (before it: none). Some 44 % of the people sign within the 24 months: a « PPAE signé » each.
        "ppae_signature_date": "CASE WHEN b.id % 10 <> 1 AND date '2022-02-01' + (b.id % 700)::int "
        "<= r.reference_date THEN date '2022-02-01' + (b.id % 700)::int END",
        "work_axis": "'0' || ((b.id % 7) + 1)::text",
        "support_mode": "(ARRAY['GUI','REN','GLO','SUI','APR'])[(b.id + r.m / 4) % 5 + 1]",
        "last_contact_date": "r.reference_date - ((b.id + r.m) % 150)::int",
        "rome_code": "'K1302'",
        "rome_label": "'Assistance auprès d''adultes'",
    }
    names, expressions = [], []
    for field in model._meta.concrete_fields:
        if field.column in {
            "id",
            "beneficiary_id",
            "run_id",
            "record_number",
            "reference_date",
            "periodicity",
        }:
            continue
        if field.column in ("match_rule",):
            names.append(field.column)
            expressions.append("'nir'")
            continue
        if field.column not in {f.column for f in FollowUp._meta.concrete_fields}:
            continue
        if field.column in {"status", "source_snapshot_id", "absent_from_last_stock", "has_unknown_codes"}:
            continue
        names.append(field.column)
        if field.column in special:
            expressions.append(special[field.column])
        else:
            expressions.append("NULL" if field.null else "''")
    return names, expressions


def build_database(people: int, months: int) -> None:
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE beneficiaries_beneficiary, exchanges_importrun, orientations_referentbody, "
            "orientations_correspondent RESTART IDENTITY CASCADE"
        )
    last_names, male_names, female_names = name_lists()
    names = sorted(set(last_names))
    first_names = sorted(set(male_names) | set(female_names))
    started = time.perf_counter()
    copy_beneficiaries(people, names, first_names)
    print(f"  {people} beneficiaries (COPY): {time.perf_counter() - started:.1f} s", flush=True)

    runs = [
        ImportRun.objects.create(
            file_name=f"PECGM_082_{day:%Y%m%d}_M.xml",
            sha256=f"{index:064x}",
            reference_date=day,
            periodicity="M",
            status="imported",
            finished_at=timezone.now(),
        )
        for index, day in enumerate(month_ends(months))
    ]
    last = months - 1
    columns, expressions = snapshot_columns(JobSeekerSnapshot)
    select = ", ".join(expression.format(last=last) for expression in expressions)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bench_runs (m int, id bigint, reference_date date)")
        cursor.executemany(
            "INSERT INTO bench_runs VALUES (%s, %s, %s)",
            [(i, r.pk, r.reference_date) for i, r in enumerate(runs)],
        )
        # 85 % of the people are in France Travail's files; 2 % of those left before the last stock.
        cursor.execute(
            f"""
            INSERT INTO exchanges_jobseekersnapshot
                (beneficiary_id, run_id, record_number, reference_date, periodicity, {", ".join(columns)})
            SELECT b.id, r.id, b.id, r.reference_date, 'M', {select}
            FROM beneficiaries_beneficiary b CROSS JOIN bench_runs r
            WHERE b.id % 20 < 17 AND NOT (b.id % 50 = 0 AND r.m > {last} - 3)
            """
        )
        snapshots = cursor.rowcount
    print(f"  {snapshots} snapshots (INSERT … SELECT): {time.perf_counter() - started:.1f} s", flush=True)

    started = time.perf_counter()
    follow_columns = [c for c in columns if c != "match_rule"]
    # A full snapshot a month, as a database upgraded to the change-based history holds it:
    # follow-ups without a values digest yet (exchanges 0017); the next stock stores each once.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO exchanges_followup
                (beneficiary_id, status, reference_date, periodicity, source_snapshot_id,
                 absent_from_last_stock, has_unknown_codes, values_digest, updated_at,
                 {", ".join(follow_columns)})
            SELECT DISTINCT ON (s.beneficiary_id) s.beneficiary_id,
                CASE WHEN s.radiation_date IS NOT NULL THEN 'radie'
                     WHEN s.cessation_date IS NOT NULL THEN 'cessation' ELSE 'inscrit' END,
                s.reference_date, 'M', s.id, s.reference_date < %s, false, '', now(),
                {", ".join("s." + c for c in follow_columns)}
            FROM exchanges_jobseekersnapshot s
            ORDER BY s.beneficiary_id, s.reference_date DESC
            """,
            [LAST_MONTH],
        )
        last_run = runs[-1].pk
        first_run = runs[0].pk
        cursor.execute(
            """
            INSERT INTO exchanges_statusevent
                (beneficiary_id, run_id, date, kind, motive, motive_label, previous_value, new_value)
            SELECT beneficiary_id, %s, registration_date, 'new_registration', '', '', '', ''
                FROM exchanges_followup
            UNION ALL
            SELECT beneficiary_id, %s, cessation_date, 'cessation', cessation_motive,
                   cessation_motive_label, '', ''
                FROM exchanges_followup WHERE status = 'cessation'
            UNION ALL
            SELECT beneficiary_id, %s, radiation_date, 'radiation', radiation_motive,
                   radiation_motive_label, '', ''
                FROM exchanges_followup WHERE status = 'radie'
            """,
            [first_run, last_run, last_run],
        )
        # « PPAE signé »: as the imports would have written them, by the statement of the migration
        # that writes those of an existing history (the import's rule, over the snapshots).
        ppae = import_module("exchanges.migrations.0019_ppae_signed_event")
        tables = (model._meta.db_table for model in (StatusEvent, JobSeekerSnapshot, ImportRun))
        cursor.execute(ppae.backfill_sql(*tables), [ppae.PPAE_SIGNED, *ppae.SUCCESSFUL])
        ppae_events = cursor.rowcount
    body = ReferentBody.objects.create(
        name="CCAS DE MONTAUBAN", address="12 RUE DES PRAIRIES 82000 MONTAUBAN"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO orientations_orientationdecision
                (beneficiary_id, nature, decision_date, referent_body_id, recorded_at, changed_at, source)
            SELECT id, '0' || (id %% 6 + 1)::text, date '2023-01-02' + (id %% 700)::int, %s,
                   now(), now(), 'app'
            FROM beneficiaries_beneficiary WHERE id %% 10 < 7
            """,
            [body.pk],
        )
        cursor.execute("ANALYZE")
    print(
        f"  follow-ups, events ({ppae_events} PPAE signed), decisions: {time.perf_counter() - started:.1f} s",
        flush=True,
    )


# --- 2. The load --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(workers: int, threads: int) -> tuple[subprocess.Popen, str]:
    """gunicorn with the project's gunicorn.conf.py; `threads` > 1 means gthread workers."""
    port = free_port()
    env = {**os.environ, "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING"}
    env["PYTHONWARNINGS"] = "ignore::UserWarning"  # whitenoise: no collectstatic in the embedded mode
    env["WEB_CONCURRENCY"] = str(workers)
    env["GUNICORN_THREADS"] = str(threads)
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/healthz", timeout=10).status_code == 200:
                return process, url
        except requests.RequestException:
            time.sleep(0.3)
    process.terminate()
    process.wait(timeout=30)
    raise SystemExit("gunicorn did not start")


def bench_territories(count: int) -> list[tuple[Territory, list[int]]]:
    """`count` territories of consecutive communes (indexes in COMMUNES), the bench's own
    (named "Banc d'essai …", replaced on each run)."""
    Territory.objects.filter(name__startswith="Banc d'essai").delete()
    territories = []
    for number in range(count):
        communes = [i for i in range(len(COMMUNES)) if i * count // len(COMMUNES) == number]
        territory = Territory.objects.create(
            name=f"Banc d'essai {number + 1}/{count}", communes=" ".join(COMMUNES[i] for i in communes)
        )
        territories.append((territory, communes))
    return territories


def assign_caseloads(usernames: list[str], scopes: list[list[int]] | None) -> None:
    """Each bench user becomes the référent of CASELOAD people of their scope, none shared.

    Written in SQL (INSERT … SELECT): a user's people are the next CASELOAD of their scope by id,
    so that the users of one territory follow different people.
    """
    users = {user.username: user.pk for user in User.objects.filter(username__in=usernames)}
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM caseloads_assignment WHERE referent_id = ANY(%s)", [list(users.values())])
        for number, username in enumerate(usernames):
            communes = [COMMUNES[i] for i in scopes[number]] if scopes else COMMUNES
            cursor.execute(
                """
                INSERT INTO caseloads_assignment
                    (beneficiary_id, referent_id, structure, start_date, source, created_at, changed_at)
                SELECT b.id, %s, 'CCAS de Montauban', %s, 'csv', now(), now()
                FROM beneficiaries_beneficiary b
                WHERE b.commune_code = ANY(%s)
                  AND NOT EXISTS (
                    SELECT 1 FROM caseloads_assignment a WHERE a.beneficiary_id = b.id AND a.end_date IS NULL
                  )
                ORDER BY b.id
                LIMIT %s
                """,
                [users[username], LAST_MONTH, communes, CASELOAD],
            )
    print(f"  {len(usernames)} caseloads of {CASELOAD} people", flush=True)


def login_cookie(url: str, username: str) -> str:
    """Log in once through the real form; returns the Cookie header that carries the session."""
    session = requests.Session()
    session.get(f"{url}/connexion/", timeout=30)
    response = session.post(
        f"{url}/connexion/",
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        timeout=30,
    )
    if response.url.rstrip("/") != url:
        raise SystemExit(f"login failed for {username}: {response.status_code} {response.url}")
    return "; ".join(f"{name}={value}" for name, value in session.cookies.items())


def scenario_urls(
    rng: random.Random, people: int, names: list[str], communes: list[int] | None = None
) -> dict:
    """One URL per page kind, drawn at random; with `communes` (indexes in COMMUNES, a
    territory's), the beneficiary, the identifier searched and the commune filtered are in it."""
    surname = rng.choice(names)
    if communes is None:
        index = rng.randint(1, people)
    else:
        # Someone whose commune (commune_of) is one of the territory's.
        index = rng.randrange(people // len(COMMUNES)) * len(COMMUNES) + rng.choice(communes) + 1
    search = rng.choice(
        [
            surname,
            f"{surname} {rng.choice(['a', 'jean', 'marie', 'luc'])}",
            f"{1000000 + index:07d}A",
            fold(surname)[:4].lower(),
        ]
    )
    lists = rng.choice(
        [
            f"statut=inscrit&categorie={rng.randint(1, 5)}&tri=-contact",
            f"statut=cessation&motif_cessation=11&page={rng.randint(1, 5)}",
            f"axe=0{rng.randint(1, 7)}&modalite=REN&tri=-inscription",
            f"structure={AGENCIES[index % len(AGENCIES)].replace(' ', '+')}&contact_au=2024-12-01",
            f"nature=0{rng.randint(1, 6)}&commune={commune_of(index)}&tri=naissance",
            f"page={rng.randint(1, 200)}",
        ]
    )
    return {
        # The search form is POSTed: the text stays out of URLs.
        "search": ("/beneficiaires/", search),
        "list": f"/beneficiaires/?{lists}",
        "parcours": f"/beneficiaires/{index}/",
        "dashboard": "/beneficiaires/tableau-de-bord/",
        "cohort": f"/beneficiaires/cohortes/{rng.choice(COHORTS)}/",
        # « Mes bénéficiaires » (its news included) and the home page (caseload count, news, cohorts).
        "caseload": "/beneficiaires/mes-beneficiaires/",
        "home": "/",
    }


class Client:
    """One simulated user: a keep-alive http.client connection and the session cookie.

    http.client rather than requests: the client threads share the server's 2 cores, and
    requests' machinery cost several times more CPU per request. A server that closes the
    connection (gunicorn's sync workers do) is reconnected to on the next request.
    """

    def __init__(self, url: str, cookie: str):
        parsed = urlsplit(url)
        self.connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        self.headers = {"Cookie": cookie, "Host": "127.0.0.1"}
        self.csrf = dict(part.split("=", 1) for part in cookie.split("; ")).get("csrftoken", "")

    failures: list[str] = []  # what went wrong, for the report (shared by all clients)
    search_redirect = False  # --search-redirect

    def request(self, method: str, path: str, body: str | None = None, **extra: str) -> tuple[int, str]:
        """(status, Location) of one request; status 0 when no answer came."""
        headers = {**self.headers, **extra}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            response.read()
            if response.getheader("Connection", "").lower() == "close":
                self.connection.close()
            return response.status, response.getheader("Location", "")
        except (OSError, http.client.HTTPException) as exc:
            self.connection.close()
            self.failures.append(f"{type(exc).__name__}: {exc}"[:120])
            return 0, ""

    def get(self, path: str) -> int:
        return self.request("GET", path)[0]

    def search(self, path: str, text: str) -> int:
        """What the search box does in a browser with JavaScript: htmx POSTs the text and the
        list answers (`--search-redirect`: as without JavaScript, POST then the redirect's GET)."""
        body = f"csrfmiddlewaretoken={quote_plus(self.csrf)}&q={quote_plus(text)}"
        if not self.search_redirect:
            return self.request("POST", path, body, **{"HX-Request": "true"})[0]
        status, location = self.request("POST", path, body)
        if status != 303:
            return status or 0
        return self.get(location)


def cpu_seconds_busy() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def database_cpu() -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend connected to the bench database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        pids = [row[0] for row in cursor.fetchall()]
    connection.close()
    return {pid: process_cpu(pid) for pid in pids}


def process_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its live children (gunicorn's master and workers)."""
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            pids += [int(p) for p in children.read().split()]
    except OSError:
        pass
    return sum(process_cpu(one) for one in pids)


def load(
    url: str,
    cookies: list[str],
    people: int,
    total: int,
    max_seconds: float,
    *,
    think_ms: float = 0,
    server_pid: int | None = None,
    import_command: list[str] | None = None,
    import_delay: float = 5.0,
    after_import: float = 1.0,
    kinds: list[str] = KINDS,
    scopes: list[list[int] | None] | None = None,
) -> dict:
    """N clients in a closed loop: each sends its next request as soon as the previous answered
    (plus an optional think time). With `import_command`, the import runs while they browse and
    the load stops when it ends."""
    names = sorted(set(name_lists()[0]))
    samples: list[tuple[float, str, float, int]] = []  # (start, kind, ms, HTTP status or 0)
    lock = threading.Lock()
    remaining = [total if import_command is None else 10**9]
    stop = threading.Event()
    deadline = time.monotonic() + max_seconds
    imported: dict = {}

    def client(number: int) -> None:
        rng = random.Random(number)
        session = Client(url, cookies[number])
        turn = number
        while time.monotonic() < deadline and not stop.is_set():
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            kind = kinds[turn % len(kinds)]
            turn += 1
            target = scenario_urls(rng, people, names, scopes[number] if scopes else None)[kind]
            started = time.perf_counter()
            status = session.search(*target) if kind == "search" else session.get(target)
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                samples.append((started, kind, elapsed, status))
            if think_ms:
                time.sleep(rng.expovariate(1 / think_ms) / 1000)

    def run_import() -> None:
        time.sleep(import_delay)
        imported["start"] = time.perf_counter()
        result = subprocess.run(import_command, cwd=ROOT, capture_output=True, text=True)
        imported["end"] = time.perf_counter()
        imported["returncode"] = result.returncode
        imported["output"] = (result.stdout + result.stderr).strip()
        time.sleep(after_import)
        stop.set()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(len(cookies))]
    if import_command is not None:
        threads.append(threading.Thread(target=run_import))
    busy, own = cpu_seconds_busy(), resource.getrusage(resource.RUSAGE_SELF)
    server = process_tree_cpu(server_pid) if server_pid else 0.0
    database = database_cpu()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    own_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = {
        "machine": cpu_seconds_busy() - busy,
        "client": (own_after.ru_utime - own.ru_utime) + (own_after.ru_stime - own.ru_stime),
        "server": (process_tree_cpu(server_pid) - server) if server_pid else 0.0,
        "database": sum(cpu - database.get(pid, 0.0) for pid, cpu in database_cpu().items()),
        "cores": os.cpu_count() or 1,
    }
    return {"samples": samples, "seconds": seconds, "cpu": cpu, "import": imported}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def report_samples(samples: list[tuple[float, str, float, int]], seconds: float, title: str) -> None:
    print(f"\n{title}")
    print(f"{'page':<10} {'n':>6} {'err':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    by_kind: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    statuses: dict[tuple[str, int], int] = defaultdict(int)
    for _start, kind, elapsed, status in samples:
        by_kind[kind].append(elapsed)
        if status != 200:
            errors[kind] += 1
            statuses[(kind, status)] += 1
    for kind, values in sorted(by_kind.items()):
        p50, p95, p99 = (percentile(values, f) for f in (0.5, 0.95, 0.99))
        print(
            f"{kind:<10} {len(values):>6} {errors[kind]:>4} {p50:>8.1f} {p95:>8.1f} {p99:>8.1f} "
            f"{statistics.mean(values):>8.1f}"
        )
    count = len(samples)
    print(f"{count} requests in {seconds:.1f} s ({count / seconds:.0f} req/s), {sum(errors.values())} errors")
    for (kind, status), n in sorted(statuses.items()):
        print(
            f"  {kind}: {n} × " + (f"HTTP {status}" if status else "no answer (connection error or timeout)")
        )
    for failure in sorted(set(Client.failures))[:5]:
        print(f"    {failure}")


def write_samples(result: dict, path: Path) -> None:
    """Every request as a CSV row (seconds from the load's start, page, ms, HTTP status, and the
    clock time to set beside the database's logs), and the import's start and end as rows of their
    own: where the slow requests fall in time."""
    samples, imported = result["samples"], result["import"]
    origin = min((s[0] for s in samples), default=0.0)
    clock = time.time() - time.perf_counter()  # perf_counter() + clock = Unix time
    rows = sorted(samples) + [(imported[m], f"import-{m}", 0.0, 0) for m in ("start", "end") if m in imported]
    with path.open("w") as out:
        out.write("second,page,ms,status,unix_time\n")
        for started, kind, ms, status in sorted(rows):
            out.write(f"{started - origin:.3f},{kind},{ms:.1f},{status},{started + clock:.3f}\n")
    print(f"\nSamples: {path}")


def report(result: dict) -> None:
    samples, seconds = result["samples"], result["seconds"]
    report_samples(samples, seconds, "Whole run")
    cpu = result["cpu"]
    capacity = seconds * cpu["cores"]
    print(
        f"CPU over the run ({cpu['cores']} cores, {capacity:.0f} core-seconds): machine busy "
        f"{cpu['machine']:.1f} s ({100 * cpu['machine'] / capacity:.0f} %), of which the bench client "
        f"{cpu['client']:.1f} s ({100 * cpu['client'] / capacity:.0f} % of the machine), gunicorn "
        f"{cpu['server']:.1f} s, PostgreSQL (the bench database's backends) {cpu['database']:.1f} s, "
        f"the rest (PostgreSQL's parallel workers, the import, other processes) "
        f"{cpu['machine'] - cpu['client'] - cpu['server'] - cpu['database']:.1f} s"
    )
    imported = result["import"]
    if imported:
        during = [s for s in samples if imported["start"] <= s[0] <= imported["end"]]
        duration = imported["end"] - imported["start"]
        print(f"\nImport: exit status {imported['returncode']}, {duration:.1f} s")
        print("  " + imported["output"].replace("\n", "\n  ")[:2000])
        if during:
            report_samples(during, duration, "While the import ran")
        after = [s for s in samples if s[0] > imported["end"]]
        if after:
            # The data version changes at the import's commit: the counts are computed again.
            span = max(s[0] for s in after) - imported["end"]
            report_samples(after, max(span, 1.0), f"In the {span:.0f} s after the import")


def next_import_file(records: int, path: Path) -> list[str]:
    """A PECGM of the next month for `records` people of the bench database (exchanges.synthetic)."""
    from exchanges.synthetic import fake_pecgm_records, month_end, write_pecgm

    newest = ImportRun.objects.order_by("-reference_date").values_list("reference_date", flat=True).first()
    reference = month_end(month_end(newest or LAST_MONTH) + timedelta(days=1))
    people = Beneficiary.objects.order_by("id").values(*PERSON_FIELDS)[:records]
    written = write_pecgm(
        path,
        fake_pecgm_records(
            people.iterator(chunk_size=5000), records, seed=reference.toordinal(), reference_date=reference
        ),
        reference_date=reference,
    )
    print(f"  {path}: {written} records of {reference:%d/%m/%Y}", flush=True)
    return [sys.executable, "manage.py", "import_pecgm", str(path)]


# --- 3. The plans ---------------------------------------------------------------------------


def explain(people: int, username: str, communes: list[int] | None = None) -> None:
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(User.objects.get(username=username))
    rng = random.Random(1)
    names = sorted(set(name_lists()[0]))
    for kind, target in scenario_urls(rng, people, names, communes).items():
        if kind == "search":  # the list the search form redirects to
            path, text = target
            target = client.post(path, {"q": text}, HTTP_HOST="127.0.0.1")["Location"]
        client.get(target, HTTP_HOST="127.0.0.1")  # fills the caches (filter choices, counts)
        with CaptureQueriesContext(connection) as queries:
            status = client.get(target, HTTP_HOST="127.0.0.1").status_code
        mine = [
            q
            for q in queries.captured_queries
            if q["sql"].lstrip().upper().startswith("SELECT") and "django_session" not in q["sql"]
        ]
        slowest = sorted(mine, key=lambda q: -float(q["time"]))[:3]
        print(f"\n=== {kind} {target}: HTTP {status}, {len(queries.captured_queries)} queries")
        for query in slowest:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
                plan = "\n".join(row[0] for row in cursor.fetchall())
            print(f"--- {float(query['time']) * 1000:.1f} ms: {query['sql'][:300]}…\n{plan}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--max-seconds", type=float, default=60)
    parser.add_argument("--warmup-seconds", type=float, default=10, help="load not counted, to warm caches")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (gthread when > 1)")
    parser.add_argument(
        "--think-ms", type=float, default=0, help="mean think time per client (NOT the target's figure)"
    )
    parser.add_argument(
        "--with-import", metavar="FILE", help="run `manage.py import_pecgm FILE` during the load"
    )
    parser.add_argument(
        "--import-delay", type=float, default=5.0, help="seconds of browsing before the import"
    )
    parser.add_argument(
        "--search-redirect",
        action="store_true",
        help="search as a browser without JavaScript does: POST, then the list the redirect names",
    )
    parser.add_argument(
        "--after-import",
        type=float,
        default=15.0,
        help="with --with-import: seconds of browsing after the import ends, reported apart",
    )
    parser.add_argument(
        "--samples",
        type=Path,
        help="write every measured request (second, page, ms, status) to this CSV file",
    )
    parser.add_argument(
        "--import-nice",
        type=int,
        default=10,
        help="with --with-import: the import's niceness, as the production Celery worker's (0: none)",
    )
    parser.add_argument(
        "--import-records",
        type=int,
        default=0,
        help="with --with-import: first write FILE, next month's stock for this many people of the database",
    )
    parser.add_argument(
        "--only", help=f"comma-separated page kinds to request ({','.join(KINDS)}): what each one costs"
    )
    parser.add_argument(
        "--territories",
        type=int,
        default=0,
        help="split the communes into this many territories; each client is a social worker limited to one",
    )
    parser.add_argument("--reuse", action="store_true", help="keep the database if it has the people already")
    parser.add_argument(
        "--explain", action="store_true", help="print EXPLAIN ANALYZE of each page's slowest queries"
    )
    args = parser.parse_args()
    Client.search_redirect = args.search_redirect
    if connection.vendor != "postgresql":
        raise SystemExit("bench/pages.py needs PostgreSQL: set DATABASE_URL")
    logging.disable(logging.INFO)  # login messages of django-axes

    print(f"Database: {args.people} beneficiaries × {args.months} months", flush=True)
    if not (args.reuse and Beneficiary.objects.count() >= args.people):
        build_database(args.people, args.months)
    else:
        print("  reused", flush=True)
    users = [f"bench{n}" for n in range(args.clients)]
    territories = bench_territories(args.territories)
    # Without territories, users who see the whole Département; with them, social workers who
    # each see one territory (client n the n-th, in turn), as most users of a large Département do.
    assigned = [territories[number % len(territories)] for number in range(len(users))] if territories else []
    for number, username in enumerate(users):
        user, _created = User.objects.get_or_create(username=username)
        user.role = "social_worker" if assigned else "orientation_officer"
        user.set_password(PASSWORD)
        user.save()
        user.territories.set([assigned[number][0]] if assigned else [])
    scopes = [communes for _territory, communes in assigned] or None
    assign_caseloads(users, scopes)
    counts = {
        "snapshots": JobSeekerSnapshot.objects.count(),
        "follow-ups": FollowUp.objects.count(),
        "events": StatusEvent.objects.count(),
        "decisions": OrientationDecision.objects.count(),
    }
    print("  " + ", ".join(f"{n} {name}" for name, n in counts.items()), flush=True)
    import_command = None
    if args.with_import:
        path = Path(args.with_import)
        if args.import_records:
            import_command = next_import_file(args.import_records, path)
        elif not path.is_file():
            raise SystemExit(f"{path}: no such file (or give --import-records N to write it)")
        else:
            import_command = [sys.executable, "manage.py", "import_pecgm", str(path.resolve())]
        if args.import_nice:
            # As the production worker runs it (docker-compose.yml): the import yields the cores.
            import_command = ["nice", "-n", str(args.import_nice), *import_command]
    connection.close()

    if args.explain:
        explain(args.people, users[0], scopes[0] if scopes else None)
    process, url = start_server(args.workers, args.threads)
    try:
        cookies = [login_cookie(url, username) for username in users]
        if args.warmup_seconds:
            load(url, cookies, args.people, 10**9, args.warmup_seconds, scopes=scopes)
        kind = f"gthread, {args.threads} threads each" if args.threads > 1 else "sync"
        print(
            f"\nLoad: {args.clients} clients in a closed loop "
            + (f"with a mean think time of {args.think_ms:.0f} ms " if args.think_ms else "(no think time) ")
            + (
                f"while {' '.join(part for part in import_command if part != sys.executable)} runs"
                if import_command
                else f"{args.requests} requests at most"
            )
            + f", {args.max_seconds:.0f} s at most, gunicorn {args.workers} workers ({kind}) on {url}, "
            + (
                f"social workers each limited to one of {len(territories)} territories "
                f"(~{args.people // len(territories)} people each), "
                if territories
                else "users who see the whole Département, "
            )
            + (
                "cache shared in Redis (CACHE_URL, as in production)"
                if os.environ.get("CACHE_URL") or os.environ.get("REDIS_URL")
                else "a cache per worker process (set CACHE_URL=redis://… as production does)"
            ),
            flush=True,
        )
        result = load(
            url,
            cookies,
            args.people,
            args.requests,
            args.max_seconds,
            think_ms=args.think_ms,
            server_pid=process.pid,
            import_command=import_command,
            import_delay=args.import_delay,
            after_import=args.after_import,
            kinds=args.only.split(",") if args.only else KINDS,
            scopes=scopes,
        )
        report(result)
        if args.samples:
            write_samples(result, args.samples)
    finally:
        process.terminate()
        process.wait(timeout=30)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
