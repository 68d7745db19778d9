"""Benchmark the PECGM import: printed figures, not a test.

    DATABASE_URL=postgres://... python bench/import.py 10000 50000 150000

For each N: a database populated with N beneficiaries (90 % of them in the
file, the rest of the file is people the Département does not know: the
files of bench/make_pecgm.py), then

- bare: `lxml.etree.iterparse(file)`, every element cleared as it ends
  (the plain idiom: the floor the targets are measured against);
- bare-tag: the same with lxml's tag filter (`tag="DETAIL"`), each record
  cleared and dropped: lxml does even less work in C; printed for comparison;
- reader: one pass of the hardened reader, nothing written;
- first: the full import of the month's stock (after a VACUUM ANALYZE, see
  `settle`, as before the next one);
- next: the next month's stock, about 10 % of the people changed;
- again: the same file re-delivered (a duplicate: hashed, not parsed).

Each step runs in a forked child; its peak memory is printed as the max RSS
of the process (Django and the pages inherited from the parent included) and,
in brackets, the growth during the step. Prints seconds, records/s, the ratio
to the bare parse and the peak memory. THE DATABASE IS EMPTIED: never point
it at real data.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from lxml import etree  # noqa: E402

from beneficiaries.demo import fake_people  # noqa: E402
from beneficiaries.models import Beneficiary  # noqa: E402
from exchanges.pecgm_import import import_pecgm  # noqa: E402
from exchanges.pecgm_reader import read_pecgm  # noqa: E402
from exchanges.synthetic import fake_pecgm_records, next_month, write_pecgm  # noqa: E402

JAN, FEB = date(2025, 1, 31), date(2025, 2, 28)
FIRST, SECOND = "PECGM_082_20250131_M.xml", "PECGM_082_20250228_M.xml"


def in_child(step, *args) -> dict:
    """Run `step(*args)` in a forked process; return its result with seconds and peak memory."""
    connections.close_all()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        start_mb = _rss_mb()
        started = time.perf_counter()
        result = step(*args)
        result["seconds"] = time.perf_counter() - started
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        # A forked child starts with its parent's pages: the growth is the step's own.
        result["growth_mb"] = result["peak_mb"] - start_mb
        connections.close_all()
        with os.fdopen(write_end, "w") as out:
            json.dump(result, out)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as data:
        text = data.read()
    os.waitpid(pid, 0)
    return json.loads(text)


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def reader_pass(path: str) -> dict:
    """One pass of the project's hardened reader, nothing else."""
    return {"records": sum(1 for _record in read_pecgm(path).records())}


def bare_parse(path: str) -> dict:
    count = 0
    for _event, element in etree.iterparse(path, resolve_entities=False):
        element.clear()
        count += element.tag == "DETAIL"
    return {"records": count}


def bare_tag_parse(path: str) -> dict:
    count = 0
    for _event, element in etree.iterparse(path, events=("end",), tag="DETAIL", resolve_entities=False):
        count += 1
        element.clear(keep_tail=True)
        while element.getprevious() is not None:
            del element.getparent()[0]
    return {"records": count}


def full_import(path: str) -> dict:
    run = import_pecgm(path, started_by="command")
    return {"records": run.records, "status": str(run.status)}


def prepare(n: int, folder: str) -> dict:
    """The database and the two files, made in a child so that the parent stays lean.

    (Each step forks from the parent: its peak memory must not include these.)
    """
    call_command("flush", interactive=False, verbosity=0)
    people = fake_people(n, seed=n)
    Beneficiary.objects.bulk_create((_beneficiary(person) for person in people), batch_size=5000)
    known = people[: int(n * 0.9)]
    january = list(fake_pecgm_records(known, n, seed=n, reference_date=JAN))
    write_pecgm(Path(folder) / FIRST, january, reference_date=JAN)
    write_pecgm(
        Path(folder) / SECOND, next_month(january, seed=n + 1, reference_date=FEB), reference_date=FEB
    )
    return {}


def settle() -> dict:
    """PostgreSQL: vacuum and analyse now, as autovacuum does in the month between two files.

    Without it, autovacuum takes up the rows the step before wrote (150 000
    people, then 300 000 snapshots and follow-ups) whenever it wakes up, often
    in the middle of the next timed import, on the same two cores: a random
    second or two on a 13 s import.
    """
    if connections["default"].vendor == "postgresql":
        with connections["default"].cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return {}


def _beneficiary(values: dict) -> Beneficiary:
    beneficiary = Beneficiary(**values)
    beneficiary.refresh_keys()
    return beneficiary


def show(label: str, result: dict, bare: dict, bare_tag: dict) -> None:
    rate = result.get("records", 0) / result["seconds"] if result["seconds"] else 0
    ratio, ratio_tag = result["seconds"] / bare["seconds"], result["seconds"] / bare_tag["seconds"]
    print(
        f"  {label:<8} {result['seconds']:8.2f} s  {rate:9.0f} rec/s  "
        f"{ratio:5.2f}× bare ({ratio_tag:5.2f}× bare-tag)  "
        f"peak {result['peak_mb']:6.0f} MB (+{result['growth_mb']:4.0f})  "
        f"{result.get('status', '')}"
    )


def main(sizes: list[int]) -> None:
    vendor = connections["default"].vendor
    print(f"PECGM import benchmark on {vendor}, {os.cpu_count()} CPU")
    call_command("migrate", verbosity=0)
    for n in sizes:
        with tempfile.TemporaryDirectory() as folder:
            in_child(prepare, n, folder)
            first_path, second_path = str(Path(folder) / FIRST), str(Path(folder) / SECOND)
            size = os.path.getsize(first_path) / 1e6
            print(f"N = {n} ({size:.0f} MB)")
            bare, bare_tag = in_child(bare_parse, first_path), in_child(bare_tag_parse, first_path)
            show("bare", bare, bare, bare_tag)
            show("bare-tag", bare_tag, bare, bare_tag)
            show("reader", in_child(reader_pass, first_path), bare, bare_tag)
            in_child(settle)
            show("first", in_child(full_import, first_path), bare, bare_tag)
            in_child(settle)
            bare_next, bare_tag_next = (
                in_child(bare_parse, second_path),
                in_child(bare_tag_parse, second_path),
            )
            show("next", in_child(full_import, second_path), bare_next, bare_tag_next)
            show("again", in_child(full_import, second_path), bare_next, bare_tag_next)


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [10000])
