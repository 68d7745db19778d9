"""CGPEM benchmark: generate_cgpem beside a bare lxml write of the same records.

    DATABASE_URL=postgres://USER:PASS@127.0.0.1:5432/liaison_cgpem_bench \\
        python bench/cgpem.py [N=150000] [--populate-only | --reuse] [--repeat 3] [--profile FILE]

Without DATABASE_URL, a throw-away SQLite database. With it, THAT DATABASE IS
EMPTIED (never point it at real data; its name must contain "bench"): N
synthetic beneficiaries with one decision each (Faker fr_FR names, one in 500
with œ, Ł or ’ to transliterate).
`--populate-only` builds it and stops; `--reuse` keeps a database that already
holds N decisions (build outside the bench lock, measure inside it).

Then, `--repeat` times, each in a fresh forked process (so that one part's heap
does not weigh on the other, and the peak memory is the part's own):

- `bare lxml`: the same records, fetched and formatted beforehand (not timed),
  written with lxml.etree.xmlfile (no database, no fitting, no validation);
- `generate_cgpem`: the whole export (database read, fitting and
  transliteration, layout-driven writer, XSD validation, SHA-256, archive).

Prints seconds, records per second, the peak resident memory of the run's
process (the bare write's includes its records, loaded beforehand), and the
ratio of the medians (target: at most 2×). `--profile FILE`
also writes a cProfile of one generate_cgpem run (read it with pstats).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pickle
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# A throw-away file archive (and SQLite database when no DATABASE_URL is given): never the
# installation's own.
WORKDIR = tempfile.TemporaryDirectory(prefix="bench-cgpem-")
os.environ["DATA_DIR"] = WORKDIR.name
os.environ["EXCHANGE_FILES_DIR"] = str(Path(WORKDIR.name) / "files")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.utils import timezone  # noqa: E402
from faker import Faker  # noqa: E402
from lxml import etree  # noqa: E402

from beneficiaries.demo import DEMO_COMMUNES, make_nir  # noqa: E402
from beneficiaries.models import Beneficiary  # noqa: E402
from contract.layouts import CGPEM  # noqa: E402
from orientations.cgpem import generate_cgpem  # noqa: E402
from orientations.models import Correspondent, OrientationDecision, ReferentBody  # noqa: E402

PERIOD_END = date(2025, 1, 31)
ODD_NAMES = ["D’Œuvray", "Łukasiewicz", "Cœurdevey", "N’Diaye", "Şahin"]


def populate(count: int) -> None:
    fake = Faker("fr_FR")
    fake.seed_instance(150)
    rng = random.Random(150)
    bodies = ReferentBody.objects.bulk_create(
        ReferentBody(name=f"Organisme référent {n}", address=f"{n} rue de la République 82000 Montauban")
        for n in range(20)
    )
    correspondents = Correspondent.objects.bulk_create(
        Correspondent(
            referent_body=body,
            last_name=fake.last_name(),
            first_name=fake.first_name(),
            phone=f"05630000{n:02d}",
            email=f"correspondant{n}@example.fr",
            service="Service insertion RSA",
        )
        for n, body in enumerate(bodies * 3)
    )
    batch = 10_000
    for start in range(0, count, batch):
        people = []
        for index in range(start, min(start + batch, count)):
            birth = fake.date_of_birth(minimum_age=18, maximum_age=64)
            commune = rng.choice(DEMO_COMMUNES)
            sex = rng.choice((1, 2))
            person = Beneficiary(
                nir=make_nir(rng, sex, birth, commune),
                birth_name=ODD_NAMES[index % 5] if index % 500 == 0 else fake.last_name(),
                first_name=fake.first_name_male() if sex == 1 else fake.first_name_female(),
                birth_date=birth,
                commune_code=commune,
            )
            person.refresh_keys()  # bulk_create skips save()
            people.append(person)
        people = Beneficiary.objects.bulk_create(people)
        now = timezone.now()
        decisions = []
        for person in people:
            correspondent = rng.choice(correspondents)
            decisions.append(
                OrientationDecision(
                    beneficiary=person,
                    nature=f"0{rng.randint(1, 6)}",
                    decision_date=PERIOD_END - timedelta(days=rng.randint(0, 700)),
                    referent_body_id=correspondent.referent_body_id,
                    correspondent=correspondent,
                    changed_at=now,
                )
            )
        OrientationDecision.objects.bulk_create(decisions)


def records_in_memory() -> list[dict]:
    """The records as the export writes them, fetched beforehand (not timed)."""
    rows = OrientationDecision.objects.values_list(
        "beneficiary__nir_key",
        "beneficiary__birth_name",
        "beneficiary__first_name",
        "beneficiary__birth_date",
        "nature",
        "decision_date",
        "referent_body__name",
        "referent_body__address",
        "correspondent__last_name",
        "correspondent__first_name",
        "correspondent__phone",
        "correspondent__email",
        "correspondent__service",
    )
    names = [
        "nir",
        "birth_name",
        "first_name",
        "birth_date",
        "nature",
        "decision_date",
        "body",
        "address",
        "correspondent_last_name",
        "correspondent_first_name",
        "correspondent_phone",
        "correspondent_email",
        "correspondent_service",
    ]
    records = []
    for row in rows.iterator(chunk_size=5000):
        values = dict(zip(names, row, strict=True))
        values["birth_name"] = values["birth_name"].replace("’", "'")
        values["birth_date"] = values["birth_date"].strftime("%Y%m%d")
        values["decision_date"] = values["decision_date"].strftime("%Y%m%d")
        values["referent_body"] = f"{values.pop('body')} {values.pop('address')}"
        records.append(values)
    return records


def bare_write(records: list[dict], path: Path) -> int:
    """The floor: lxml writing pre-formatted values, nothing else."""
    fields = [(item.tag, item.attr) for item in CGPEM.detail.fields]
    with etree.xmlfile(str(path), encoding="ISO-8859-1") as xf:
        xf.write_declaration()
        with xf.element("CGPEM"):
            for values in records:
                element = etree.Element("ORIENTATION")
                for tag, attr in fields:
                    text = values.get(attr)
                    if text:
                        etree.SubElement(element, tag).text = text.encode("latin-1", "replace").decode(
                            "latin-1"
                        )
                xf.write(element, "\n")
    return len(records)


def in_child(task):
    """Run task() in a forked process: (its result, its peak resident memory in MiB, its CPU seconds).

    The CPU time, beside the wall-clock time, shows what the run asked of the processor (the bare
    write's includes fetching its records, which its wall-clock time does not).
    """
    connections.close_all()  # a connection is never shared across a fork
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        os.close(reader)
        try:
            result = task()
            payload = pickle.dumps(("ok", result))
        except BaseException as exc:  # noqa: BLE001 (reported by the parent)
            payload = pickle.dumps(("error", repr(exc)))
        with os.fdopen(writer, "wb") as pipe:
            pipe.write(payload)
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        status, result = pickle.loads(pipe.read())
    _pid, _status, usage = os.wait4(pid, 0)
    if status != "ok":
        raise SystemExit(f"benchmark run failed: {result}")
    return result, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def timed_bare() -> tuple[float, int]:
    records = records_in_memory()
    connections.close_all()
    start = time.perf_counter()
    written = bare_write(records, Path(WORKDIR.name) / "bare.xml")
    return time.perf_counter() - start, written


def timed_generate(profile: str | None = None) -> tuple[float, dict]:
    profiler = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    export = generate_cgpem("M", PERIOD_END, created_by="bench")
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    seconds = time.perf_counter() - start
    Path(export.path).unlink()
    return seconds, {
        "records": export.records,
        "excluded": len(export.excluded),
        "transliterations": len(export.transliterations),
        "warnings": len(export.warnings),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=150_000)
    parser.add_argument("--populate-only", action="store_true", help="build the database and stop")
    parser.add_argument("--reuse", action="store_true", help="keep a database that holds N decisions")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each part (default 3)")
    parser.add_argument("--profile", help="write a cProfile of one generate_cgpem run to this file")
    options = parser.parse_args()

    engine = connection.vendor
    call_command("migrate", verbosity=0)
    if options.reuse and OrientationDecision.objects.count() == options.count:
        print(f"{options.count} decisions in the {engine} database, reused", flush=True)
    else:
        if options.reuse:
            print("--reuse: the database does not hold exactly N decisions; rebuilding it", flush=True)
        name = str(connection.settings_dict["NAME"])
        if engine != "sqlite" and "bench" not in name:
            raise SystemExit(f"refusing to empty the database {name!r}: its name must contain 'bench'")
        call_command("flush", interactive=False, verbosity=0)
        start = time.perf_counter()
        populate(options.count)
        if engine == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        print(
            f"{options.count} decisions in a throw-away {engine} database, "
            f"built in {time.perf_counter() - start:.1f} s",
            flush=True,
        )
    if options.populate_only:
        return
    print(f"load average before the runs: {' '.join(f'{n:.2f}' for n in os.getloadavg())}", flush=True)

    bare_runs, full_runs = [], []
    for run in range(options.repeat):
        (bare, written), bare_mem, bare_cpu = in_child(timed_bare)
        print(
            f"bare lxml       {bare:7.2f} s  cpu {bare_cpu:5.2f} s  {written / bare:7.0f} rec/s  "
            f"peak RSS {bare_mem:4.0f} MiB",
            flush=True,
        )
        profile = options.profile if run == 0 else None
        (full, summary), full_mem, full_cpu = in_child(lambda profile=profile: timed_generate(profile))
        print(
            f"generate_cgpem  {full:7.2f} s  cpu {full_cpu:5.2f} s  {summary['records'] / full:7.0f} rec/s  "
            f"peak RSS {full_mem:4.0f} MiB  ×{full / bare:.2f}  "
            f"({summary['records']} written, {summary['excluded']} excluded, "
            f"{summary['transliterations']} transliterations, {summary['warnings']} warnings)",
            flush=True,
        )
        bare_runs.append(bare)
        full_runs.append(full)
    bare, full = statistics.median(bare_runs), statistics.median(full_runs)
    pairs = statistics.median(f / b for f, b in zip(full_runs, bare_runs, strict=True))
    print(
        f"median of {options.repeat}: bare lxml {bare:.2f} s, generate_cgpem {full:.2f} s; "
        f"ratio generate_cgpem / bare lxml: {full / bare:.2f} (median of the runs' ratios {pairs:.2f}; "
        "target ≤ 2)"
    )
    print(f"load average after the runs: {' '.join(f'{n:.2f}' for n in os.getloadavg())}")


if __name__ == "__main__":
    main()
