from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.forms import ModelForm
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

import audit
from accounts.decorators import requires
from accounts.models import Territory
from accounts.roles import Capability
from beneficiaries.scoping import get_visible_beneficiary_or_404, visible_beneficiaries
from orientations import queue, transmission
from orientations.cgpem import archived_path
from orientations.decisions import (
    DecisionConflict,
    check_new_decision,
    correct_decision,
    current_decision,
    record_decision,
)
from orientations.forms import (
    BulkDecisionForm,
    CorrectionForm,
    CorrespondentForm,
    DecisionForm,
    ReferentBodyForm,
)
from orientations.models import CgpemExport, Correspondent, OrientationDecision, ReferentBody

PAGE_SIZE = 50
# The last bulk action's result in the session: [(beneficiary id, recorded, refusal message)].
BULK_RESULT_KEY = "orientation_bulk_result"


# --- Decisions -------------------------------------------------------------------


@requires(Capability.RECORD_ORIENTATION)
def correspondents(request: HttpRequest) -> HttpResponse:
    """The correspondent list's options for the body chosen (htmx, on the decision forms)."""
    form = DecisionForm(initial={"referent_body": request.GET.get("referent_body", "")})
    return render(request, "orientations/_correspondent_options.html", {"field": form["correspondent"]})


@requires(Capability.RECORD_ORIENTATION)
def record(request: HttpRequest, pk: int) -> HttpResponse:
    beneficiary = get_visible_beneficiary_or_404(request, pk)
    form = DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            check_new_decision(beneficiary, form.cleaned_data["decision_date"])
            decision = record_decision(beneficiary, form.decision_data(), user=request.user)
        except DecisionConflict as exc:
            form.add_error("decision_date", str(exc))
        else:
            audit.log(request, audit.Action.RECORDED_ORIENTATION, decision)
            messages.success(request, _("La décision d'orientation est enregistrée."))
            _flag_untransmittable(request, decision)
            return redirect("orientation_history", pk=beneficiary.pk)
    # The form shows the person and their current orientation.
    audit.log(request, audit.Action.VIEWED_BENEFICIARY, beneficiary, page="orientation_record")
    return render(
        request,
        "orientations/record.html",
        {"beneficiary": beneficiary, "form": form, "current": current_decision(beneficiary)},
    )


def _untransmittable_message(decision: OrientationDecision) -> str | None:
    """Why no CGPEM file can carry this decision (French), or None when one can."""
    reasons = transmission.problems(OrientationDecision.objects.filter(pk=decision.pk)).get(decision.pk)
    if not reasons:
        return None
    return _(
        "Cette décision ne pourra pas être transmise à France Travail : %(reasons)s. "
        "Corrigez la fiche de la personne ou la décision ; elle figure dans la liste "
        "« Non transmises »."
    ) % {"reasons": " ; ".join(reasons)}


def _flag_untransmittable(request: HttpRequest, decision: OrientationDecision) -> None:
    """Say at once when no CGPEM file can carry the decision just recorded or corrected."""
    message = _untransmittable_message(decision)
    if message:
        messages.warning(request, message)


@requires(Capability.VIEW_FOLLOWUP)
def history(request: HttpRequest, pk: int) -> HttpResponse:
    beneficiary = get_visible_beneficiary_or_404(request, pk)
    decisions = list(
        OrientationDecision.objects.filter(beneficiary=beneficiary)
        .select_related("referent_body", "correspondent", "recorded_by", "carried__export", "beneficiary")
        .prefetch_related("changes__changed_by")
        .order_by("-decision_date", "-id")
    )
    sent = transmission.transmissions(decisions)
    rows = [(decision, sent[decision.pk]) for decision in decisions]
    audit.log(request, audit.Action.VIEWED_BENEFICIARY, beneficiary, page="orientation_history")
    return render(request, "orientations/history.html", {"beneficiary": beneficiary, "rows": rows})


