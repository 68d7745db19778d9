"""Load or update beneficiaries from a CSV export of the Département's tool.

Accepts UTF-8 (with or without BOM), Windows-1252 or Latin-1, `;` or `,`
separated, with a header. Bad rows are reported with their line number and
reason and do not stop the good ones; a file whose lines cannot be told apart
(a value spanning several lines) is refused whole. Re-running the same file
changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction

from accounts.roles import Capability, has_capability
from beneficiaries.models import Beneficiary, Source
from beneficiaries.scoping import territory_communes
from beneficiaries.signals import announce_work_changed
from caseloads.assignments import AssignmentRefused, assign
from caseloads.models import STRUCTURE_MAX_LENGTH, AssignmentSource
from contract.nir import InvalidNIR, clean_nir
from exchanges.matching import IDENTITY_FIELDS, Matcher
from exchanges.models import MatchRule, ReviewReason

REQUIRED_COLUMNS = ("nom_naissance", "prenom", "date_naissance")
OPTIONAL_COLUMNS = (
    "nir",
    "nom_usage",
    "num_caf",
    "num_msa",
    "code_insee_commune",
    "date_entree_rsa",
    # The person's référent: a user's login or e-mail address, and the référent's structure.
    "referent",
    "structure",
)
# CSV column -> model field
FIELDS = {
    "nir": "nir",
    "nom_naissance": "birth_name",
    "nom_usage": "usage_name",
    "prenom": "first_name",
    "date_naissance": "birth_date",
    "num_caf": "caf_number",
    "num_msa": "msa_number",
    "code_insee_commune": "commune_code",
    "date_entree_rsa": "rsa_start_date",
}
MAX_LENGTHS = {"nom_naissance": 100, "nom_usage": 100, "prenom": 100, "num_caf": 15, "num_msa": 13}


# Longest excerpt of a value an error message quotes.
EXCERPT_MAX = 20
# Control characters (tab excepted): invisible, refused by PostgreSQL (NUL) and by the CGPEM
# file, and the mark of a text read in the wrong encoding (0x80–0x9F: "C\x8cur" for "Cœur").
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


class CSVFileError(ValueError):
    """The whole file is unusable (encoding, header, lines): nothing was loaded."""


def excerpt(value: str) -> str:
    """The start of `value` for an error message: its first line, at most EXCERPT_MAX characters.

    Messages are printed and kept in reports: a whole value may hold a person's data
    (someone's name pasted in the wrong column), or many lines of other people's.
    """
    first = (value.splitlines() or [""])[0]
    if first == value and len(value) <= EXCERPT_MAX:
        return value
    return first[:EXCERPT_MAX] + "…"


@dataclass
class RowError:
    line: int
    field: str
    message: str

    def as_dict(self) -> dict:
        return {"line": self.line, "field": self.field, "message": self.message}


@dataclass
class CSVSummary:
    """What one CSV file of the Département did: rows read, created, unchanged, lines rejected.

    Each intake adds its own counters (as fields of a subclass); `as_dict` lists them all.
    """

    rows: int = 0
    created: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict:
        counts = {each.name: getattr(self, each.name) for each in fields(self) if each.name != "errors"}
        return {**counts, "rejected": len(self.errors), "errors": [error.as_dict() for error in self.errors]}


@dataclass
class ImportSummary(CSVSummary):
    updated: int = 0
    referents: int = 0  # référents assigned or changed (the columns referent and structure)


def parse_date(value: str) -> date:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"date « {excerpt(value)} » invalide (attendu AAAA-MM-JJ ou JJ/MM/AAAA)")


def decode(raw: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252, else Latin-1.

    Excel's "CSV (séparateur: point-virgule)" writes Windows-1252: Latin-1 plus œ Œ ’ … €
    in 0x80–0x9F, where Latin-1 has control characters. Latin-1 only remains for a file
    with a byte Windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D); a value that
    then holds a control character is refused (control_character).
    """
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def control_character(row: dict[str, str | None], columns) -> tuple[str, str] | None:
    """(column, message) for the first of `columns` whose value holds a control character."""
    for column in columns:
        found = CONTROL.search(row.get(column) or "")
        if found:
            return column, (
                f"caractère invisible U+{ord(found.group()):04X} (position {found.start() + 1}) : "
                "le fichier est peut-être mal encodé (enregistrez-le en UTF-8)"
            )
    return None


def _clean_row(row: dict[str, str]) -> dict:
    """Return model values for one row, or raise ValueError(field, message)."""
    # Before strip(), which would silently drop some of them (\x1c–\x1f, \x85) at either end.
    refused = control_character(row, FIELDS)
    if refused:
        raise ValueError(*refused)
    values: dict = {}
    for column, model_field in FIELDS.items():
        raw = (row.get(column) or "").strip()
        if column in REQUIRED_COLUMNS and not raw:
            raise ValueError(column, "valeur obligatoire manquante")
        if column in MAX_LENGTHS and len(raw) > MAX_LENGTHS[column]:
            raise ValueError(column, f"trop long ({len(raw)} caractères, {MAX_LENGTHS[column]} au plus)")
        if column == "nir" and raw:
            try:
                raw = clean_nir(raw)
            except InvalidNIR as exc:
                raise ValueError(column, str(exc)) from None
        elif column in ("date_naissance", "date_entree_rsa") and raw:
            try:
                raw = parse_date(raw)
            except ValueError as exc:
                raise ValueError(column, str(exc)) from None
        elif column == "code_insee_commune" and raw and not (len(raw) == 5 and raw[:2].isalnum()):
            raise ValueError(column, f"code INSEE « {excerpt(raw)} » invalide (5 caractères)")
        values[model_field] = raw if raw != "" else ("" if column not in ("date_entree_rsa",) else None)
    return values


def read_rows(
    raw: bytes, required: tuple[str, ...] = REQUIRED_COLUMNS
) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """(header, [(line number, row)]) of a CSV in UTF-8, Windows-1252 or Latin-1, `;` or `,` separated.

    Line numbers are physical lines, as a text editor shows them (blank lines count).
    Shared by every CSV import of the project (beneficiaries, orientations).
    """
    text = decode(raw)
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise CSVFileError("le fichier est vide ou n'a pas de ligne d'en-tête")
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    rows = []
    start = 1  # physical line the next record starts on
    try:
        for fields in reader:
            # No column of these exports holds a line break: a value spanning lines comes from a
            # double quote never closed, after which the csv module reads every following line
            # into that value. Those people would be neither loaded nor reported: file refused.
            broken = next((i for i, value in enumerate(fields) if "\n" in value or "\r" in value), None)
            if broken is not None:
                column = header[broken] if header and broken < len(header) else f"n° {broken + 1}"
                raise CSVFileError(
                    f"ligne {start}, colonne {column} : guillemet non refermé ou retour à la ligne "
                    "dans une valeur ; corrigez cette ligne puis rechargez le fichier"
                )
            if header is None:
                header = [name.strip().lower() for name in fields]
            elif fields:  # a blank line is skipped, as csv.DictReader did
                # A short row's missing values read as empty; values past the header are ignored.
                rows.append((start, dict(zip(header, fields, strict=False))))
            start = reader.line_num + 1
    except csv.Error:
        # With strict off, the csv module's only error is a value over csv.field_size_limit(),
        # in English and naming no line. Spread over several lines, it is a quote never closed.
        if reader.line_num > start:
            raise CSVFileError(
                f"ligne {start} : guillemet non refermé ; corrigez cette ligne puis rechargez le fichier"
            ) from None
        limit = f"{csv.field_size_limit():,}".replace(",", " ")
        raise CSVFileError(
            f"ligne {start} : valeur de plus de {limit} caractères ; corrigez cette ligne puis "
            "rechargez le fichier"
        ) from None
    missing = [column for column in required if column not in (header or [])]
    if missing:
        raise CSVFileError(
            "colonnes obligatoires absentes de l'en-tête : " + ", ".join(missing) + _why(raw, lines[0])
        )
    return header, rows


def _why(raw: bytes, first: str) -> str:
    """What a header missing its columns most likely means, to say beside the message.
    `first` is the file's first line, as read_rows decoded it."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or raw[:200].count(b"\x00") > 10:
        return " (le fichier semble enregistré en UTF-16 : enregistrez-le en CSV UTF-8)"
    for separator, name in (("\t", "des tabulations"), ("|", "des barres verticales")):
        if first.count(separator) > max(first.count(";"), first.count(",")):
            return f" (les colonnes semblent séparées par {name} : séparez-les par des points-virgules)"
    return ""


# Rows matched at a time: the people they may be are read in a few queries per chunk
# (`Matcher.prefetch`), not one index of every beneficiary in memory.
CHUNK = 2000


def _identity(values: dict) -> dict:
    """A row's identity as the matcher takes it (exchanges.matching.IDENTITY_FIELDS)."""
    return {name: values.get(name) for name in IDENTITY_FIELDS}


class _Referents:
    """The référent column's users, looked up by login or e-mail address (case ignored), once each."""

    def __init__(self):
        self.users = get_user_model().objects.all()
        self.found: dict[str, object] = {}

    def get(self, text: str):
        key = text.strip().lower()
        if key not in self.found:
            by_login = list(self.users.filter(username__iexact=key)[:2])
            matches = by_login or list(self.users.filter(email__iexact=key)[:2])
            if len(matches) > 1:
                raise ValueError(
                    "referent", f"« {excerpt(text)} » désigne plusieurs comptes : donnez l'identifiant"
                )
            self.found[key] = matches[0] if matches else None
        user = self.found[key]
        if user is None:
            raise ValueError(
                "referent", f"référent « {excerpt(text)} » inconnu (identifiant ou adresse électronique)"
            )
        return user


def _referent_refusal(referent, commune_code: str) -> str | None:
    """Why `referent` may not follow someone of `commune_code` (caseloads.assignments' rules)."""
    if not referent.is_active or not has_capability(referent, Capability.VIEW_FOLLOWUP):
        return "ce compte ne peut pas être référent (inactif ou sans accès au suivi)"
    communes = territory_communes(referent)
    if communes is not None and commune_code not in communes:
        return "la personne habite hors des territoires de ce référent"
    return None


def _referent_columns(row: dict[str, str], referents: _Referents, max_length: int) -> tuple[object, str]:
    """(référent user or None, structure) of a row; ValueError(column, message) when wrong."""
    refused = control_character(row, ("referent", "structure"))
    if refused:
        raise ValueError(*refused)
    text = (row.get("referent") or "").strip()
    structure = " ".join((row.get("structure") or "").split())
    if len(structure) > max_length:
        raise ValueError("structure", f"trop long ({len(structure)} caractères, {max_length} au plus)")
    if not text:
        if structure:
            raise ValueError("referent", "structure donnée sans référent")
        return None, ""
    return referents.get(text), structure


def import_beneficiaries(path: Path | str, *, dry_run: bool = False) -> ImportSummary:
    return import_beneficiaries_data(Path(path).read_bytes(), dry_run=dry_run)


def import_beneficiaries_data(raw: bytes, *, dry_run: bool = False) -> ImportSummary:
    """Create or update the file's people, found by the PECGM import's rules (`exchanges.matching`).

    A NIR known with another birth date is an error on the row; a row that may be
    several people is an error too (nothing chosen at random); a row whose match
    another identifier contradicts (same names, another NIR) is another person.
    With the columns referent and structure, the person's référent is assigned
    (caseloads.assignments: a référent outside whose territories the person lives is refused).
    """
    _, rows = read_rows(raw)
    summary = ImportSummary()
    referents = _Referents()
    matcher = Matcher.from_database()
    # People this run created or changed, by id: the database has them, the matcher's batch may not.
    touched: dict[int, Beneficiary] = {}

    with transaction.atomic():
        for start in range(0, len(rows), CHUNK):
            cleaned = []
            for line, row in rows[start : start + CHUNK]:
                summary.rows += 1
                try:
                    cleaned.append(
                        (line, _clean_row(row), *_referent_columns(row, referents, STRUCTURE_MAX_LENGTH))
                    )
                except ValueError as exc:
                    column, message = exc.args
                    summary.errors.append(RowError(line, column, message))
            matcher.next_batch()
            matcher.prefetch(_identity(values) for _line, values, *_ in cleaned)
            known = Beneficiary.objects.in_bulk(list(matcher.known.people))
            for line, values, referent, structure in cleaned:
                result = matcher.match(**_identity(values))
                if result.review_reason == ReviewReason.NIR_CONFLICT:
                    summary.errors.append(
                        RowError(
                            line, "date_naissance", "ce NIR est déjà connu avec une autre date de naissance"
                        )
                    )
                    continue
                if result.review_reason == ReviewReason.SEVERAL_CANDIDATES:
                    column = "nir" if result.rule == MatchRule.NIR else "nom_naissance"
                    summary.errors.append(
                        RowError(line, column, "plusieurs bénéficiaires possibles : ligne ignorée")
                    )
                    continue
                existing = None
                if result.is_match:
                    existing = touched.get(result.beneficiary_id) or known.get(result.beneficiary_id)
                    if existing is None:
                        existing = Beneficiary.objects.get(pk=result.beneficiary_id)
                if referent is not None:
                    commune = values["commune_code"] or (existing.commune_code if existing else "")
                    refusal = _referent_refusal(referent, commune)
                    if refusal:
                        summary.errors.append(RowError(line, "referent", refusal))
                        continue
                # Otherwise nobody, or a match another identifier contradicts: another person.
                beneficiary = _save(values, existing, summary)
                if beneficiary is not None:
                    touched[beneficiary.pk] = beneficiary
                    matcher.add(beneficiary)  # later rows find them by their new keys
                if referent is None:
                    continue
                try:
                    result = assign(
                        beneficiary or existing,
                        referent,
                        structure=structure,
                        source=AssignmentSource.CSV,
                        notify=False,
                    )
                except AssignmentRefused as exc:  # checked above; a start date before the current one's
                    summary.errors.append(RowError(line, "referent", str(exc)))
                    continue
                if result.assignment is not None:
                    summary.referents += 1
                    if beneficiary is None:  # counted unchanged by _save: its référent changed
                        summary.unchanged -= 1
        if dry_run:
            transaction.set_rollback(True)
    if summary.referents and not dry_run:
        announce_work_changed()
    return summary


def _save(values: dict, existing: Beneficiary | None, summary: ImportSummary) -> Beneficiary | None:
    """Create the row's person or update the one found; None when nothing changed."""
    if existing is None:
        beneficiary = Beneficiary(**values, source=Source.LOCAL)
        beneficiary.save()
        summary.created += 1
        return beneficiary
    changed = [name for name, value in values.items() if value and getattr(existing, name) != value]
    # A person first known from France Travail now appears in the Département's tool.
    if existing.source != Source.LOCAL:
        existing.source = Source.LOCAL
        changed.append("source")
    if not changed:
        summary.unchanged += 1
        return None
    for name in changed:
        if name != "source":
            setattr(existing, name, values[name])
    existing.save()
    summary.updated += 1
    return existing
