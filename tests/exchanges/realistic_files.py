"""A corpus of PECGM records shaped like France Travail's real files, not like our generators.

Real files differ from the convention's table (issue 21): agency names of 29
characters where the table says 27 (« FRANCE TRAVAIL CASTELSARRASIN »), street
lines over 32, CEDEX, counsellors over 27, labels longer than the table and with
typographic apostrophes, cessation motives from the whole annexe table, a
category left empty (exempt before 2012), optional dates that do not exist,
names over 25 letters; and a monthly stock produced on the 28th for the 31st.

`realistic_records()` bends synthetic records (exchanges.synthetic) into these
variations, deterministically; `write_realistic()` writes them as France Travail
does, in ISO-8859-1, where a character outside Latin-1 (’) can only travel as a
character reference (`&#8217;`): the project's writer refuses to write one, so
the generator writes a placeholder and swaps it afterwards.
"""

from __future__ import annotations

import itertools
import random
from datetime import date
from pathlib import Path
from typing import Any

from contract.layouts import CESSATION_MOTIVES, PECGM, RADIATION_MOTIVE_LABELS, TRAINING_LEVELS
from contract.xml_writer import write_file
from exchanges.synthetic import fake_pecgm_records

MAY = date(2025, 5, 31)
# France Travail makes the monthly stock a few days before the month's end.
PRODUCED = date(2025, 5, 28)
# ’ cannot be written in ISO-8859-1: the placeholder (¤, never in the synthetic data) is
# written, then replaced by the character reference an XML writer would produce.
_PLACEHOLDER = "¤"
TYPOGRAPHIC_APOSTROPHE = "’"

LONG_AGENCIES = [
    # name (27 in the table), street (32), complement (32), postcode, CEDEX, bureau distributeur (25)
    (
        "FRANCE TRAVAIL CASTELSARRASIN",
        "ZONE D'ACTIVITES DE FLAMBERE 12 AVENUE DU MARECHAL FOCH",
        "BATIMENT B - REZ-DE-CHAUSSEE - ACCUEIL",
        "82100",
        "01",
        "CASTELSARRASIN CEDEX",
    ),
    (
        "FRANCE TRAVAIL MONTAUBAN ALBASUD",
        "ZONE ALBASUD 1025 AVENUE DE L'EUROPE",
        "",
        "82000",
        "9",
        "MONTAUBAN CEDEX 9",
    ),
    (
        "FRANCE TRAVAIL VALENCE D'AGEN - GOLFECH",
        "2 BIS RUE DE LA REPUBLIQUE ET DES DROITS DE L'HOMME",
        "",
        "82400",
        "",
        "VALENCE D'AGEN - GOLFECH CEDEX",
    ),
]
DELEGATES = [
    ("MISSION LOCALE DE TARN-ET-GARONNE ANTENNE DE MOISSAC", "7 RUE DES MOULINS", "", "82200", "", "MOISSAC"),
    ("CAP EMPLOI 82", "ZONE ALBASUD", "", "82OOO", "", "MONTAUBAN"),  # letters in a postcode
]
LONG_COUNSELLORS = [
    "DE LA ROCHEFOUCAULD MARIE-CHRISTINE",  # 35: the table says 27
    "BOURGUIGNON-LACOMBE JEAN-BAPTISTE",
    "N'GUESSAN-KOUASSI ANNE-SOPHIE",
]
# Optional dates as they really come: some do not exist, some are empty or zero.
ODD_OPTIONAL_DATES = ["20250230", "20240931", "20251301", "00000000", "", "2025-05-02"]
LONG_NAMES = ["DUPONT DE LA MOTTE-BEAUREGARD", "WOLFESCHLEGELSTEINHAUSENBE"]  # 29 and 26
LONG_FIRST_NAMES = ["MARIE-CHRISTINE-ALEXANDRINE"]  # 27
SECTOR_LABELS = [
    ("31734", "Services à la personne et aide à domicile"),  # 41: the table says 30
    ("42056", "Agent d'entretien du bâtiment et des espaces verts"),
]
NEW_MOTIVE = "NOUVEAU-MOTIF-2025"
LONG_ROME = ("K1302", "Assistance auprès d'adultes " + "(aide à domicile, auxiliaire de vie sociale) " * 4)


def _typographic(text: str) -> str:
    """The label as France Travail's tools type it: ’ for '."""
    return text.replace("'", _PLACEHOLDER)