@requires(Capability.RECORD_ORIENTATION)
def correct(request: HttpRequest, pk: int) -> HttpResponse:
    decision = get_object_or_404(OrientationDecision, pk=pk)
    # Out of the user's territories: 404, and the attempt goes to the audit trail.
    decision.beneficiary = get_visible_beneficiary_or_404(request, decision.beneficiary_id)
    initial = {
        "nature": decision.nature,
        "decision_date": decision.decision_date,
        "referent_body": decision.referent_body_id,
        "correspondent": decision.correspondent_id,
    }
    form = CorrectionForm(request.POST or None, initial=initial, instance=decision)
    if request.method == "POST" and form.is_valid():
        try:
            changes = correct_decision(
                decision, form.decision_data(), user=request.user, reason=form.cleaned_data["reason"]
            )
        except DecisionConflict as exc:
            form.add_error("decision_date", str(exc))
        else:
            if changes:
                audit.log(
                    request,
                    audit.Action.CHANGED_ORIENTATION,
                    decision,
                    fields=",".join(change.field for change in changes),
                )
                messages.success(request, _("La correction est enregistrée."))
                _flag_untransmittable(request, decision)
            else:
                messages.info(request, _("Aucune modification : la décision est inchangée."))
            return redirect("orientation_history", pk=decision.beneficiary_id)
    audit.log(request, audit.Action.VIEWED_BENEFICIARY, decision.beneficiary, page="orientation_correct")
    return render(
        request,
        "orientations/correct.html",
        {"decision": decision, "beneficiary": decision.beneficiary, "form": form},
    )


@requires(Capability.RECORD_ORIENTATION)
def to_orient(request: HttpRequest) -> HttpResponse:
    return _render_queue(request, BulkDecisionForm())


# The whole filtered queue in one action: at most this many people (the first ones of the
# queue's order), so that a request stays within the server's time limit; the officer repeats
# the action for the next ones (those recorded have left the queue).
BULK_LIMIT = 1000


@requires(Capability.RECORD_ORIENTATION)
@require_POST
def bulk_record(request: HttpRequest) -> HttpResponse:
    """The same decision for several people: each one checked and reported on its own."""
    form = BulkDecisionForm(request.POST)
    # Only people the user may see can be selected (an id out of scope is an invalid choice).
    form.fields["beneficiaries"].queryset = visible_beneficiaries(request.user)
    if not form.is_valid():
        return _render_queue(request, form, status=400)
    if form.cleaned_data["scope"] == BulkDecisionForm.ALL:
        people = _queue(request)["people"]
        total = people.count()
        if form.cleaned_data["confirmed_count"] != total:
            # First the count, and a second click: then the same filters, if the count still holds.
            return _confirm_all(request, form, total, people[:BULK_LIMIT])
        chosen = list(people[:BULK_LIMIT])
    else:
        chosen = form.cleaned_data["beneficiaries"]
    data = form.decision_data()
    results = []
    for beneficiary in chosen:
        try:
            check_new_decision(beneficiary, data.decision_date)
            decision = record_decision(beneficiary, data, user=request.user)
        except DecisionConflict as exc:
            results.append((beneficiary.pk, False, str(exc)))
        else:
            audit.log(request, audit.Action.RECORDED_ORIENTATION, decision, bulk=True)
            results.append((beneficiary.pk, True, _untransmittable_message(decision) or ""))
    # Post/Redirect/Get: reloading the result page must not post the decisions again. The
    # result (ids and messages, no names) waits in the session; the URL carries only the filters.
    request.session[BULK_RESULT_KEY] = results
    return redirect(_with_query(reverse("orientation_bulk_result"), _queue(request)["filter_query"]))


@requires(Capability.RECORD_ORIENTATION)
def bulk_result(request: HttpRequest) -> HttpResponse:
    """The last bulk action's result, person by person: a GET page, safe to reload."""
    # Nothing recorded in this session yet (a bookmark, another browser): the page says so.
    stored = request.session.get(BULK_RESULT_KEY) or []
    people = visible_beneficiaries(request.user).in_bulk([pk for pk, _ok, _message in stored])
    # Recorded: the message, if any, says that no CGPEM file can carry the decision.
    results = [
        (
            people[pk],
            ok,
            " ".join(filter(None, (_("Décision enregistrée.") if ok else "", message))),
            bool(message),
        )
        for pk, ok, message in stored
        if pk in people  # out of the user's territories since: left out
    ]
    recorded = sum(1 for _b, ok, _m, _w in results if ok)
    return render(
        request,
        "orientations/bulk_result.html",
        {
            "results": results,
            "recorded": recorded,
            "refused": len(results) - recorded,
            "none": not stored,
            "queue_url": _with_query(reverse("orientation_queue"), _queue(request)["filter_query"]),
        },
    )


def _with_query(url: str, query: str) -> str:
    return f"{url}?{query}" if query else url


