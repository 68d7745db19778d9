"""Caseload pages: a person's référent, the bulk assignment, notes, handled lines, news read.

Views stay thin: the rules live in caseloads.assignments, notes, worklists and news. Every
person is reached through `get_visible_beneficiary_or_404` or `visible_beneficiaries`.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

import audit
from accounts.decorators import requires
from accounts.roles import Capability
from beneficiaries.models import Beneficiary
from beneficiaries.scoping import get_visible_beneficiary_or_404, visible_beneficiaries
from caseloads import assignments, news, notes, worklists
from caseloads.assignments import AssignmentRefused
from caseloads.forms import AssignForm, BeneficiaryCSVForm, BulkAssignForm, DigestForm, HandlingForm, NoteForm
from caseloads.models import Assignment, AssignmentSource, Handling, Note
from intake.beneficiary_csv import CSVFileError, import_beneficiaries_data
from pages.cohorts import Cohort, current_month, get_cohort
from pages.versioned_cache import work_changed
from pages.views import MINE, list_queryset, list_url

# The last bulk assignment's result in the session: [(beneficiary id, assigned, message)].
BULK_RESULT_KEY = "caseloads_bulk_result"
# The whole filtered list in one action: at most this many people (as for bulk decisions).
BULK_LIMIT = 1000


def _back(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return default


# --- Référent of one person -----------------------------------------------------------


def _log_assignment(request: HttpRequest, beneficiary: Beneficiary, assignment: Assignment, **extra) -> None:
    """The audit entry of a référent assigned, to one person or in bulk (`bulk=True`)."""
    audit.log(
        request,
        audit.Action.ASSIGNED_REFERENT,
        beneficiary,
        referent=assignment.referent_id,
        assignment=assignment.pk,
        **extra,
    )


@requires(Capability.ASSIGN_REFERENT)
def referent(request: HttpRequest, pk: int) -> HttpResponse:
    beneficiary = get_visible_beneficiary_or_404(request, pk)
    current = assignments.current_assignment(beneficiary)
    initial = {"referent": current.referent_id, "structure": current.structure} if current else {}
    form = AssignForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            result = assignments.assign(
                beneficiary,
                form.cleaned_data["referent"],
                structure=form.cleaned_data["structure"],
                start_date=form.cleaned_data["start_date"],
                by=request.user,
            )
        except AssignmentRefused as exc:
            form.add_error("referent", str(exc))
        else:
            if result.assignment is None:
                messages.info(request, _("Aucune modification : ce référent suit déjà la personne."))
            else:
                _log_assignment(request, beneficiary, result.assignment)
                messages.success(request, _("Le référent est enregistré."))
            return redirect("beneficiary_detail", pk=beneficiary.pk)
    audit.log(request, audit.Action.VIEWED_BENEFICIARY, beneficiary, page="referent")
    return render(
        request,
        "caseloads/referent.html",
        {
            "beneficiary": beneficiary,
            "form": form,
            "current": current,
            "history": assignments.history(beneficiary),
        },
    )


@requires(Capability.ASSIGN_REFERENT)
@require_POST
def referent_end(request: HttpRequest, pk: int) -> HttpResponse:
    beneficiary = get_visible_beneficiary_or_404(request, pk)
    ended = assignments.end_assignment(beneficiary)
    if ended is not None:
        audit.log(request, audit.Action.ENDED_REFERENT, beneficiary, assignment=ended.pk)
        messages.success(request, _("La personne n'a plus de référent ; l'historique est conservé."))
    return redirect("beneficiary_detail", pk=beneficiary.pk)


# --- Bulk assignment from any list --------------------------------------------------------


def _list_query(request: HttpRequest) -> str:
    """The list's filters as posted back (the query string), for the links back to it."""
    return request.GET.urlencode()


