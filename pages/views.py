"""Caseworker pages: the searchable list, the beneficiary's parcours, cohorts, dashboard, exports.

Every page starts from `visible_beneficiaries(request.user)`: a social worker
only ever sees their territories. The logic lives in filters.py, search.py,
cohorts.py, timeline.py, dashboard.py and exports.py; views stay thin.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db.models import F, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _

from accounts.decorators import requires
from accounts.roles import Capability, has_capability
from beneficiaries import search_tokens
from beneficiaries.scoping import (
    beneficiaries_in,
    get_visible_beneficiary_or_404,
    territory_communes,
    visible_beneficiaries,
)
from caseloads.assignments import caseload_q, current_assignment
from caseloads.forms import BulkAssignForm, NoteForm
from caseloads.notes import notes_of
from caseloads.worklists import handled_count, handlings_for, without_handled
from exchanges.models import FollowUp
from pages import exports
from pages.cohorts import (
    Cohort,
    cohorts,
    current_month,
    data_month,
    france_travail_data_received,
    get_cohort,
    newest_stock,
)
from pages.dashboard import bar_chart, cohort_counts, dashboard_data, line_chart
from pages.filters import (
    BeneficiaryFilterForm,
    apply_filters,
    apply_sort,
    with_orientation,
)
from pages.listing import list_page, page_number
from pages.timeline import build_timeline, coded, window_start
from pages.versioned_cache import data_version, scope_key
from rights.person_trail import person_accesses
from rights.views import person_panel


def _filter_data(request: HttpRequest) -> QueryDict:
    """The query string's filters, with the search text kept under the token `s` (search_tokens)."""
    data = request.GET.copy()
    data.pop("q", None)  # never read from a URL (see search_tokens)
    token = data.pop("s", [""])[-1]
    if token:
        text = search_tokens.recall(request.session, token)
        if text is None:
            messages.info(request, _("Cette recherche n'est plus disponible : saisissez-la à nouveau."))
        else:
            data["q"] = text
    return data


# The list « Mes bénéficiaires » in the bulk actions' `liste` parameter (else a cohort's slug).
MINE = "mes-beneficiaires"
# The query parameter that shows a cohort's lines handled this month (hidden by default).
SHOW_HANDLED = "traites"


def _shows_handled(request: HttpRequest) -> bool:
    return request.GET.get(SHOW_HANDLED) == "1"


def _filtered(
    request: HttpRequest, cohort: Cohort | None = None, mine: bool = False
) -> tuple[BeneficiaryFilterForm, QuerySet]:
    """The visible beneficiaries, narrowed by the caseload or the cohort, then by the filters."""
    form = BeneficiaryFilterForm(_filter_data(request) or None, user=request.user)
    beneficiaries = visible_beneficiaries(request.user)
    if mine:
        beneficiaries = beneficiaries.filter(caseload_q(request.user))
    if cohort is not None:
        beneficiaries = cohort.queryset(beneficiaries)
        if not _shows_handled(request):
            # A worklist: the lines handled this month leave its default view.
            beneficiaries = without_handled(beneficiaries, cohort.slug, current_month())
    data = {}
    if form.is_bound:
        # Invalid fields are reported on the form and ignored; the valid ones still apply.
        form.is_valid()
        data = form.cleaned_data
    return form, apply_filters(beneficiaries, data)


def list_queryset(request: HttpRequest, liste: str) -> tuple[BeneficiaryFilterForm, QuerySet]:
    """The list a bulk action names (`MINE`, a cohort's slug, or "" for every beneficiary), filtered."""
    if liste == MINE:
        return _filtered(request, mine=True)
    return _filtered(request, get_cohort(liste) if liste else None)


def list_url(liste: str, query: QueryDict) -> str:
    """The URL of that list with its filters (the query string, without the bulk action's own)."""
    if liste == MINE:
        url = reverse("caseload")
    elif liste:
        url = reverse("cohort_detail", args=[liste])
    else:
        url = reverse("beneficiary_list")
    params = query.copy()
    params.pop("liste", None)
    return f"{url}?{params.urlencode()}" if params else url


