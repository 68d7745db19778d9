"""Load past orientation decisions from a CSV export of the Département's current tool.

Columns: nir, nom_naissance, prenom, date_naissance, nature, date_decision,
organisme_referent, nom_correspondant, prenom_correspondant, tel_correspondant,
email_correspondant, service_correspondant (UTF-8, Windows-1252 or Latin-1, `;` or `,`,
header required; read by intake.beneficiary_csv.read_rows).

People are found as the PECGM import finds them (exchanges.matching.Matcher);
a row whose person is not found, or not certainly, is reported and skipped.
Referent bodies and correspondents are reused by name, created otherwise.
Bad rows are reported with their line number and reason; good rows are kept.
The same file loaded twice adds nothing.

No query per row: rows are checked, the people they name read at once
(`Matcher.prefetch`) and matched in memory, then the people found are locked
and their decisions read once, new decisions are inserted in bulk and each
person's history threaded again (orientations.decisions.add_imported_decisions).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from beneficiaries.models import Beneficiary
from exchanges.matching import Matcher, MatchResult
from exchanges.models import ReviewReason
from intake.beneficiary_csv import CSVSummary, RowError, control_character, excerpt, parse_date, read_rows
from orientations.decisions import RSA_START, add_imported_decisions
from orientations.models import NATURE_CHOICES, Correspondent, OrientationDecision, ReferentBody
from orientations.validators import (
    REFERENT_BODY_MAX,
    clean_phone,
    validate_latin1,
    validate_name,
    validate_phone,
)

REQUIRED_COLUMNS = (
    "nom_naissance",
    "prenom",
    "date_naissance",
    "nature",
    "date_decision",
    "organisme_referent",
)
COLUMNS = (
    "nir",
    *REQUIRED_COLUMNS,
    "nom_correspondant",
    "prenom_correspondant",
    "tel_correspondant",
    "email_correspondant",
    "service_correspondant",
)
NATURES = {code for code, _label in NATURE_CHOICES}
MAX_LENGTHS = {
    "nom_correspondant": Correspondent._meta.get_field("last_name").max_length,
    "prenom_correspondant": Correspondent._meta.get_field("first_name").max_length,
    "email_correspondant": Correspondent._meta.get_field("email").max_length,
    "service_correspondant": Correspondent._meta.get_field("service").max_length,
    "organisme_referent": REFERENT_BODY_MAX,
}


class RowRejected(ValueError):
    def __init__(self, column: str, message: str):
        super().__init__(column, message)
        self.column, self.message = column, message


@dataclass
class ImportSummary(CSVSummary):
    referent_bodies_created: int = 0
    correspondents_created: int = 0


def _identity(row: dict) -> dict:
    """The row's identity, as the matcher takes it."""
    return {
        "nir": row["nir"],
        "birth_name": row["nom_naissance"],
        "first_name": row["prenom"],
        "birth_date": row["date_naissance"],
    }


def find_person(matcher: Matcher, row: dict) -> int:
    """The beneficiary id, found by the PECGM import's rules, or RowRejected."""
    result: MatchResult = matcher.match(**_identity(row))
    if result.is_match:
        return result.beneficiary_id
    if result.needs_review:
        label = (
            ReviewReason(result.review_reason).label if result.review_reason in ReviewReason.values else ""
        )
        raise RowRejected("nir" if row["nir"] else "nom_naissance", f"rapprochement incertain : {label}")
    raise RowRejected("nir" if row["nir"] else "nom_naissance", "bénéficiaire introuvable")


def _check(column: str, validator, value: str) -> None:
    try:
        validator(value)
    except ValidationError as exc:
        raise RowRejected(column, " ".join(exc.messages)) from None


