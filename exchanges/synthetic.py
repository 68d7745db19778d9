"""Realistic synthetic PECGM content for tests, the demo and benchmarks. Never real data.

`fake_pecgm_records()` yields record dicts keyed by the layout's attrs, the way
France Travail fills them: names upper-cased (accents kept, Latin-1 only), NIR
on 13 characters, a status mix like a real monthly stock (most people
registered in categories 1 to 5 with their follow-up structure, some ceased,
some struck off, with motives and labels — the radiation labels run past the
20 characters of the table, as real ones do), PPAE dates, work axis, support
mode and last contact. `next_month()` turns one month's stock into the next
with about 10 % of changes; `write_pecgm()` writes a file.

Everything is deterministic for a given seed, and streamed: 150 000 records
never sit in memory at once (only the sets of identifiers already used).
"""

from __future__ import annotations

import calendar
import itertools
import os
import random
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from typing import IO, Any

from django.conf import settings
from faker import Faker

from beneficiaries.demo import make_nir
from contract.layouts import (
    CATEGORIES,
    PECGM,
    RADIATION_MOTIVE_LABELS,
    SUPPORT_MODES,
    TRAINING_LEVELS,
    WORK_AXES,
)
from contract.layouts import CESSATION_MOTIVES as CESSATION_MOTIVE_TABLE
from contract.xml_writer import write_file

# Tarn-et-Garonne (82), the demo département: enough communes for NIRs to stay distinct.
COMMUNES = [f"82{number:03d}" for number in range(1, 196)]

CATEGORY_LABELS = {
    "1": "PERSONNE SANS EMPLOI DISPONIBLE DUREE INDETERMINEE PLEIN TPS",
    "2": "PERSONNE SANS EMPLOI DISPONIBLE DUREE INDETERMINEE PARTIEL",
    "3": "PERSONNE SANS EMPLOI DISPONIBLE DUREE DETERMINEE",
    "4": "PERSONNE SANS EMPLOI NON DISPONIBLE",
    "5": "PERSONNE EN EMPLOI A LA RECHERCHE D'UN AUTRE EMPLOI",
}
assert set(CATEGORY_LABELS) == set(CATEGORIES)
CATEGORY_WEIGHTS = {"1": 38, "2": 9, "3": 8, "4": 30, "5": 15}

# France Travail sends each motive with its label: the annexe's own, every code of its table.
CESSATION_MOTIVES = dict(CESSATION_MOTIVE_TABLE)
# The convention gives the radiation motives as labels only: these codes are made up, the
# labels are the annexe's (they run past the 20 characters of the table, as real ones do).
RADIATION_MOTIVES = {
    "11": "non réponse a convocation suspension de ... (durée variable)",
    "12": "refus action insertion suspension de ... (durée variable)",
    "21": "insuffisance de recherche d'emploi suspension de ... (durée variable)",
    "31": "déclaration inexacte suspension de ... (durée variable)",
    "41": "refus de deux offres raisonnables d'emploi suspension de ... (durée variable)",
}
assert set(RADIATION_MOTIVES.values()) <= set(RADIATION_MOTIVE_LABELS)
ROME = {
    "G1603": "Personnel polyvalent en restauration",
    "K1302": "Assistance auprès d'adultes",
    "N1103": "Magasinage et préparation de commandes",
    "A1414": "Horticulture et maraîchage",
    "K2204": "Nettoyage de locaux",
    "D1507": "Mise en rayon libre-service",
    "N4105": "Conduite et livraison par tournées sur courte distance",
    "K1304": "Services domestiques",
    "F1703": "Maçonnerie",
    "H3302": "Opérations manuelles d'assemblage, tri ou emballage",
}
AGENCIES = [
    ("FRANCE TRAVAIL MONTAUBAN", "12 RUE DES PRAIRIES", "82000", "MONTAUBAN"),
    ("FRANCE TRAVAIL MONTAUBAN 2", "2 AVENUE DE TOULOUSE", "82000", "MONTAUBAN"),
    # 29 characters, where the table says 27: real agency names run longer.
    ("FRANCE TRAVAIL CASTELSARRASIN", "5 RUE DE LA REPUBLIQUE", "82100", "CASTELSARRASIN"),
    ("FRANCE TRAVAIL MOISSAC", "9 BOULEVARD LAKANAL", "82200", "MOISSAC"),
    ("FRANCE TRAVAIL CAUSSADE", "1 PLACE DU MARCHE", "82300", "CAUSSADE"),
]
DELEGATES = [
    ("CAP EMPLOI 82", "ZONE ALBASUD", "82000", "MONTAUBAN"),
    ("MISSION LOCALE 82", "15 RUE DE L'EGALITE", "82000", "MONTAUBAN"),
    ("ASSOCIATION REGAIN", "3 IMPASSE DES ECOLES", "82100", "CASTELSARRASIN"),
]
COUNSELLORS = ["DUPONT MARIE", "MARTIN PAUL", "BERNARD SOPHIE", "PETIT LUC", "ROUX CLAIRE", "FAURE JEAN"]

