"""Rectifying a person's identity (RGPD art. 16), by an admin, with a reason.

Each changed field is kept as an IdentityCorrection (old and new values: personal data,
erased with the person); the audit entry names the fields only. Saving the person refreshes
the matching keys (Beneficiary.refresh_keys) and, for what France Travail identifies the
person by, `identity_changed_at`: the next CGPEM flux sends their decisions under the
corrected identity (orientations.cgpem.select_decisions).
"""

from __future__ import annotations

from datetime import date

from django import forms
from django.db import transaction
from django.utils.translation import gettext_lazy as _

import audit
from beneficiaries.models import Beneficiary
from beneficiaries.signals import announce_people_changed
from contract.nir import InvalidNIR, clean_nir, nir_key
from rights.models import IdentityCorrection

FIELDS = (
    "birth_name",
    "usage_name",
    "first_name",
    "birth_date",
    "nir",
    "caf_number",
    "msa_number",
    "commune_code",
)


class RectificationForm(forms.ModelForm):
    reason = forms.CharField(
        label=_("Motif de la rectification"),
        max_length=200,
        help_text=_("Par exemple : demande de la personne du 12/03, pièce d'identité vue."),
    )

    class Meta:
        model = Beneficiary
        fields = FIELDS
        widgets = {"birth_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-control"
        # The NIR is never shown whole on a page (only its audited reveal): typed in to replace it.
        self.initial["nir"] = ""
        self.fields["nir"].widget.attrs["autocomplete"] = "off"
        self.fields["nir"].help_text = _("Actuel : %(nir)s. Laisser vide pour le garder.") % {
            "nir": self.instance.masked_nir or _("aucun")
        }

    def clean_nir(self) -> str:
        value = self.cleaned_data.get("nir", "")
        if not value:
            return Beneficiary.objects.get(pk=self.instance.pk).nir
        try:
            value = clean_nir(value)
        except InvalidNIR as exc:
            raise forms.ValidationError(str(exc)) from None
        other = Beneficiary.objects.filter(nir_key=nir_key(value)).exclude(pk=self.instance.pk).first()
        if other is not None:
            # The other person's number only: no name on a page about someone else.
            raise forms.ValidationError(
                _("Ce NIR est déjà celui du bénéficiaire n° %(id)s.") % {"id": other.pk}
            )
        return value

    def clean_commune_code(self) -> str:
        value = (self.cleaned_data.get("commune_code") or "").strip().upper()
        if value and not (len(value) == 5 and value.isalnum()):
            raise forms.ValidationError(_("Le code INSEE de la commune a 5 caractères."))
        return value

    def clean_birth_date(self) -> date:
        value = self.cleaned_data["birth_date"]
        if value.year < 1900 or value > date.today():
            raise forms.ValidationError(_("Date de naissance invraisemblable."))
        return value


def _text(value) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, date) else str(value)


def rectify(request, form: RectificationForm) -> list[str]:
    """Save the form's changes, keep old and new values, audit the fields; return the fields changed."""
    beneficiary = form.instance
    stored = Beneficiary.objects.get(pk=beneficiary.pk)
    changed = [name for name in FIELDS if getattr(stored, name) != form.cleaned_data[name]]
    if not changed:
        return []
    with transaction.atomic():
        form.save()
        IdentityCorrection.objects.bulk_create(
            IdentityCorrection(
                beneficiary=beneficiary,
                field=name,
                old_value=_text(getattr(stored, name)),
                new_value=_text(form.cleaned_data[name]),
                reason=form.cleaned_data["reason"],
                changed_by=request.user,
            )
            for name in changed
        )
        audit.log(request, audit.Action.RECTIFIED_IDENTITY, beneficiary, fields=",".join(changed))
    announce_people_changed()
    return changed