@requires(Capability.ASSIGN_REFERENT)
@require_POST
def bulk_assign(request: HttpRequest) -> HttpResponse:
    """The same référent for several people: each one checked and reported on its own."""
    liste = request.GET.get("liste", "")
    if liste and liste != MINE and get_cohort(liste) is None:
        raise Http404("No such list")
    form = BulkAssignForm(request.POST)
    form.fields["beneficiaries"].queryset = visible_beneficiaries(request.user)
    back = list_url(liste, request.GET)
    if not form.is_valid():
        return render(request, "caseloads/bulk_confirm.html", {"form": form, "back": back}, status=400)
    if form.cleaned_data["scope"] == BulkAssignForm.ALL:
        _form, people = list_queryset(request, liste)
        total = people.count()
        chosen = people.order_by("birth_name_key", "first_name_key", "id")[:BULK_LIMIT]
        if form.cleaned_data["confirmed_count"] != total:
            return _confirm_all(request, form, total, back, chosen)
        chosen = list(chosen)
    else:
        chosen = list(form.cleaned_data["beneficiaries"])
    cleaned = form.cleaned_data
    results = []
    for beneficiary in chosen:
        try:
            result = assignments.assign(
                beneficiary,
                cleaned["referent"],
                structure=cleaned["structure"],
                start_date=cleaned["start_date"],
                by=request.user,
                source=AssignmentSource.BULK,
                notify=False,
            )
        except AssignmentRefused as exc:
            results.append((beneficiary.pk, False, str(exc)))
            continue
        if result.assignment is None:
            results.append((beneficiary.pk, True, _("Déjà suivie par ce référent.")))
        else:
            _log_assignment(request, beneficiary, result.assignment, bulk=True)
            results.append((beneficiary.pk, True, ""))
    work_changed()
    request.session[BULK_RESULT_KEY] = results
    query = urlencode({"retour": back})
    return redirect(f"{reverse('caseload_bulk_result')}?{query}")


def _confirm_all(
    request: HttpRequest, form: BulkAssignForm, total: int, back: str, people: QuerySet
) -> HttpResponse:
    cleaned = form.cleaned_data
    return render(
        request,
        "caseloads/bulk_confirm.html",
        {
            "form": form,
            "total": total,
            "acting": min(total, BULK_LIMIT),
            "limited": total > BULK_LIMIT,
            "changed": cleaned.get("confirmed_count") is not None,
            "summary": [
                (form.fields["referent"].label, assignments.referent_label(cleaned["referent"])),
                (form.fields["structure"].label, cleaned["structure"] or "—"),
                (form.fields["start_date"].label, cleaned["start_date"].strftime("%d/%m/%Y")),
            ],
            "carried": form.carried_values(),
            "action": f"{reverse('caseload_bulk_assign')}?{request.GET.urlencode()}",
            "back": back,
            # Who it is for, by name: a count alone hides a filter that caught the wrong people.
            "people": list(people),
        },
    )


@requires(Capability.ASSIGN_REFERENT)
def bulk_result(request: HttpRequest) -> HttpResponse:
    stored = request.session.get(BULK_RESULT_KEY) or []
    people = visible_beneficiaries(request.user).in_bulk([pk for pk, _ok, _message in stored])
    # (person, done, message, flagged): the rows of includes/bulk_results.html, none flagged here.
    results = [
        (people[pk], ok, message or _("Référent enregistré."), False)
        for pk, ok, message in stored
        if pk in people
    ]
    assigned = sum(1 for _b, ok, _m, _f in results if ok)
    return render(
        request,
        "caseloads/bulk_result.html",
        {
            "results": results,
            "assigned": assigned,
            "refused": len(results) - assigned,
            "none": not stored,
            "back": _back_param(request),
        },
    )


def _back_param(request: HttpRequest) -> str:
    target = request.GET.get("retour", "")
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("beneficiary_list")


# --- Notes ------------------------------------------------------------------------------


