"""The monthly tracking report's pages (admins): the last 24 months, one month, the downloads."""

from __future__ import annotations

from datetime import date

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

import audit
from accounts.decorators import requires
from accounts.roles import Capability
from exchanges import spreadsheet, tracking


def _month(year: int, month: int) -> date:
    try:
        return tracking.parse_month(f"{year:04d}-{month:02d}")
    except ValueError:
        raise Http404("No such month") from None


def _download(content: bytes, fmt: str, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=spreadsheet.FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def _format(fmt: str) -> str:
    if fmt not in spreadsheet.FORMATS:
        raise Http404("No such format")
    return fmt


@requires(Capability.MANAGE_EXCHANGES)
def tracking_overview(request: HttpRequest) -> HttpResponse:
    reports = tracking.overview(tracking.last_months())
    return render(request, "exchanges/tracking_overview.html", {"reports": reports})


@requires(Capability.MANAGE_EXCHANGES)
def tracking_month(request: HttpRequest, year: int, month: int) -> HttpResponse:
    report = tracking.month_report(_month(year, month))
    return render(
        request, "exchanges/tracking_month.html", {"report": report, "sheets": tracking.sheets(report)}
    )


@requires(Capability.MANAGE_EXCHANGES)
@never_cache
def tracking_download(request: HttpRequest, year: int, month: int, fmt: str) -> HttpResponse:
    report = tracking.month_report(_month(year, month))
    return _download(spreadsheet.render(tracking.sheets(report), _format(fmt)), fmt, f"suivi-{report.label}")


@requires(Capability.MANAGE_EXCHANGES)
@never_cache
def anomalies_download(request: HttpRequest, year: int, month: int, fmt: str) -> HttpResponse:
    first = _month(year, month)
    sheet = tracking.anomalies(first)
    content = spreadsheet.render([sheet], _format(fmt))
    # Record numbers and France Travail identifiers: what France Travail sent about people.
    audit.log(
        request,
        audit.Action.EXPORTED,
        object_type="ft_anomalies",
        object_id=f"{first:%Y-%m}",
        rows=len(sheet.rows),
    )
    return _download(content, fmt, f"anomalies-france-travail-{first:%Y-%m}")
