"""CSV exports of lists and cohorts, and the audit entries of what caseworkers look at.

The CSV opens in a French spreadsheet as is: UTF-8 with a BOM, `;` between
fields, dates as DD/MM/YYYY. It is streamed (rows read in chunks, never the
whole list in memory). The NIR is masked as on screen: the CAF/MSA number and
the France Travail identifier are enough to find someone in another tool.
A cell starting with = + - @ is prefixed with an apostrophe so that a
spreadsheet never runs it as a formula.

Each export is written to the audit trail (who, when, which filters, how many
rows); the search text itself is not (it may be a name or a NIR): only the
fact that there was one.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date

from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

import audit
from beneficiaries.communes import commune_name
from beneficiaries.models import Beneficiary
from exchanges.spreadsheet import spreadsheet_safe
from pages.cohorts import is_positive_exit

CHUNK = 2000


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("oui") if value else _("non")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return spreadsheet_safe(str(value))


def columns() -> list[tuple[str, callable]]:
    def fu(attr):
        return lambda b: getattr(b.followup, attr) if _has_followup(b) else None

    return [
        (_("identifiant"), lambda b: b.pk),
        (_("nom de naissance"), lambda b: b.birth_name),
        (_("nom d'usage"), lambda b: b.usage_name),
        (_("prénom"), lambda b: b.first_name),
        (_("date de naissance"), lambda b: b.birth_date),
        (_("NIR (masqué)"), lambda b: b.masked_nir),
        (_("n° CAF"), lambda b: b.caf_number),
        (_("n° MSA"), lambda b: b.msa_number),
        (_("commune"), lambda b: b.commune_code),
        (_("nom de la commune"), lambda b: commune_name(b.commune_code)),
        (
            _("situation France Travail"),
            lambda b: b.followup.get_status_display() if _has_followup(b) else "",
        ),
        (_("données France Travail au"), fu("reference_date")),
        (_("identifiant France Travail"), fu("ft_identifier")),
        (_("catégorie"), fu("category")),
        (_("date d'inscription"), fu("registration_date")),
        (_("date de cessation"), fu("cessation_date")),
        (_("motif de cessation"), fu("cessation_motive")),
        (_("libellé du motif de cessation"), fu("cessation_motive_label")),
        (
            _("sortie positive"),
            lambda b: (
                is_positive_exit(b.followup.cessation_motive, b.followup.cessation_motive_label)
                if _has_followup(b) and b.followup.status == "cessation"
                else None
            ),
        ),
        (_("date de radiation"), fu("radiation_date")),
        (_("motif de radiation"), fu("radiation_motive")),
        (_("libellé du motif de radiation"), fu("radiation_motive_label")),
        (_("structure de suivi"), fu("main_structure_name")),
        (_("structure déléguée"), fu("delegated_structure_name")),
        (_("conseiller France Travail"), fu("ft_counsellor")),
        (_("signature du PPAE"), fu("ppae_signature_date")),
        (_("axe de travail"), fu("work_axis")),
        (_("modalité d'accompagnement"), fu("support_mode")),
        (_("dernier contact"), fu("last_contact_date")),
        (_("absent du dernier fichier"), fu("absent_from_last_stock")),
        (_("nature de l'orientation"), lambda b: b.orientation_nature),
        (_("date de l'orientation"), lambda b: b.orientation_date),
    ]


def _has_followup(beneficiary: Beneficiary) -> bool:
    try:
        return beneficiary.followup is not None
    except Beneficiary.followup.RelatedObjectDoesNotExist:
        return False


def csv_rows(queryset) -> Iterator[str]:
    writer = csv.writer(_Echo(), delimiter=";")
    cols = columns()
    yield "\ufeff" + writer.writerow([label for label, _get in cols])
    for beneficiary in queryset.iterator(chunk_size=CHUNK):
        yield writer.writerow([_cell(get(beneficiary)) for _label, get in cols])


def audit_view(request: HttpRequest, beneficiary: Beneficiary) -> None:
    audit.log(request, audit.Action.VIEWED_BENEFICIARY, beneficiary)


def csv_response(request: HttpRequest, queryset, filters: dict, cohort: str = "") -> StreamingHttpResponse:
    rows = queryset.count()
    extra = {f"filtre_{name}": _cell(value)[:100] for name, value in filters.items() if name != "q"}
    audit.log(
        request,
        audit.Action.EXPORTED,
        object_type="beneficiaries.cohort" if cohort else "beneficiaries.list",
        object_id=cohort,
        rows=rows,
        search=bool(filters.get("q")),
        **extra,
    )
    name = f"beneficiaires-{cohort or 'liste'}-{timezone.localdate():%Y%m%d}.csv"
    response = StreamingHttpResponse(csv_rows(queryset), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