def _confirm_all(request: HttpRequest, form: BulkDecisionForm, total: int, people) -> HttpResponse:
    cleaned = form.cleaned_data
    correspondent = cleaned.get("correspondent")
    if correspondent is None and cleaned.get("new_last_name"):
        correspondent = _("%(last)s %(first)s (nouveau)") % {
            "last": cleaned["new_last_name"],
            "first": cleaned["new_first_name"],
        }
    queue_context = _queue(request)
    return render(
        request,
        "orientations/bulk_confirm.html",
        {
            "total": total,
            "acting": min(total, BULK_LIMIT),
            "limited": total > BULK_LIMIT,
            # A count was confirmed, but the queue has changed since.
            "changed": cleaned.get("confirmed_count") is not None,
            "summary": [
                (form.fields["nature"].label, dict(form.fields["nature"].choices).get(cleaned["nature"])),
                (form.fields["decision_date"].label, cleaned["decision_date"].strftime("%d/%m/%Y")),
                (form.fields["referent_body"].label, cleaned["referent_body"]),
                (form.fields["correspondent"].label, correspondent or "—"),
            ],
            "carried": form.carried_values(),
            "filter_query": queue_context["filter_query"],
            # Who it is for, by name: a count alone hides a filter that caught the wrong people.
            "people": list(people),
        },
    )


def _queue(request: HttpRequest) -> dict:
    """The queue as filtered by the query string, limited to the people the user may see."""
    # The filters travel in the query string, also when the bulk form posts back.
    communes = [code for code in request.GET.getlist("commune") if code]
    territories = Territory.objects.all()
    territory_id = request.GET.get("territoire", "")
    territory = territories.filter(pk=territory_id).first() if territory_id.isdigit() else None
    people = queue.to_orient(communes=communes, territory=territory).filter(
        pk__in=visible_beneficiaries(request.user).values("pk")
    )
    return {
        "people": people,
        "selected_communes": communes,
        "territories": territories,
        "territory": territory,
        "filter_query": _filter_query(communes, territory),
    }


CHECK_PAGE = "cocher"


def _render_queue(request: HttpRequest, form: BulkDecisionForm, status: int = 200) -> HttpResponse:
    context = _queue(request)
    page = Paginator(context.pop("people"), PAGE_SIZE).get_page(request.GET.get("page"))
    # Ticked before a refused submission: ticked again. « Tout cocher sur la page » without
    # JavaScript is a link to the same page with every box ticked (`cocher=page`).
    ticked = {value for value in request.POST.getlist("beneficiaries") if value.isdigit()}
    if request.method == "GET" and request.GET.get(CHECK_PAGE) == "page":
        ticked |= {str(beneficiary.pk) for beneficiary in page}
    return render(
        request,
        "orientations/queue.html",
        {
            **context,
            "page": page,
            "form": form,
            "ticked": ticked,
            "communes": queue.queue_communes(visible_beneficiaries(request.user)),
        },
        status=status,
    )


def _filter_query(communes: list[str], territory) -> str:
    params = [("commune", code) for code in communes]
    if territory is not None:
        params.append(("territoire", territory.pk))
    return urlencode(params)


# --- Transmission to France Travail ----------------------------------------------


@requires(Capability.RECORD_ORIENTATION)
def untransmitted(request: HttpRequest) -> HttpResponse:
    """« Non transmises »: current decisions that no CGPEM file can carry, with the reasons."""
    visible = OrientationDecision.objects.filter(beneficiary__in=visible_beneficiaries(request.user))
    reasons = transmission.untransmitted(visible)
    page = Paginator(sorted(reasons), PAGE_SIZE).get_page(request.GET.get("page"))
    decisions = OrientationDecision.objects.select_related("beneficiary").in_bulk(list(page))
    rows = [(decisions[pk], reasons[pk]) for pk in page if pk in decisions]
    return render(request, "orientations/untransmitted.html", {"page": page, "rows": rows})


@requires(Capability.RECORD_ORIENTATION)
def cgpem_preview(request: HttpRequest) -> HttpResponse:
    """« Prochain CGPEM »: what the next file would carry as things stand (read-only)."""
    periodicity, period_end = transmission.next_preview_period()
    context = preview_context(request, periodicity, period_end)
    context["deposit"] = transmission.next_deposit()
    return render(request, "orientations/cgpem_preview.html", context)


