"""Write a realistic synthetic PECGM of N records and the matching beneficiaries CSV.

    .venv/bin/python bench/make_pecgm.py N OUT [--next OUT2] [--seed S] [--date YYYY-MM-DD]

- OUT: the monthly stock (ISO-8859-1, the contract's layout), N records: 90 %
  people the Département knows, 10 % people it does not (they will be created
  "known only from France Travail" and listed for review). The status mix is
  that of a real stock (exchanges/synthetic.py): most registered in
  categories 1 to 5, some ceased or struck off, with motives.
- OUT's name with `.beneficiaires.csv` instead of `.xml`: the Département's
  beneficiaries (`manage.py import_beneficiaries` loads it), the known 90 %
  plus as many again who are not in France Travail's file (RSA beneficiaries
  who are not job seekers), in the columns of intake/beneficiary_csv.py.
- `--next OUT2`: the following month's stock, about 10 % of the people
  changed (cessations, radiations, structure changes, people leaving and
  entering).

Everything is Faker fr_FR, deterministic for a seed: never real data.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from beneficiaries.demo import fake_people  # noqa: E402
from exchanges.synthetic import COMMUNES, fake_pecgm_records, month_end, next_month, write_pecgm  # noqa: E402
from intake.beneficiary_csv import FIELDS  # noqa: E402

KNOWN_SHARE = 0.9


def csv_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".xml") + ".beneficiaires.csv")


def write_beneficiaries(path: Path, people: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(FIELDS)
        for person in people:
            writer.writerow([_csv_value(person.get(name)) for name in FIELDS.values()])


def _csv_value(value) -> str:
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return value or ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, help="records in the PECGM file")
    parser.add_argument("out", type=Path, help="the PECGM file to write (…_M.xml)")
    parser.add_argument("--next", type=Path, dest="next_out", help="also write the next month's stock here")
    parser.add_argument("--seed", type=int, default=82)
    parser.add_argument("--date", type=date.fromisoformat, default=date(2025, 1, 31), help="reference date")
    options = parser.parse_args()

    started = time.perf_counter()
    known = round(options.count * KNOWN_SHARE)
    # The Département knows more people than France Travail does: the CSV has
    # the known share of the file plus as many beneficiaries who are not job seekers.
    people = fake_people(2 * known, seed=options.seed, communes=COMMUNES)
    write_beneficiaries(csv_path(options.out), people)
    records = fake_pecgm_records(
        people[:known], options.count, seed=options.seed, reference_date=options.date
    )
    if options.next_out is None:
        written = write_pecgm(options.out, records, reference_date=options.date)
    else:
        # Keep this month's records (plain dicts) to derive the next month from them.
        records = list(records)
        written = write_pecgm(options.out, records, reference_date=options.date)
        following_date = month_end(month_end(options.date) + timedelta(days=1))
        following = next_month(records, seed=options.seed + 1, reference_date=following_date)
        write_pecgm(options.next_out, following, reference_date=following_date)
    print(
        f"{options.out}: {written} records, {options.out.stat().st_size / 1e6:.1f} MB; "
        f"{csv_path(options.out)}: {len(people)} beneficiaries; {time.perf_counter() - started:.1f} s"
    )
    if options.next_out is not None:
        print(f"{options.next_out}: {options.next_out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
