from __future__ import annotations

from datetime import date, datetime, time

from django import forms
from django.core.paginator import Paginator
from django.core.validators import MaxValueValidator, MinValueValidator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

import audit
from accounts.decorators import requires
from accounts.roles import Capability
from audit.models import AuditEntry
from beneficiaries.scoping import get_visible_beneficiary_or_404
from rights.person_trail import label_entries

PAGE_SIZE = 100


# Dates before this are no audit entry's (and 0001-01-01, moved to UTC, overflowed: a 500).
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(9998, 12, 31)


def bounded_date_field(label) -> forms.DateField:
    message = _("Saisissez une date entre le 01/01/1900 et le 31/12/9998.")
    return forms.DateField(
        label=label,
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "min": "1900-01-01"}),
        validators=[
            MinValueValidator(EARLIEST_DATE, message=message),
            MaxValueValidator(LATEST_DATE, message=message),
        ],
    )


class AuditSearchForm(forms.Form):
    username = forms.CharField(label=_("Identifiant"), required=False, max_length=150)
    action = forms.ChoiceField(
        label=_("Action"), required=False, choices=[("", _("Toutes"))] + audit.Action.choices
    )
    start = bounded_date_field(_("Du"))
    end = bounded_date_field(_("Au"))
    object_id = forms.CharField(label=_("Identifiant de l'objet"), required=False, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.widget.attrs["class"] = "form-select" if name == "action" else "form-control"

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("start") and cleaned.get("end") and cleaned["start"] > cleaned["end"]:
            self.add_error("end", _("La date de fin précède la date de début."))
        return cleaned

    def filter(self, entries):
        # Only the valid filters: an invalid one is reported and ignored, as on the lists.
        data = {name: self.cleaned_data.get(name) for name in self.fields}
        if data["username"]:
            entries = entries.filter(username__iexact=data["username"])
        if data["action"]:
            entries = entries.filter(action=data["action"])
        zone = timezone.get_current_timezone()
        if data["start"]:
            entries = entries.filter(timestamp__gte=datetime.combine(data["start"], time.min, tzinfo=zone))
        if data["end"]:
            entries = entries.filter(timestamp__lte=datetime.combine(data["end"], time.max, tzinfo=zone))
        if data["object_id"]:
            entries = entries.filter(object_id=data["object_id"].strip())
        return entries


@requires(Capability.VIEW_AUDIT)
def audit_search(request: HttpRequest) -> HttpResponse:
    form = AuditSearchForm(request.GET or None)
    entries = AuditEntry.objects.select_related("user")
    if form.is_bound:
        form.is_valid()
        entries = form.filter(entries)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    # Names instead of ids, for the people the reader may see.
    page.object_list = list(page.object_list)
    label_entries(page.object_list, request.user)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "audit/search.html", {"form": form, "page": page, "query": query.urlencode()})


@requires(Capability.VIEW_FOLLOWUP)
@require_POST
@never_cache
def reveal_nir(request: HttpRequest, pk: int) -> HttpResponse:
    """The full NIR, swapped in by htmx in place of the masked one; each reveal is audited.

    Without JavaScript the form posts as a plain form: the answer is then a page of its own.
    """
    beneficiary = get_visible_beneficiary_or_404(request, pk)
    audit.log(request, audit.Action.REVEALED_NIR, beneficiary)
    template = "audit/_nir_revealed.html" if request.headers.get("HX-Request") else "audit/nir_page.html"
    return render(request, template, {"beneficiary": beneficiary})