@requires(Capability.VIEW_FOLLOWUP)
@require_POST
def note_add(request: HttpRequest, pk: int) -> HttpResponse:
    beneficiary = get_visible_beneficiary_or_404(request, pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        note = notes.add_note(beneficiary, request.user, form.cleaned_data["text"])
        audit.log(request, audit.Action.ADDED_NOTE, beneficiary, note=note.pk)
        messages.success(request, _("La note est enregistrée."))
    else:
        for error in form.errors.get("text", []):
            messages.error(request, _("Note non enregistrée : %(error)s") % {"error": error})
    return redirect(f"{reverse('beneficiary_detail', args=[beneficiary.pk])}#journal-title")


@requires(Capability.VIEW_FOLLOWUP)
def note_edit(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_object_or_404(Note, pk=pk)
    beneficiary = get_visible_beneficiary_or_404(request, note.beneficiary_id)
    if not note.editable_by(request.user):
        messages.error(request, _("Une note ne peut être corrigée que par son auteur, dans les 24 heures."))
        return redirect("beneficiary_detail", pk=beneficiary.pk)
    form = NoteForm(request.POST or None, initial={"text": note.text})
    form.fields["text"].label = _("Note")
    if request.method == "POST" and form.is_valid():
        notes.edit_note(note, form.cleaned_data["text"])
        audit.log(request, audit.Action.EDITED_NOTE, beneficiary, note=note.pk)
        messages.success(request, _("La note est corrigée."))
        return redirect(f"{reverse('beneficiary_detail', args=[beneficiary.pk])}#journal-title")
    return render(
        request, "caseloads/note_edit.html", {"beneficiary": beneficiary, "note": note, "form": form}
    )


# --- Handled lines of the « Listes à traiter » -----------------------------------------------


def _line(request: HttpRequest, cohort: str, pk: int) -> tuple[Cohort, Beneficiary, date, Handling | None]:
    """This month's line of a visible person in a list: the list, the person, the month, its mark."""
    found = get_cohort(cohort)
    if found is None:
        raise Http404("No such cohort")
    beneficiary = get_visible_beneficiary_or_404(request, pk)
    month = current_month()
    return found, beneficiary, month, worklists.find(beneficiary.pk, found.slug, month)


@requires(Capability.VIEW_FOLLOWUP)
def handle(request: HttpRequest, cohort: str, pk: int) -> HttpResponse:
    found, beneficiary, month, existing = _line(request, cohort, pk)
    initial = {"outcome": existing.outcome_id, "note": existing.note} if existing else {}
    form = HandlingForm(request.POST if request.method == "POST" else None, initial=initial)
    back = _back(request, reverse("cohort_detail", args=[found.slug]))
    if request.method == "POST" and form.is_valid():
        handling = worklists.mark_handled(
            beneficiary,
            found.slug,
            month,
            form.cleaned_data["outcome"],
            form.cleaned_data["note"],
            request.user,
        )
        audit.log(
            request,
            audit.Action.HANDLED_LINE,
            beneficiary,
            cohort=found.slug,
            month=month.strftime("%Y-%m"),
            outcome=handling.outcome_id,
        )
        messages.success(
            request, _("Ligne marquée « traité » : %(outcome)s.") % {"outcome": handling.outcome.label}
        )
        return redirect(back)
    return render(
        request,
        "caseloads/handle.html",
        {
            "beneficiary": beneficiary,
            "cohort": found,
            "month": month,
            "form": form,
            "existing": existing,
            "back": back,
        },
    )


@requires(Capability.VIEW_FOLLOWUP)
@require_POST
def unhandle(request: HttpRequest, cohort: str, pk: int) -> HttpResponse:
    found, beneficiary, month, existing = _line(request, cohort, pk)
    if existing is not None:
        worklists.unmark(existing)
        audit.log(
            request, audit.Action.REOPENED_LINE, beneficiary, cohort=found.slug, month=month.strftime("%Y-%m")
        )
        messages.success(request, _("La ligne est de nouveau à traiter."))
    return redirect(_back(request, reverse("cohort_detail", args=[found.slug])))


# --- News and preferences ---------------------------------------------------------------------


@requires(Capability.VIEW_FOLLOWUP)
@require_POST
def news_seen(request: HttpRequest) -> HttpResponse:
    news.mark_seen(request.user)
    messages.success(request, _("Les nouveautés sont marquées comme vues."))
    return redirect(_back(request, reverse("caseload")))


@requires(Capability.VIEW_FOLLOWUP)
@require_POST
def digest(request: HttpRequest) -> HttpResponse:
    form = DigestForm(request.POST)
    form.is_valid()
    preferences = news.preferences(request.user)
    preferences.weekly_digest = form.cleaned_data.get("weekly_digest", False)
    preferences.save(update_fields=["weekly_digest"])
    if preferences.weekly_digest and not request.user.email:
        messages.warning(
            request,
            _(
                "Résumé activé, mais votre compte n'a pas d'adresse électronique : "
                "demandez-la à un administrateur."
            ),
        )
    elif preferences.weekly_digest:
        messages.success(request, _("Vous recevrez chaque lundi le résumé de vos nouveautés."))
    else:
        messages.success(request, _("Vous ne recevrez plus le résumé hebdomadaire."))
    return redirect("caseload")


# --- The Département's CSV, uploaded ----------------------------------------------------------


@requires(Capability.MANAGE_REFERENCE_DATA)
def csv_upload(request: HttpRequest) -> HttpResponse:
    """`import_beneficiaries` from the browser: people, and their référents (columns referent, structure)."""
    form = BeneficiaryCSVForm(request.POST or None, request.FILES or None)
    summary = file_error = None
    if request.method == "POST" and form.is_valid():
        dry_run = form.cleaned_data["dry_run"]
        try:
            summary = import_beneficiaries_data(form.cleaned_data["file"].read(), dry_run=dry_run)
        except CSVFileError as exc:
            file_error = str(exc)
        else:
            audit.log(
                request,
                audit.Action.IMPORTED_BENEFICIARIES,
                object_type="beneficiaries.csv",
                dry_run=dry_run,
                rows=summary.rows,
                created=summary.created,
                updated=summary.updated,
                referents=summary.referents,
                rejected=len(summary.errors),
            )
    return render(
        request,
        "caseloads/csv_upload.html",
        {"form": form, "summary": summary, "file_error": file_error, "file_name": request.FILES.get("file")},
    )