# Latin-1 cannot hold these: France Travail writes them spelled out.
_LATIN1_FOLD = str.maketrans({"Œ": "OE", "œ": "oe", "Æ": "AE", "æ": "ae", "’": "'", "Ÿ": "Y"})


def ft_name(value: str | None) -> str:
    """A name as France Travail writes it: upper case, Latin-1, 25 characters at most."""
    text = (value or "").translate(_LATIN1_FOLD).upper().translate(_LATIN1_FOLD)
    text = text.encode("latin-1", "replace").decode("latin-1").replace("?", "")
    return text.strip()[:25]


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


class _Generator:
    def __init__(self, seed: int, reference_date: date):
        self.rng = random.Random(seed)
        fake = Faker("fr_FR")
        fake.seed_instance(seed)
        person = fake.provider("faker.providers.person")
        # Faker's own lists, drawn from with our rng: fast enough for 150 000 records.
        self.last_names = list(person.last_names)
        self.male_names = list(person.first_names_male)
        self.female_names = list(person.first_names_female)
        self.reference_date = reference_date
        self.nirs: set[str] = set()
        self.identifiers: set[str] = set()

    def _unique(self, seen: set[str], make) -> str:
        while (value := make()) in seen:
            pass
        seen.add(value)
        return value

    def person(self) -> dict[str, Any]:
        rng = self.rng
        sex = rng.choice((1, 2))
        first_name = rng.choice(self.male_names if sex == 1 else self.female_names)
        age_days = rng.randint(18 * 365, 64 * 365)
        birth = self.reference_date - timedelta(days=age_days)
        commune = rng.choice(COMMUNES)
        birth_name = rng.choice(self.last_names)
        if rng.random() < 0.03:
            birth_name = f"{birth_name}-{rng.choice(self.last_names)}"
        usage_name = rng.choice(self.last_names) if sex == 2 and rng.random() < 0.2 else ""
        nir = self._unique(self.nirs, lambda: make_nir(rng, sex, birth, commune))
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

    def identifier(self) -> str:
        rng = self.rng
        return self._unique(
            self.identifiers,
            lambda: f"{rng.randint(1000000, 9999999)}{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}",
        )

    def day_between(self, start: date, end: date) -> date:
        if end <= start:
            return end
        return start + timedelta(days=self.rng.randint(0, (end - start).days))

    def record(self, person: dict[str, Any]) -> dict[str, Any]:
        rng, ref = self.rng, self.reference_date
        month_start = ref.replace(day=1)
        nir = (person.get("nir") or "")[:13]
        self.nirs.add(nir)
        msa = person.get("msa_number") or ""
        values: dict[str, Any] = {
            "nir": nir if rng.random() > 0.02 else None,  # a few identities not certified yet
            "birth_name": ft_name(person["birth_name"]),
            "usage_name": ft_name(person.get("usage_name")) or None,
            "first_name": ft_name(person["first_name"]),
            "birth_date": person["birth_date"],
            "commune_code": person.get("commune_code") or None,
            "caf_number": None if msa else (person.get("caf_number") or None),
            "msa_number": msa or None,
            "ft_institution_code": "076",
            "ft_identifier": self.identifier(),
        }
        values.update(self.registration(ref - timedelta(days=3 * 365), ref - timedelta(days=5)))
        status = rng.random()
        if status < 0.13:
            values.update(self.cessation(month_start, ref))
        elif status < 0.22:
            values.update(self.radiation(month_start, ref))
        return values

    def registration(self, start: date, end: date) -> dict[str, Any]:
        """A registration with everything that comes with it: category, structure, PPAE, axis…"""
        rng, ref = self.rng, self.reference_date
        registered = self.day_between(start, end)
        category = rng.choices(list(CATEGORY_WEIGHTS), weights=list(CATEGORY_WEIGHTS.values()))[0]
        rome = rng.choice(list(ROME))
        values: dict[str, Any] = {
            "registration_date": registered,
            "category": category,
            "category_label": CATEGORY_LABELS[category],
            "cessation_date": None,
            "cessation_motive": None,
            "cessation_motive_label": None,
            "radiation_date": None,
            "radiation_motive": None,
            "radiation_motive_label": None,
            "training_level": rng.choice(list(TRAINING_LEVELS)),
            "rome_code": rome,
            "rome_label": ROME[rome],
            "ft_counsellor": rng.choice(COUNSELLORS),
            "work_axis": rng.choice(list(WORK_AXES)),
            "support_mode": rng.choices(list(SUPPORT_MODES), weights=(10, 35, 30, 15, 10))[0],
            "last_contact_date": self.day_between(max(registered, ref - timedelta(days=180)), ref),
        }
        values.update(self.structure("main_structure", rng.choice(AGENCIES)))
        if rng.random() < 0.1:
            values.update(self.structure("delegated_structure", rng.choice(DELEGATES)))
        else:
            values.update(self.structure("delegated_structure", None))
        signed = registered + timedelta(days=rng.randint(7, 45))
        values["ppae_signature_date"] = signed if signed <= ref and rng.random() < 0.85 else None
        notified = signed + timedelta(days=rng.randint(0, 10))
        values["ppae_notification_date"] = (
            notified if values["ppae_signature_date"] and notified <= ref and rng.random() < 0.5 else None
        )
        return values

    def structure(self, prefix: str, agency: tuple[str, str, str, str] | None) -> dict[str, Any]:
        name, street, postcode, office = agency or (None, None, None, None)
        return {
            f"{prefix}_name": name,
            f"{prefix}_street": street,
            f"{prefix}_complement": None,
            f"{prefix}_postcode": postcode,
            f"{prefix}_cedex": None,
            f"{prefix}_post_office": office,
        }

    def cessation(self, start: date, end: date) -> dict[str, Any]:
        motive = self.rng.choice(list(CESSATION_MOTIVES))
        return {
            "cessation_date": self.day_between(start, end),
            "cessation_motive": motive,
            "cessation_motive_label": CESSATION_MOTIVES[motive],
        }

    def radiation(self, start: date, end: date) -> dict[str, Any]:
        motive = self.rng.choice(list(RADIATION_MOTIVES))
        return {
            "radiation_date": self.day_between(start, end),
            "radiation_motive": motive,
            "radiation_motive_label": RADIATION_MOTIVES[motive],
        }