def _see_other(url: str) -> HttpResponse:
    """303: the browser GETs the list, and reloading it does not post the form again."""
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def _search_url(request: HttpRequest) -> str:
    """The posted search form, as a list URL: the filters in the query string, the text behind a token."""
    params = QueryDict(mutable=True)
    text = request.POST.get("q", "").strip()[:100]
    if text:
        params["s"] = search_tokens.remember(request.session, text)
    for name in [*sorted(BeneficiaryFilterForm.base_fields), SHOW_HANDLED]:
        values = [value for value in request.POST.getlist(name) if value]
        if values and name != "q":
            params.setlist(name, values)
    return f"{request.path}?{params.urlencode()}" if params else request.path


def _list_page(request: HttpRequest, cohort: Cohort | None = None, mine: bool = False) -> HttpResponse:
    if request.method == "POST":
        url = _search_url(request)
        if not request.headers.get("HX-Request"):
            return _see_other(url)
        # With JavaScript (htmx), the list itself answers the form and the browser shows its URL:
        # one round trip where the redirect took two. Reloading that URL reads the list again.
        request.GET = QueryDict(url.partition("?")[2])
        response = _list(request, cohort, fragment=True, mine=mine)
        response["HX-Push-Url"] = url
        patch_vary_headers(response, ["HX-Request"])
        return response
    if "q" in request.GET:
        # An old link with the text in the URL: keep it in the session and drop it from the URL.
        return _see_other(_without_text(request))
    return _list(request, cohort, mine=mine)


def _list(
    request: HttpRequest, cohort: Cohort | None, fragment: bool = False, mine: bool = False
) -> HttpResponse:
    """The list page; with `fragment`, only its results (what htmx swaps after a search)."""
    form, beneficiaries = _filtered(request, cohort, mine)
    sort = request.GET.get("tri") or "nom"
    page = list_page(
        beneficiaries,
        sort,
        page_number(request.GET.get("page")),
        searching=bool(form.is_bound and form.cleaned_data.get("q")),
    )
    context = {
        "form": form,
        "page": page,
        "sort": sort,
        "cohort": cohort,
        "mine": mine,
        "liste": MINE if mine else cohort.slug if cohort else "",
        "can_assign": request.user.can(Capability.ASSIGN_REFERENT),
        "has_filters": any(
            value for key, value in request.GET.items() if key not in ("page", "tri", SHOW_HANDLED)
        ),
    }
    if cohort is not None and not france_travail_data_received():
        return render(request, "pages/list.html", context | {"no_ft_data": True})
    if cohort is not None and cohort.slug in ("radies-du-mois", "cessations-du-mois"):
        context["month"] = data_month()[0]
    if cohort is not None:
        month = current_month()
        handlings = handlings_for([row.pk for row in page.rows], cohort.slug, month)
        for row in page.rows:
            row.handling = handlings.get(row.pk)
        context["show_handled"] = _shows_handled(request)
        context["handled_count"] = handled_count(
            cohort.queryset(visible_beneficiaries(request.user)), cohort.slug, month
        )
    if context["can_assign"]:
        context["assign_form"] = BulkAssignForm(auto_id="assign_%s")
    if fragment and not form.errors:
        # The form stays as the user left it: rendering its 22 filters and the page around them
        # again for nothing was ~15 % of a search's time (docs/performance.md, "Pages").
        return render(request, "pages/_results.html", context | {"fragment": True})
    response = render(request, "pages/list.html", context)
    if fragment:
        # An invalid filter: the whole content, so that the form shows what was ignored and why.
        response["HX-Retarget"] = response["HX-Reselect"] = "#contenu"
    return response


def _without_text(request: HttpRequest) -> str:
    params = request.GET.copy()
    text = params.pop("q", [""])[-1].strip()[:100]
    if text:
        params["s"] = search_tokens.remember(request.session, text)
    return f"{request.path}?{params.urlencode()}" if params else request.path


@requires(Capability.VIEW_FOLLOWUP)
def beneficiary_list(request: HttpRequest) -> HttpResponse:
    return _list_page(request)


