"""Parse benchmark: a bare lxml iterparse beside the PECGM reader, on the same synthetic file.

    .venv/bin/python bench/parse.py [N=50000] [--keep FILE]

Prints seconds, records per second, the ratio to the bare parse and the
peak Python memory (tracemalloc) of each pass, plus the process's peak RSS.
The full import benchmark (database included) is bench/import.py.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from lxml import etree  # noqa: E402

from exchanges.pecgm_reader import read_pecgm  # noqa: E402
from exchanges.synthetic import fake_pecgm_records, write_pecgm  # noqa: E402

REFERENCE_DATE = date(2025, 1, 31)


def bare(path: Path) -> int:
    count = 0
    for _, element in etree.iterparse(str(path), events=("end",), tag="DETAIL"):
        count += 1
        element.clear(keep_tail=True)
        while element.getprevious() is not None:
            del element.getparent()[0]
    return count


def reader(path: Path) -> int:
    return read_pecgm(path, departement="82").validate().record_count


def measure(label: str, function, path: Path, baseline: float | None) -> float:
    start = time.perf_counter()
    count = function(path)
    seconds = time.perf_counter() - start
    # A second pass for memory: tracemalloc slows Python code down, not lxml's C.
    tracemalloc.start()
    function(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    ratio = f"  ×{seconds / baseline:.2f}" if baseline else ""
    print(f"{label:<14} {seconds:7.2f} s  {count / seconds:9.0f} rec/s  peak {peak / 2**20:6.1f} MiB{ratio}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=50_000)
    parser.add_argument("--keep", help="write the file here and keep it")
    options = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    path = Path(options.keep) if options.keep else Path(folder.name) / "PECGM_082_20250131_M.xml"
    start = time.perf_counter()
    records = fake_pecgm_records(None, options.count, seed=1, reference_date=REFERENCE_DATE)
    write_pecgm(path, records, reference_date=REFERENCE_DATE, departement="82")
    print(
        f"{options.count} records, {path.stat().st_size / 2**20:.1f} MiB, "
        f"generated and written in {time.perf_counter() - start:.1f} s"
    )
    baseline = measure("bare iterparse", bare, path, None)
    measure("PECGM reader", reader, path, baseline)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the whole process: {rss:.0f} MiB")
    folder.cleanup()


if __name__ == "__main__":
    main()
