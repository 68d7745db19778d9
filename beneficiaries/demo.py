"""Synthetic people for demos and tests (Faker fr_FR): never real data."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from faker import Faker
from stdnum.fr import nir as stdnum_nir

# A few communes of Tarn-et-Garonne (82), the demo département.
DEMO_COMMUNES = ["82121", "82033", "82112", "82079", "82186", "82094", "82025"]


def make_nir(rng: random.Random, sex: int, birth: date, commune: str) -> str:
    body = f"{sex}{birth:%y}{birth:%m}{commune}{rng.randint(1, 999):03d}"
    return body + stdnum_nir.calc_check_digits(body)


@functools.cache
def name_lists() -> tuple[list[str], list[str], list[str]]:
    """Faker fr_FR's own last names, male and female first names.

    Drawn from with one seeded `random.Random` rather than through Faker's methods: the same
    people for a seed, and fast enough for 150 000 records (exchanges.synthetic, bench/).
    """
    person = Faker("fr_FR").provider("faker.providers.person")
    return list(person.last_names), list(person.first_names_male), list(person.first_names_female)


def unique(seen: set[str], make: Callable[[], str]) -> str:
    """A value of `make()` not in `seen` yet, added to it."""
    while (value := make()) in seen:
        pass
    seen.add(value)
    return value


class FakePeople:
    """The one generator of synthetic people: the demo's beneficiaries, the PECGM files'
    people who are nobody's beneficiary (exchanges.synthetic), the benches' databases.

    Aged 18 to 64 at `today`, living in one of `communes`, a few with a double-barrelled
    birth name, a fifth of the women with a married name; NIRs valid (key included) and
    never twice.
    """

    def __init__(self, rng: random.Random, *, today: date, communes: list[str]):
        self.rng = rng
        self.today = today
        self.communes = communes
        self.last_names, self.male_names, self.female_names = name_lists()
        self.nirs: set[str] = set()

    def person(self) -> dict[str, Any]:
        """A person as a dict of Beneficiary fields (PERSON_FIELDS)."""
        rng = self.rng
        sex = rng.choice((1, 2))
        first_name = rng.choice(self.male_names if sex == 1 else self.female_names)
        birth = self.today - timedelta(days=rng.randint(18 * 365, 64 * 365))
        commune = rng.choice(self.communes)
        birth_name = rng.choice(self.last_names)
        if rng.random() < 0.03:
            birth_name = f"{birth_name}-{rng.choice(self.last_names)}"
        usage_name = rng.choice(self.last_names) if sex == 2 and rng.random() < 0.2 else ""
        nir = unique(self.nirs, lambda: make_nir(rng, sex, birth, commune))
        return {
            "nir": nir,
            "birth_name": birth_name,
            "usage_name": usage_name,
            "first_name": first_name,
            "birth_date": birth,
            "caf_number": str(rng.randint(1000000, 9999999)),
            "msa_number": "",
            "commune_code": commune,
        }


def fake_people(count: int, *, seed: int = 82, communes: list[str] | None = None) -> list[dict]:
    """`count` synthetic beneficiaries as dicts of Beneficiary fields, the same for a given seed."""
    rng = random.Random(seed)
    today = date.today()
    people = FakePeople(rng, today=today, communes=communes or DEMO_COMMUNES)
    return [
        # On the RSA for a month to six years.
        {**people.person(), "rsa_start_date": today - timedelta(days=rng.randint(30, 6 * 365))}
        for _ in range(count)
    ]