@requires(Capability.VIEW_FOLLOWUP)
def beneficiary_detail(request: HttpRequest, pk: int) -> HttpResponse:
    beneficiary = get_visible_beneficiary_or_404(request, pk)
    exports.audit_view(request, beneficiary)
    # The file's name only, not every column of the snapshot and the run behind it.
    followup = (
        FollowUp.objects.filter(beneficiary=beneficiary)
        .annotate(source_file=F("source_snapshot__run__file_name"))
        .first()
    )
    stock_date = newest_stock()
    # The last months by default; `?parcours=complet` for all of it (timeline.WINDOW_MONTHS).
    complete = request.GET.get("parcours") == "complet"
    since = None if complete else window_start(stock_date)
    timeline, older = build_timeline(beneficiary, since)
    context = {
        "beneficiary": beneficiary,
        "followup": followup,
        # Absent from the newest stock, unless France Travail sent an unreadable record about them.
        "stale": bool(
            followup
            and stock_date
            and followup.reference_date
            and followup.reference_date < stock_date
            and not followup.unreadable_on
        ),
        "stock_date": stock_date,
        "work_axis": coded(followup, "work_axis"),
        "support_mode": coded(followup, "support_mode"),
        "category": coded(followup, "category"),
        "timeline": timeline,
        "timeline_since": since,
        "timeline_older": older,
        "referent": current_assignment(beneficiary),
        "notes": notes_of(beneficiary),
        "note_form": NoteForm(),
    }
    if has_capability(request.user, Capability.VIEW_AUDIT):
        context["accesses"], context["access_count"] = person_accesses(beneficiary)
    if has_capability(request.user, Capability.HANDLE_RIGHTS):
        context["rights"] = person_panel(beneficiary)
    return render(request, "pages/detail.html", context)


@requires(Capability.VIEW_FOLLOWUP)
def cohort_index(request: HttpRequest) -> HttpResponse:
    if not france_travail_data_received():
        # Counted from today's month, the lists would say « 0 radié » of a month nobody sent.
        return render(request, "pages/cohorts.html", {"rows": [], "month": None})
    counts = cohort_counts(territory_communes(request.user))
    rows = [(cohort, counts.get(cohort.slug, 0)) for cohort in cohorts()]
    return render(request, "pages/cohorts.html", {"rows": rows, "month": data_month()[0]})


def _cohort_or_404(slug: str) -> Cohort:
    cohort = get_cohort(slug)
    if cohort is None:
        raise Http404("No such cohort")
    return cohort


@requires(Capability.VIEW_FOLLOWUP)
def cohort_detail(request: HttpRequest, cohort: str) -> HttpResponse:
    return _list_page(request, _cohort_or_404(cohort))


@requires(Capability.VIEW_FOLLOWUP)
def dashboard(request: HttpRequest) -> HttpResponse:
    # Counted by commune for a user limited to territories: the scope is its communes, from which
    # visible_beneficiaries() makes its queryset too (scoping.beneficiaries_in).
    if not france_travail_data_received():
        return render(request, "pages/dashboard.html", {"no_ft_data": True})
    communes = territory_communes(request.user)
    today = data_month()[1]
    data = dashboard_data(communes, today)
    context = {
        "cache_key": f"{scope_key(beneficiaries_in(communes))}:{data_version()}:{today:%Y%m}",
        "cache_seconds": settings.DASHBOARD_CACHE_SECONDS,
        "data": data,
        "status_chart": bar_chart(data["by_status"]),
        "category_chart": bar_chart(data["by_category"]),
        "nature_chart": bar_chart(data["by_nature"]),
        "evolution_chart": line_chart(data["months"], data["series"]),
        "evolution_rows": [
            (month, [data["series"][name][i] for name in data["series"]])
            for i, month in enumerate(data["months"])
        ],
    }
    return render(request, "pages/dashboard.html", context)


def _export(request: HttpRequest, cohort: Cohort | None = None, mine: bool = False) -> StreamingHttpResponse:
    form, beneficiaries = _filtered(request, cohort, mine)
    rows = with_orientation(apply_sort(beneficiaries, request.GET.get("tri"))).select_related("followup")
    return exports.csv_response(
        request, rows, form.filters(), MINE if mine else cohort.slug if cohort else ""
    )


@requires(Capability.EXPORT_LISTS)
def beneficiary_export(request: HttpRequest) -> StreamingHttpResponse:
    return _export(request)


@requires(Capability.EXPORT_LISTS)
def cohort_export(request: HttpRequest, cohort: str) -> StreamingHttpResponse:
    return _export(request, _cohort_or_404(cohort))


@requires(Capability.VIEW_FOLLOWUP)
def caseload(request: HttpRequest) -> HttpResponse:
    """« Mes bénéficiaires »: the people whose current référent is the user, with every filter."""
    return _list_page(request, mine=True)


@requires(Capability.EXPORT_LISTS)
def caseload_export(request: HttpRequest) -> StreamingHttpResponse:
    return _export(request, mine=True)
