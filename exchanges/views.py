"""Admin pages of the PECGM import: runs, their rejects, the review queue, the follow-up export."""

from __future__ import annotations

import contextlib
import csv
from datetime import date

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

import audit
from accounts.decorators import requires
from accounts.roles import Capability
from beneficiaries.nir import mask_nir
from beneficiaries.scoping import visible_beneficiaries
from beneficiaries.search import apply_search
from contract.layouts import PECGM_TITLES
from exchanges import review
from exchanges.followup import DATE_ATTRS
from exchanges.followup_export import Echo, stream_csv
from exchanges.models import ImportRun, RejectLevel, ReviewCase, ReviewReason, ReviewStatus
from exchanges.spreadsheet import spreadsheet_safe

PAGE_SIZE = 50
REJECTS_SHOWN = 200
# Warnings come by the thousand (a label longer than the table in every record): shown
# grouped by field and kind, each group with its first rows; the CSV has them all.
WARNING_GROUPS_SHOWN = 100
WARNINGS_SHOWN_PER_GROUP = 50
SEARCH_RESULTS = 20


@requires(Capability.MANAGE_EXCHANGES)
def import_run_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(ImportRun.objects.select_related("user"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "exchanges/run_list.html", {"page": page})


@requires(Capability.MANAGE_EXCHANGES)
def import_run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(ImportRun, pk=pk)
    errors = run.rejects.filter(level=RejectLevel.ERROR)
    warnings = run.rejects.filter(level=RejectLevel.WARNING)
    context = {
        "run": run,
        "errors": errors[:REJECTS_SHOWN],
        "error_count": errors.count(),
        "warning_groups": run.warning_groups(WARNINGS_SHOWN_PER_GROUP, WARNING_GROUPS_SHOWN),
        "warning_count": warnings.count(),
        "warning_groups_shown": WARNING_GROUPS_SHOWN,
        "open_reviews": run.reviews.filter(status=ReviewStatus.OPEN).count(),
        "rejects_shown": REJECTS_SHOWN,
    }
    if context["error_count"] or context["warning_count"]:
        # Rejected values are what France Travail sent about people (a NIR, a name).
        audit.log(request, audit.Action.VIEWED_REJECTS, run)
    return render(request, "exchanges/run_detail.html", context)


@requires(Capability.MANAGE_EXCHANGES)
def import_run_rejects_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    run = get_object_or_404(ImportRun, pk=pk)
    # Rejected values are personal data (names, dates): the download is audited.
    audit.log(request, audit.Action.EXPORTED, run, object_type="import_rejects")
    writer = csv.writer(Echo(), delimiter=";", lineterminator="\r\n")
    level_labels = dict(RejectLevel.choices)

    def lines():
        yield "\ufeff"
        yield writer.writerow(["enregistrement", "niveau", "champ", "valeur", "motif"])
        for reject in run.rejects.order_by("id").iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    reject.record_number or "",
                    level_labels[reject.level],
                    reject.field,
                    spreadsheet_safe(reject.value),
                    spreadsheet_safe(reject.message),
                ]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rejets-import-{run.pk}.csv"'
    return response


@requires(Capability.MANAGE_EXCHANGES)
def followup_export(request: HttpRequest) -> StreamingHttpResponse:
    audit.log(request, audit.Action.EXPORTED, object_type="followup_csv")
    response = StreamingHttpResponse(
        stream_csv(visible_beneficiaries(request.user)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="suivi-france-travail-{timezone.localdate():%Y-%m-%d}.csv"'
    )
    return response


@requires(Capability.RESOLVE_REVIEW)
def review_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("etat", ReviewStatus.OPEN)
    if status not in ReviewStatus.values:
        status = ReviewStatus.OPEN
    cases = ReviewCase.objects.filter(status=status).select_related("run", "beneficiary")
    page = Paginator(cases, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "exchanges/review_list.html",
        {"page": page, "status": status, "statuses": ReviewStatus.choices},
    )


@requires(Capability.RESOLVE_REVIEW)
def review_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_object_or_404(
        ReviewCase.objects.select_related("run", "snapshot", "beneficiary", "resolved_by"), pk=pk
    )
    visible = visible_beneficiaries(request.user)
    candidates = list(case.candidates.filter(pk__in=visible.values("pk")).select_related("followup"))
    # The search for another beneficiary is POSTed: a name never travels in a URL.
    query = request.POST.get("nom", "").strip() if request.method == "POST" else ""
    found = []
    if query:
        found = visible
        if case.reason == ReviewReason.CREATED_FROM_FT and case.beneficiary_id:
            # The person this case created: linking the case to them is refused (review.link).
            found = found.exclude(pk=case.beneficiary_id)
        # The lists' search box, written once: folded names, a NIR typed with spaces, numbers,
        # France Travail identifiers.
        found = apply_search(found, query)
        found = [person for person in found[:SEARCH_RESULTS] if person not in candidates]
    # The page shows who France Travail sent and who may be them: a consultation of personal data.
    audit.log(request, audit.Action.VIEWED_REVIEW, case)
    return render(
        request,
        "exchanges/review_detail.html",
        {
            "case": case,
            "candidates": candidates,
            "found": found,
            "query": query,
            "is_open": case.status == ReviewStatus.OPEN,
            "received": _received(case),
        },
    )


@requires(Capability.RESOLVE_REVIEW)
@require_POST
def review_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_object_or_404(ReviewCase, pk=pk)
    action = request.POST.get("action")
    note = request.POST.get("note", "").strip()
    try:
        if action == "link":
            beneficiary = get_object_or_404(
                visible_beneficiaries(request.user), pk=request.POST.get("beneficiary") or 0
            )
            moved = review.link(case, beneficiary, user=request.user, note=note)
            message = _("Enregistrement rattaché au bénéficiaire.")
            if moved:
                message += " " + ngettext(
                    "%(count)d décision d'orientation de la personne créée depuis France Travail "
                    "lui a été transférée.",
                    "%(count)d décisions d'orientation de la personne créée depuis France Travail "
                    "lui ont été transférées.",
                    moved,
                ) % {"count": moved}
            messages.success(request, message)
        elif action == "create":
            review.create(case, user=request.user, note=note)
            messages.success(request, _("Bénéficiaire connu seulement de France Travail enregistré."))
        elif action == "dismiss":
            review.dismiss(case, user=request.user, note=note)
            messages.success(request, _("Rapprochement écarté."))
        else:
            messages.error(request, _("Décision inconnue."))
    except review.ReviewError as exc:
        messages.error(request, str(exc))
        return redirect("review_detail", pk=case.pk)
    if case.status != ReviewStatus.OPEN:
        audit.log(request, audit.Action.RESOLVED_REVIEW, case, decision=case.status)
    return redirect("review_list")


def _received(case: ReviewCase) -> list[tuple[str, str]]:
    """The identity France Travail sent, labelled, for the case page."""
    # Masked as everywhere on screen; the candidates' pages reveal theirs, audited.
    shown = {**case.values, "nir": mask_nir(case.values.get("nir"))}
    for name in DATE_ATTRS.intersection(shown):
        with contextlib.suppress(TypeError, ValueError):  # else shown as received
            shown[name] = date.fromisoformat(shown[name]).strftime("%d/%m/%Y")
    return [(PECGM_TITLES.get(name, name), value) for name, value in shown.items() if value]
