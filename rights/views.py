"""Admin pages for the data subject's rights: find a person by NIR, restrict, rectify, erase."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from accounts.decorators import requires
from accounts.roles import Capability
from beneficiaries.models import Beneficiary
from beneficiaries.scoping import get_visible_beneficiary_or_404
from rights import erasure, restriction
from rights.models import IdentityCorrection, Restriction
from rights.person_export import find_people
from rights.rectification import RectificationForm, rectify


class FindForm(forms.Form):
    nir = forms.CharField(
        label=gettext_lazy("NIR de la personne"),
        max_length=21,
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Motif"), max_length=200, widget=forms.TextInput(attrs={"class": "form-control"})
    )


def person_panel(beneficiary: Beneficiary) -> dict:
    """What the person's page shows admins about their rights (pages.views)."""
    return {
        "restriction": Restriction.objects.filter(beneficiary=beneficiary).first(),
        "corrections": list(
            IdentityCorrection.objects.filter(beneficiary=beneficiary).select_related("changed_by")
        ),
        "reason_form": ReasonForm(),
    }


@requires(Capability.HANDLE_RIGHTS)
def rights_home(request: HttpRequest) -> HttpResponse:
    """The restricted people (in no list otherwise), and a person found by NIR (posted, never in a URL)."""
    form = FindForm(request.POST or None)
    found = None
    if request.method == "POST" and form.is_valid():
        found = find_people(form.cleaned_data["nir"])
        if len(found) == 1:
            return redirect("beneficiary_detail", found[0].pk)
        if not found:
            messages.info(request, _("Aucun bénéficiaire n'a ce NIR."))
    restricted = Restriction.objects.select_related("beneficiary").order_by("-created_at")
    return render(request, "rights/home.html", {"form": form, "found": found, "restricted": restricted})


@requires(Capability.HANDLE_RIGHTS)
@require_POST
def restrict_person(request: HttpRequest, pk: int) -> HttpResponse:
    beneficiary = get_visible_beneficiary_or_404(request, pk)
    if request.POST.get("lift"):
        restriction.lift(request, beneficiary)
        messages.success(request, _("La limitation du traitement est levée."))
    else:
        form = ReasonForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Indiquez le motif de la limitation."))
        else:
            restriction.restrict(request, beneficiary, form.cleaned_data["reason"])
            messages.success(
                request,
                _(
                    "Traitement limité : la personne n'apparaît plus dans les listes, les exports "
                    "ni les fichiers CGPEM."
                ),
            )
    return redirect("beneficiary_detail", beneficiary.pk)


@requires(Capability.HANDLE_RIGHTS)
def rectify_person(request: HttpRequest, pk: int) -> HttpResponse:
    beneficiary = get_visible_beneficiary_or_404(request, pk)
    form = RectificationForm(request.POST or None, instance=beneficiary)
    if request.method == "POST" and form.is_valid():
        changed = rectify(request, form)
        if changed:
            messages.success(
                request,
                ngettext(
                    "Identité rectifiée (%(n)s champ).", "Identité rectifiée (%(n)s champs).", len(changed)
                )
                % {"n": len(changed)},
            )
        else:
            messages.info(request, _("Aucune valeur n'a changé : rien n'est enregistré."))
        return redirect("beneficiary_detail", beneficiary.pk)
    return render(request, "rights/rectify.html", {"beneficiary": beneficiary, "form": form})


@requires(Capability.HANDLE_RIGHTS)
def erase_person(request: HttpRequest, pk: int) -> HttpResponse:
    beneficiary = get_visible_beneficiary_or_404(request, pk)
    plan = erasure.plan([beneficiary])
    if request.method == "POST":
        if request.POST.get("confirm") != erasure.CONFIRMATION:
            messages.error(request, _("Recopiez la phrase de confirmation pour effacer."))
        else:
            result = erasure.erase([beneficiary], request=request)
            return render(request, "rights/erased.html", {"result": result})
    return render(
        request,
        "rights/erase.html",
        {"beneficiary": beneficiary, "plan": plan, "confirmation": erasure.CONFIRMATION},
    )
