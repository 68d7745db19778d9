"""The "Échanges" pages: runs of the exchange automation, started and watched by admins;
and the progress fragment of every tracked run (imports too)."""

from __future__ import annotations

import logging
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

import audit
from accounts.decorators import requires
from accounts.roles import Capability
from exchanges.alerts import exchange_alerts
from exchanges.models import ImportReject, ImportRun, RejectLevel
from exchanges.runs import Direction, ExchangeRun
from exchanges.tasks import enqueue
from exchanges.tracked_runs import TrackedRun
from exchanges.transfers import default_period_end
from orientations.models import CgpemExport
from orientations.views import preview_context

logger = logging.getLogger(__name__)

PAGE_SIZE = 30
MAX_REJECTS_SHOWN = 500


@requires(Capability.MANAGE_EXCHANGES)
def exchange_runs(request: HttpRequest) -> HttpResponse:
    page = Paginator(ExchangeRun.objects.select_related("user"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "exchanges/runs/list.html",
        {
            "page": page,
            "alerts": exchange_alerts(),
            "configured": bool(settings.EXCHANGE_URL),
        },
    )


@requires(Capability.MANAGE_EXCHANGES)
@require_POST
def exchange_run_start(request: HttpRequest) -> HttpResponse:
    direction = request.POST.get("direction")
    if direction not in Direction.values:
        messages.error(request, _("Type d'échange inconnu."))
        return redirect("exchange_runs")
    params = {}
    if direction == Direction.DEPOSIT:
        periodicity = request.POST.get("periodicity", "M")
        params["periodicity"] = periodicity if periodicity in ("M", "H", "Q") else "M"
        if request.POST.get("confirmed") != "1":
            # First what will be sent, then a second click deposits it.
            return _confirm_deposit(request, params["periodicity"])
    run = enqueue(direction, user=request.user, **params)
    audit.log(request, audit.Action.STARTED_EXCHANGE, run, direction=direction)
    messages.info(request, _("Échange n° %(id)s lancé.") % {"id": run.pk})
    return redirect("exchange_run_detail", pk=run.pk)


def _confirm_deposit(request: HttpRequest, periodicity: str) -> HttpResponse:
    """The file the deposit would send: the one already generated for the period, or a preview."""
    period_end = default_period_end(periodicity)
    existing = (
        CgpemExport.objects.filter(periodicity=periodicity, period_end=period_end).order_by("-id").first()
    )
    context = {"periodicity": periodicity, "existing": existing}
    if existing is None:
        context |= preview_context(request, periodicity, period_end)
    return render(request, "exchanges/runs/deposit_confirm.html", context)


@requires(Capability.MANAGE_EXCHANGES)
def exchange_run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(ExchangeRun.objects.select_related("user"), pk=pk)
    return render(request, "exchanges/runs/detail.html", {"run": run, **_import_details(run)})


@requires(Capability.MANAGE_EXCHANGES)
def run_progress(request: HttpRequest, pk: int, model: type[TrackedRun]) -> HttpResponse:
    """The progress fragment of a run (an import, an exchange: `model` comes from the URL),
    polled by htmx while the run works; it stops polling once finished."""
    run = get_object_or_404(model, pk=pk)
    response = render(request, "exchanges/runs/_progress.html", {"run": run})
    if run.is_finished and run.REFRESH_PAGE_WHEN_FINISHED and request.headers.get("HX-Request"):
        # The run just ended: reload the page so that its files and counts show.
        response["HX-Refresh"] = "true"
    return response


@requires(Capability.MANAGE_EXCHANGES)
def exchange_run_file(request: HttpRequest, pk: int) -> HttpResponse:
    """The raw file received or sent by a run (`?fichier=NAME`), access recorded."""
    run = get_object_or_404(ExchangeRun, pk=pk)
    entry = run.file_entry(request.GET.get("fichier", ""))
    if entry is None or not entry.get("archive"):
        raise Http404
    root = Path(settings.EXCHANGE_FILES_DIR).resolve()
    path = (root / entry["archive"]).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise Http404
    record_download(request, run, entry["name"])
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=entry["name"], content_type="application/xml"
    )


def record_download(request: HttpRequest, run: ExchangeRun, file_name: str) -> None:
    """Keep a trace of who downloaded a raw exchange file (personal data inside)."""
    logger.info("exchange run %s: raw file downloaded by user %s", run.pk, request.user.pk)
    if apps.is_installed("audit"):
        audit.log(request, audit.Action.DOWNLOADED_FILE, run, file=file_name)


def _import_details(run: ExchangeRun) -> dict:
    """The import runs of a fetch, with their rejects, for the run page."""
    ids = [entry["import_run"] for entry in run.files if entry.get("import_run")]
    if run.direction != Direction.FETCH or not ids:
        return {"imports": [], "rejects": []}

    imports = list(ImportRun.objects.filter(pk__in=ids).order_by("id"))
    # Rejects only: warnings come by the hundred in real files (labels longer than the
    # table), and each import's page shows them grouped by field and kind.
    rejects = list(
        ImportReject.objects.filter(run_id__in=ids, level=RejectLevel.ERROR)
        .select_related("run")
        .order_by("run_id", "id")[:MAX_REJECTS_SHOWN]
    )
    return {"imports": imports, "rejects": rejects, "rejects_truncated": len(rejects) == MAX_REJECTS_SHOWN}