def _structure(prefix: str, values: tuple[str, ...]) -> dict[str, Any]:
    name, street, complement, postcode, cedex, office = values
    return {
        f"{prefix}_name": name,
        f"{prefix}_street": street,
        f"{prefix}_complement": complement or None,
        f"{prefix}_postcode": postcode,
        f"{prefix}_cedex": cedex or None,
        f"{prefix}_post_office": office,
    }


def realistic_records(count: int = 290, *, seed: int = 21, reference_date: date = MAY) -> list[dict]:
    """`count` records of a monthly stock, every variation above among them.

    The first 36 people have ceased this month, one for each motive of the annexe's
    table, with its label (typographic apostrophes in every other one).
    """
    rng = random.Random(seed)
    rows = list(fake_pecgm_records(None, count, seed=seed, reference_date=reference_date))
    motives = list(CESSATION_MOTIVES.items())
    month_start = reference_date.replace(day=1)
    counsellors = itertools.cycle(LONG_COUNSELLORS)
    odd_dates = itertools.cycle(ODD_OPTIONAL_DATES)
    date_fields = itertools.cycle(["ppae_signature_date", "ppae_notification_date", "last_contact_date"])
    for number, row in enumerate(rows):
        if number < len(motives):
            code, label = motives[number]
            row.update(
                cessation_date=month_start.replace(day=1 + number % 28),
                cessation_motive=code,
                cessation_motive_label=_typographic(label) if number % 2 else label,
                radiation_date=None,
                radiation_motive=None,
                radiation_motive_label=None,
            )
        elif number == len(motives):
            # A motive France Travail added without notice, longer than the table's 2 characters.
            row.update(
                cessation_date=month_start.replace(day=15),
                cessation_motive=NEW_MOTIVE,
                cessation_motive_label=_typographic("entrée en formation financée par la Région d'Occitanie"),
                radiation_date=None,
                radiation_motive=None,
                radiation_motive_label=None,
            )
        elif row.get("radiation_motive_label"):
            label = rng.choice(RADIATION_MOTIVE_LABELS)
            row["radiation_motive_label"] = _typographic(label) if number % 2 else label
        if number % 3 == 0:
            row.update(_structure("main_structure", LONG_AGENCIES[number % len(LONG_AGENCIES)]))
        if number % 10 == 1:
            row.update(_structure("delegated_structure", DELEGATES[number // 10 % len(DELEGATES)]))
        if number % 4 == 0:
            row["ft_counsellor"] = next(counsellors)
        if number % 7 == 2:
            row[next(date_fields)] = next(odd_dates)
        if number % 25 == 3:
            row["birth_name"] = LONG_NAMES[number % len(LONG_NAMES)]
        if number % 40 == 5:
            row["first_name"] = LONG_FIRST_NAMES[0]
        if number % 9 == 4:
            level = rng.choice(list(TRAINING_LEVELS))
            sector, sector_label = SECTOR_LABELS[number % len(SECTOR_LABELS)]
            row.update(
                training_level=level,
                training_level_label=TRAINING_LEVELS[level],
                training_sector=sector,
                training_sector_label=_typographic(sector_label),
            )
        if number % 30 == 6:
            row["rome_code"], row["rome_label"] = LONG_ROME
        if number % 50 == 7 and not row.get("cessation_date"):
            # Registered, exempt from job search before 2012: no category.
            row["category"], row["category_label"] = None, None
        if number % 17 == 8:
            row["category_label"] = _typographic(
                "Personnes sans emploi, immédiatement disponibles, tenues d'accomplir des actes positifs "
                "de recherche d'emploi, à la recherche d'un emploi en CDI à plein temps"
            )
            row["category"] = "1"
    return rows


def write_realistic(
    path: str | Path,
    rows: list[dict],
    *,
    reference_date: date = MAY,
    production_date: date = PRODUCED,
    departement: str = "82",
) -> Path:
    """Write `rows` in ISO-8859-1 as France Travail does (’ as `&#8217;`), made on `production_date`."""
    path = Path(path)
    header = {
        "periodicity": "M",
        "departement": departement,
        "reference_date": reference_date,
        "production_date": production_date,
    }
    write_file(PECGM, header, rows, path)
    content = path.read_bytes()
    path.write_bytes(content.replace(_PLACEHOLDER.encode("latin-1"), b"&#8217;"))
    return path


def realistic_file(folder: str | Path, count: int = 290, *, seed: int = 21) -> Path:
    """The May stock of issue 21: `count` realistic records, made on the 28th for the 31st."""
    return write_realistic(
        Path(folder) / f"PECGM_082_{MAY:%Y%m%d}_M.xml", realistic_records(count, seed=seed)
    )