def clean_row(raw: dict[str, str | None]) -> dict:
    # Before whitespace is collapsed, which would turn some of them (\x1c–\x1f, \x85) into spaces.
    refused = control_character(raw, COLUMNS)
    if refused:
        raise RowRejected(*refused)
    row = {key: " ".join((raw.get(key) or "").split()) for key in COLUMNS}
    for column in REQUIRED_COLUMNS:
        if not row[column]:
            raise RowRejected(column, "valeur obligatoire manquante")
    for column, limit in MAX_LENGTHS.items():
        if len(row[column]) > limit:
            raise RowRejected(column, f"trop long ({len(row[column])} caractères, {limit} au plus)")
    for column in ("date_naissance", "date_decision"):
        try:
            row[column] = parse_date(row[column])
        except ValueError as exc:
            raise RowRejected(column, str(exc)) from None
    if row["date_decision"] > timezone.localdate():
        raise RowRejected("date_decision", "date dans le futur")
    if row["date_decision"] < RSA_START:
        raise RowRejected("date_decision", f"date antérieure au {RSA_START:%d/%m/%Y} (création du RSA)")
    nature = row["nature"].zfill(2)
    if nature not in NATURES:
        raise RowRejected("nature", f"nature « {excerpt(row['nature'])} » inconnue (01 à 06)")
    row["nature"] = nature
    _check("organisme_referent", validate_latin1, row["organisme_referent"])
    if row["nom_correspondant"] or row["prenom_correspondant"]:
        for column in ("nom_correspondant", "prenom_correspondant"):
            if not row[column]:
                raise RowRejected(column, "valeur obligatoire pour un correspondant")
            _check(column, validate_name, row[column])
    _check("tel_correspondant", validate_phone, row["tel_correspondant"])
    row["tel_correspondant"] = clean_phone(row["tel_correspondant"])
    if row["email_correspondant"]:
        _check("email_correspondant", validate_email, row["email_correspondant"])
    _check("service_correspondant", validate_latin1, row["service_correspondant"])
    return row


class ReferenceData:
    """Referent bodies and correspondents by name, created on first sight."""

    def __init__(self, summary: ImportSummary):
        self.summary = summary
        self.bodies: dict[str, ReferentBody] = {}
        for body in ReferentBody.objects.order_by("-is_active", "id"):
            # Either the name alone or "name address" as the file writes it.
            for text in (body.file_text, body.name):
                self.bodies.setdefault(text.casefold(), body)
        self.correspondents = {
            (c.referent_body_id, c.last_name.casefold(), c.first_name.casefold()): c
            for c in Correspondent.objects.order_by("-is_active", "id")
        }

    def same_decision(self, decision: Known, row: dict) -> bool:
        body = self.bodies.get(row["organisme_referent"].casefold())
        if body is None or decision.nature != row["nature"] or decision.referent_body_id != body.pk:
            return False
        key = (body.pk, row["nom_correspondant"].casefold(), row["prenom_correspondant"].casefold())
        correspondent = self.correspondents.get(key) if row["nom_correspondant"] else None
        return decision.correspondent_id == (correspondent.pk if correspondent else None)

    def check_body(self, text: str) -> None:
        if text.casefold() not in self.bodies:
            try:
                ReferentBody(name=text).full_clean()
            except ValidationError as exc:
                raise RowRejected("organisme_referent", " ".join(exc.messages)) from None

    def body(self, text: str) -> ReferentBody:
        body = self.bodies.get(text.casefold())
        if body is None:
            body = ReferentBody.objects.create(name=text)
            self.summary.referent_bodies_created += 1
            self.bodies[text.casefold()] = body
        return body

    def correspondent(self, body: ReferentBody, row: dict) -> Correspondent | None:
        if not row["nom_correspondant"]:
            return None
        key = (body.pk, row["nom_correspondant"].casefold(), row["prenom_correspondant"].casefold())
        correspondent = self.correspondents.get(key)
        if correspondent is None:
            correspondent = Correspondent.objects.create(
                referent_body=body,
                last_name=row["nom_correspondant"],
                first_name=row["prenom_correspondant"],
                phone=row["tel_correspondant"],
                email=row["email_correspondant"],
                service=row["service_correspondant"],
            )
            self.summary.correspondents_created += 1
            self.correspondents[key] = correspondent
        return correspondent


@dataclass(frozen=True)
class Known:
    """A decision already recorded for a person on a day (in the database, or earlier in the file)."""

    nature: str
    referent_body_id: int
    correspondent_id: int | None


