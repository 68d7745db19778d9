"""CGPEM benchmark: generate_cgpem beside a bare lxml write of the same records.

    .venv/bin/python bench/cgpem.py [N=150000]

Builds N synthetic beneficiaries with one decision each (Faker fr_FR names,
a few with œ, Ł or ’ to transliterate) in a throw-away SQLite database, then
times:

- `bare lxml`: the same records, already in memory, written with
  lxml.etree.xmlfile (no database, no fitting, no validation);
- `generate_cgpem`: the whole export (database read, fitting and
  transliteration, layout-driven writer, streaming XSD validation, SHA-256,
  archive).

Prints seconds, records per second and the ratio (target: at most 2×).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# A throw-away database and file archive: never the installation's own.
WORKDIR = tempfile.TemporaryDirectory(prefix="bench-cgpem-")
os.environ.pop("DATABASE_URL", None)
os.environ["DATA_DIR"] = WORKDIR.name
os.environ["EXCHANGE_FILES_DIR"] = str(Path(WORKDIR.name) / "files")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402
from faker import Faker  # noqa: E402
from lxml import etree  # noqa: E402

from beneficiaries.demo import DEMO_COMMUNES, make_nir  # noqa: E402
from beneficiaries.models import Beneficiary  # noqa: E402
from exchanges.layouts import CGPEM  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=150_000)
    options = parser.parse_args()

    call_command("migrate", verbosity=0)
    start = time.perf_counter()
    populate(options.count)
    print(
        f"{options.count} decisions in a throw-away SQLite database, "
        f"built in {time.perf_counter() - start:.1f} s"
    )
    records = records_in_memory()

    start = time.perf_counter()
    written = bare_write(records, Path(WORKDIR.name) / "bare.xml")
    bare = time.perf_counter() - start
    print(f"bare lxml       {bare:7.2f} s  {written / bare:9.0f} rec/s")

    start = time.perf_counter()
    export = generate_cgpem("M", PERIOD_END, created_by="bench")
    full = time.perf_counter() - start
    print(
        f"generate_cgpem  {full:7.2f} s  {export.records / full:9.0f} rec/s  ×{full / bare:.2f}"
        f"  ({export.records} written, {len(export.excluded)} excluded, "
        f"{len(export.transliterations)} transliterations, "
        f"{Path(export.path).stat().st_size / 2**20:.1f} MiB)"
    )
    print(f"ratio generate_cgpem / bare lxml: {full / bare:.2f} (target ≤ 2)")


if __name__ == "__main__":
    main()
