"""The follow-up CSV: one row per beneficiary with their current France Travail situation.

Shared by `manage.py export_followup` and the admins' download. Dates are
ISO; `;` separated, UTF-8 with a BOM so that a spreadsheet opens accents right.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date

from django.apps import apps
from django.db.models import CharField, DateField, OuterRef, QuerySet, Subquery, Value

from beneficiaries.models import Beneficiary
from beneficiaries.scoping import unrestricted
from exchanges.models import FollowUpStatus
from exchanges.spreadsheet import spreadsheet_safe

# CSV column -> value path from Beneficiary.
COLUMNS = {
    "nir": "nir",
    "nom_naissance": "birth_name",
    "prenom": "first_name",
    "date_naissance": "birth_date",
    "statut_pe": "followup__status",
    "categorie": "followup__category",
    "date_debut_ide": "followup__registration_date",
    "date_cessation": "followup__cessation_date",
    "motif_cessation": "followup__cessation_motive",
    "date_radiation": "followup__radiation_date",
    "motif_radiation": "followup__radiation_motive",
    "identifiant_pe": "followup__ft_identifier",
    "date_dernier_contact": "followup__last_contact_date",
    "absent_dernier_fichier": "followup__absent_from_last_stock",
    "date_reference_pe": "followup__reference_date",
    # The current orientation decision (annotated in `rows()`).
    "nature_orientation": "orientation_nature",
    "date_orientation": "orientation_date",
}


def _orientation() -> dict:
    """The nature and date of each beneficiary's current orientation decision (empty without one)."""
    if not apps.is_installed("orientations"):
        return {"orientation_nature": Value(None, CharField()), "orientation_date": Value(None, DateField())}
    current = apps.get_model("orientations", "OrientationDecision").objects.filter(
        beneficiary=OuterRef("pk"), ended_on__isnull=True
    )
    return {
        "orientation_nature": Subquery(current.values("nature")[:1]),
        "orientation_date": Subquery(current.values("decision_date")[:1]),
    }


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, date):
        return value.isoformat()
    return spreadsheet_safe(str(value))


def rows(beneficiaries: QuerySet[Beneficiary] | None = None) -> Iterator[list[str]]:
    """The header, then one row per beneficiary of `beneficiaries` (everyone by default)."""
    yield list(COLUMNS)
    paths = list(COLUMNS.values())
    queryset = (
        (unrestricted(Beneficiary.objects.all()) if beneficiaries is None else beneficiaries)
        .order_by("id")
        .annotate(**_orientation())
        .values_list(*paths)
    )
    for values in queryset.iterator(chunk_size=5000):
        record = dict(zip(paths, values, strict=True))
        if record["followup__status"] is None:
            record["followup__status"] = FollowUpStatus.UNKNOWN
            record["followup__absent_from_last_stock"] = None
        yield [_cell(record[path]) for path in paths]


class Echo:
    """A file-like object that hands back what is written: for streaming responses."""

    def write(self, value: str) -> str:
        return value


def write_csv(out) -> int:
    """Write the whole CSV to a text file object; return the number of beneficiaries."""
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    count = -1
    for row in rows():
        writer.writerow(row)
        count += 1
    return count


def stream_csv(beneficiaries: QuerySet[Beneficiary] | None = None) -> Iterator[str]:
    writer = csv.writer(Echo(), delimiter=";", lineterminator="\r\n")
    yield "\ufeff"
    for row in rows(beneficiaries):
        yield writer.writerow(row)