# Ids per query: within SQLite's limit on query parameters.
_CHUNK = 500


def import_orientations(path: Path | str, *, dry_run: bool = False) -> ImportSummary:
    raw = Path(path).read_bytes()
    _header, rows = read_rows(raw, REQUIRED_COLUMNS)
    summary = ImportSummary()
    matcher = Matcher.from_database()
    # 1. Each row checked, the people the rows name read in a few queries, each row's person found.
    checked: list[tuple[int, dict]] = []
    for line, raw_row in rows:
        summary.rows += 1
        try:
            checked.append((line, clean_row(raw_row)))
        except RowRejected as exc:
            summary.errors.append(RowError(line, exc.column, exc.message))
    matcher.prefetch(_identity(row) for _line, row in checked)
    found: list[tuple[int, dict, int]] = []
    for line, row in checked:
        try:
            found.append((line, row, find_person(matcher, row)))
        except RowRejected as exc:
            summary.errors.append(RowError(line, exc.column, exc.message))
    summary.errors.sort(key=lambda error: error.line)
    with transaction.atomic():
        # 2. The people found locked (as a decision recorded on a page locks its person), then
        # their decisions read once.
        known, births = _lock_and_read(sorted({beneficiary_id for _line, _row, beneficiary_id in found}))
        reference = ReferenceData(summary)
        new: list[OrientationDecision] = []
        now = timezone.now()
        for line, row, beneficiary_id in found:
            try:
                if row["date_decision"] < births[beneficiary_id]:
                    raise RowRejected("date_decision", "date antérieure à la naissance de la personne")
                decision = _import_row(reference, known, row, beneficiary_id)
            except RowRejected as exc:
                summary.errors.append(RowError(line, exc.column, exc.message))
                continue
            if decision is None:
                summary.unchanged += 1
                continue
            decision.changed_at = now
            new.append(decision)
        # 3. Written in bulk, each person's history threaded again.
        add_imported_decisions(new)
        summary.created = len(new)
        if dry_run:
            transaction.set_rollback(True)
    summary.errors.sort(key=lambda error: error.line)
    return summary


def _lock_and_read(
    beneficiary_ids: list[int],
) -> tuple[dict[tuple[int, date], Known], dict[int, date]]:
    """The people's decisions by (person, day), and their birth dates (as recorded, not as in the file)."""
    known = {}
    births = {}
    for start in range(0, len(beneficiary_ids), _CHUNK):
        chunk = beneficiary_ids[start : start + _CHUNK]
        locked = Beneficiary.objects.select_for_update().filter(pk__in=chunk)
        births.update(locked.values_list("pk", "birth_date"))
        rows = OrientationDecision.objects.filter(beneficiary_id__in=chunk).values_list(
            "beneficiary_id", "decision_date", "nature", "referent_body_id", "correspondent_id"
        )
        for beneficiary_id, decision_date, *values in rows:
            known[(beneficiary_id, decision_date)] = Known(*values)
    return known, births


def _import_row(
    reference: ReferenceData, known: dict[tuple[int, date], Known], row: dict, beneficiary_id: int
) -> OrientationDecision | None:
    """The decision to add, None if it is already known, or RowRejected."""
    reference.check_body(row["organisme_referent"])
    existing = known.get((beneficiary_id, row["date_decision"]))
    if existing is not None:
        if reference.same_decision(existing, row):
            return None
        raise RowRejected(
            "date_decision",
            "une autre décision existe déjà à cette date pour cette personne "
            "(corrigez-la dans l'application)",
        )
    # Nothing can fail past this point: what is created below stays (the caches rely on it).
    body = reference.body(row["organisme_referent"])
    correspondent = reference.correspondent(body, row)
    known[(beneficiary_id, row["date_decision"])] = Known(
        row["nature"], body.pk, correspondent.pk if correspondent else None
    )
    return OrientationDecision(
        beneficiary_id=beneficiary_id,
        nature=row["nature"],
        decision_date=row["date_decision"],
        referent_body=body,
        correspondent=correspondent,
        source="import",
    )