def preview_context(request: HttpRequest, periodicity: str, period_end) -> dict:
    """The preview of a file, its counts, and a page of the decisions the user may see."""
    result = transmission.preview(periodicity, period_end)
    carried = result.decisions.filter(beneficiary__in=visible_beneficiaries(request.user))
    page = Paginator(
        carried.select_related("beneficiary", "referent_body").order_by(
            "beneficiary__birth_name_key", "beneficiary__first_name_key", "id"
        ),
        PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    return {"preview": result, "page": page}


# --- Reference data: referent bodies and their correspondents --------------------


@requires(Capability.MANAGE_REFERENCE_DATA)
def referent_bodies(request: HttpRequest) -> HttpResponse:
    bodies = ReferentBody.objects.prefetch_related("correspondents").order_by("-is_active", "name")
    return render(request, "orientations/referent_bodies.html", {"bodies": bodies})


def _saved_reference_data(request: HttpRequest, form: ModelForm) -> bool:
    """Save a valid posted referent body or correspondent form, audited as created or edited."""
    if request.method != "POST" or not form.is_valid():
        return False
    change = "edited" if form.instance.pk else "created"
    form.save()
    audit.log(request, audit.Action.CHANGED_REFERENCE_DATA, form.instance, change=change)
    return True


def _toggled_active(request: HttpRequest, item: ReferentBody | Correspondent) -> bool:
    """Deactivate (or reactivate) a referent body or a correspondent, audited; True if now active.

    Decisions name them: they are switched off, never deleted.
    """
    item.is_active = not item.is_active
    item.save(update_fields=["is_active"])
    change = "reactivated" if item.is_active else "deactivated"
    audit.log(request, audit.Action.CHANGED_REFERENCE_DATA, item, change=change)
    return item.is_active


@requires(Capability.MANAGE_REFERENCE_DATA)
def referent_body_create(request: HttpRequest) -> HttpResponse:
    return _edit_body(request, ReferentBody())


@requires(Capability.MANAGE_REFERENCE_DATA)
def referent_body_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit_body(request, get_object_or_404(ReferentBody, pk=pk))


def _edit_body(request: HttpRequest, body: ReferentBody) -> HttpResponse:
    form = ReferentBodyForm(request.POST or None, instance=body)
    if _saved_reference_data(request, form):
        messages.success(request, _("L'organisme référent est enregistré."))
        return redirect("referent_bodies")
    return render(request, "orientations/referent_body_form.html", {"form": form, "body": body})


@requires(Capability.MANAGE_REFERENCE_DATA)
@require_POST
def referent_body_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    """Deactivate (or reactivate): a body named by decisions is never deleted."""
    body = get_object_or_404(ReferentBody, pk=pk)
    if _toggled_active(request, body):
        messages.success(request, _("L'organisme « %(name)s » est réactivé.") % {"name": body.name})
    else:
        messages.success(request, _("L'organisme « %(name)s » est désactivé.") % {"name": body.name})
    return redirect("referent_bodies")


@requires(Capability.MANAGE_REFERENCE_DATA)
def correspondent_create(request: HttpRequest, pk: int) -> HttpResponse:
    body = get_object_or_404(ReferentBody, pk=pk)
    return _edit_correspondent(request, Correspondent(referent_body=body))


@requires(Capability.MANAGE_REFERENCE_DATA)
def correspondent_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit_correspondent(request, get_object_or_404(Correspondent, pk=pk))


def _edit_correspondent(request: HttpRequest, correspondent: Correspondent) -> HttpResponse:
    form = CorrespondentForm(request.POST or None, instance=correspondent)
    if _saved_reference_data(request, form):
        messages.success(request, _("Le correspondant est enregistré."))
        return redirect("referent_bodies")
    return render(
        request,
        "orientations/correspondent_form.html",
        {"form": form, "correspondent": correspondent, "body": correspondent.referent_body},
    )


@requires(Capability.MANAGE_REFERENCE_DATA)
@require_POST
def correspondent_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    correspondent = get_object_or_404(Correspondent, pk=pk)
    if _toggled_active(request, correspondent):
        messages.success(request, _("Le correspondant est réactivé."))
    else:
        messages.success(request, _("Le correspondant est désactivé."))
    return redirect("referent_bodies")


# --- CGPEM files -------------------------------------------------------------------


@requires(Capability.MANAGE_EXCHANGES)
def cgpem_exports(request: HttpRequest) -> HttpResponse:
    page = Paginator(CgpemExport.objects.all(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "orientations/cgpem_exports.html", {"page": page})


@requires(Capability.MANAGE_EXCHANGES)
def cgpem_export_detail(request: HttpRequest, pk: int) -> HttpResponse:
    export = get_object_or_404(CgpemExport, pk=pk)
    return render(request, "orientations/cgpem_export_detail.html", {"export": export})


@requires(Capability.MANAGE_EXCHANGES)
def cgpem_download(request: HttpRequest, pk: int) -> HttpResponse:
    export = get_object_or_404(CgpemExport, pk=pk)
    path = archived_path(export)
    if path is None:
        raise Http404(_("Le fichier archivé est introuvable."))
    audit.log(request, audit.Action.DOWNLOADED_FILE, export)
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=export.file_name, content_type="application/xml"
    )
