"""Build small PECGM files for import tests: records written out of test-chosen values."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

from faker import Faker

from exchanges.synthetic import write_pecgm

fake = Faker("fr_FR")
_identifiers = itertools.count(1000000)


def identity(person, **changes) -> dict:
    """A beneficiary's identity as the matcher takes it (`Matcher.match(**identity(person))`)."""
    values = {
        "nir": person.nir[:13],
        "birth_name": person.birth_name,
        "usage_name": person.usage_name,
        "first_name": person.first_name,
        "birth_date": person.birth_date,
        "caf_number": person.caf_number,
        "msa_number": person.msa_number,
    }
    values.update(changes)
    return values


def record_for(person=None, **values) -> dict:
    """A registered job seeker's record; `person` (a Beneficiary) gives the identity."""
    record = {
        "nir": person.nir[:13] if person else "",
        "birth_name": (person.birth_name if person else fake.last_name()).upper(),
        "usage_name": (person.usage_name if person else "").upper(),
        "first_name": (person.first_name if person else fake.first_name()).upper(),
        "birth_date": person.birth_date if person else fake.date_of_birth(minimum_age=18, maximum_age=64),
        "caf_number": person.caf_number if person else "",
        "registration_date": date(2024, 3, 4),
        "category": "1",
        "category_label": "PERSONNE SANS EMPLOI DISPONIBLE DUREE INDETERMINEE PLEIN TPS",
        "ft_institution_code": "076",
        "ft_identifier": f"{next(_identifiers)}A",
        "main_structure_name": "FRANCE TRAVAIL MONTAUBAN",
        "main_structure_postcode": "82000",
        "support_mode": "GUI",
        "last_contact_date": date(2024, 12, 2),
    }
    record.update(values)
    return record


def ceased(record: dict, day: date, motive: str = "11") -> dict:
    return {**record, "cessation_date": day, "cessation_motive": motive, "cessation_motive_label": "REPRISE"}


def struck_off(record: dict, day: date, motive: str = "21") -> dict:
    return {
        **record,
        "radiation_date": day,
        "radiation_motive": motive,
        "radiation_motive_label": "INSUFFISANCE",
    }


def pecgm_file(folder: Path, records: list[dict], day: date, periodicity: str = "M", **kwargs) -> Path:
    path = Path(folder) / f"PECGM_082_{day:%Y%m%d}_{periodicity}.xml"
    write_pecgm(path, records, reference_date=day, periodicity=periodicity, **kwargs)
    return path