def fake_pecgm_records(
    people: Iterable[dict] | None, count: int, *, seed: int, reference_date: date
) -> Iterator[dict[str, Any]]:
    """`count` PECGM records; the first ones for `people` (dicts as from beneficiaries.demo.fake_people).

    When `people` runs out (or is None) the rest are made-up people, so a file
    can mix known beneficiaries and people the Département does not know.
    """
    generator = _Generator(seed, reference_date)
    people_iter = iter(people or ())
    for _ in range(count):
        person = next(people_iter, None) or generator.person()
        yield generator.record(person)


def _latest_date(records: list[dict[str, Any]]) -> date | None:
    dates = [value for record in records for value in record.values() if isinstance(value, date)]
    return max(dates, default=None)


def next_month(
    records: Iterable[dict[str, Any]],
    *,
    seed: int,
    change_ratio: float = 0.1,
    reference_date: date | None = None,
) -> Iterator[dict[str, Any]]:
    """The following month's stock: about `change_ratio` of the people change.

    Changes: people leave the stock, registered people cease or are struck off,
    ceased or struck-off people register again, some change structure; new
    people enter (emitted at the end, once every identifier in use is known).
    `reference_date` defaults to the end of the month after the latest date
    found in the first records.
    """
    records = iter(records)
    head = list(itertools.islice(records, 500))
    if reference_date is None:
        latest = _latest_date(head) or date.today()
        reference_date = month_end(month_end(latest) + timedelta(days=1))
    generator = _Generator(seed, reference_date)
    rng = generator.rng
    month_start = reference_date.replace(day=1)
    seen = 0
    for previous in itertools.chain(head, records):
        seen += 1
        record = dict(previous)
        if record.get("nir"):
            generator.nirs.add(record["nir"])
        if record.get("ft_identifier"):
            generator.identifiers.add(record["ft_identifier"])
        if rng.random() >= change_ratio:
            yield record
            continue
        change = rng.random()
        active = not record.get("cessation_date") and not record.get("radiation_date")
        if change < 0.25:
            continue  # left the stock (moved away, no longer RSA…)
        if change < 0.55 and active:
            record.update(generator.cessation(month_start, reference_date))
        elif change < 0.75 and active:
            record.update(generator.radiation(month_start, reference_date))
        elif change < 0.85 and active:
            record.update(generator.structure("main_structure", rng.choice(AGENCIES)))
        else:
            record.update(generator.registration(month_start, reference_date))
        yield record
    for _ in range(round(seen * change_ratio * 0.25)):
        record = generator.record(generator.person())
        record.update(generator.registration(month_start, reference_date))  # registered this month
        yield record


def write_pecgm(
    path: str | os.PathLike | IO[bytes],
    records: Iterable[dict[str, Any]],
    *,
    reference_date: date,
    periodicity: str = "M",
    departement: str | None = None,
) -> int:
    """Write a PECGM file (ISO-8859-1) of `records`; return how many were written."""
    if departement is None:
        departement = settings.DEPARTEMENT
    header = {
        "periodicity": periodicity,
        "departement": departement,
        "reference_date": reference_date,
        # Made three days after its date, as France Travail's are, but not after today:
        # the demo writes last month's file on any day, the 1st included (the reader
        # refuses a file made in the future).
        "production_date": max(reference_date, min(reference_date + timedelta(days=3), date.today())),
    }
    return write_file(PECGM, header, records, path)
