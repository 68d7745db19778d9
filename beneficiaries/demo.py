"""Synthetic people for demos and tests (Faker fr_FR): never real data."""

from __future__ import annotations

import random
from datetime import date

from faker import Faker
from stdnum.fr import nir as stdnum_nir

# A few communes of Tarn-et-Garonne (82), the demo département.
DEMO_COMMUNES = ["82121", "82033", "82112", "82079", "82186", "82094", "82025"]


def make_nir(rng: random.Random, sex: int, birth: date, commune: str) -> str:
    body = f"{sex}{birth:%y}{birth:%m}{commune}{rng.randint(1, 999):03d}"
    return body + stdnum_nir.calc_check_digits(body)


def fake_people(count: int, *, seed: int = 82, communes: list[str] | None = None) -> list[dict]:
    """`count` synthetic beneficiaries as dicts of Beneficiary fields, the same for a given seed."""
    fake = Faker("fr_FR")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    communes = communes or DEMO_COMMUNES
    people = []
    for _ in range(count):
        sex = rng.choice((1, 2))
        first_name = fake.first_name_male() if sex == 1 else fake.first_name_female()
        birth = fake.date_of_birth(minimum_age=18, maximum_age=64)
        commune = rng.choice(communes)
        birth_name = fake.last_name()
        usage_name = fake.last_name() if sex == 2 and rng.random() < 0.2 else ""
        people.append(
            {
                "nir": make_nir(rng, sex, birth, commune),
                "birth_name": birth_name,
                "usage_name": usage_name,
                "first_name": first_name,
                "birth_date": birth,
                "caf_number": str(rng.randint(1000000, 9999999)),
                "msa_number": "",
                "commune_code": commune,
                "rsa_start_date": fake.date_between(start_date="-6y", end_date="-1m"),
            }
        )
    return people
