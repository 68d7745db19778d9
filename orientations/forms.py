"""Forms: every error in French, next to its field."""

from __future__ import annotations

import copy

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from beneficiaries.models import Beneficiary
from orientations.decisions import DecisionData, decision_date_error
from orientations.models import NATURE_CHOICES, Correspondent, ReferentBody
from orientations.validators import validate_latin1, validate_name, validate_phone

REQUIRED = {"required": _("Ce champ est obligatoire.")}


class BootstrapMixin:
    """Bootstrap classes on every widget; errors are shown next to the field by the template."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style()

    def full_clean(self):
        super().full_clean()
        self._style()

    def _style(self) -> None:
        errors = self._errors or {}
        for name, field in self.fields.items():
            widget = field.widget
            if isinstance(widget, forms.CheckboxSelectMultiple | forms.CheckboxInput | forms.RadioSelect):
                continue
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs["class"] = css + (" is-invalid" if name in errors else "")


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class CorrespondentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Correspondent) -> str:
        return f"{obj} — {obj.referent_body}"


class DecisionForm(BootstrapMixin, forms.Form):
    """A decision: nature, date, referent body and a correspondent, picked or typed in.

    A correspondent typed in is created under the chosen referent body, so that
    an officer never has to leave the page for a new contact.
    """

    nature = forms.ChoiceField(
        label=_("Nature de l'accompagnement"),
        # No nature preselected: the officer must choose one.
        choices=[("", _("— choisir —")), *NATURE_CHOICES],
        error_messages=REQUIRED,
    )
    decision_date = forms.DateField(
        label=_("Date de la décision"),
        widget=DateInput(),
        error_messages={**REQUIRED, "invalid": _("Saisissez une date valide (JJ/MM/AAAA).")},
    )
    referent_body = forms.ModelChoiceField(
        label=_("Organisme référent"),
        queryset=ReferentBody.objects.filter(is_active=True),
        error_messages={**REQUIRED, "invalid_choice": _("Choisissez un organisme de la liste.")},
    )
    correspondent = CorrespondentChoiceField(
        label=_("Correspondant"),
        queryset=Correspondent.objects.filter(is_active=True, referent_body__is_active=True).select_related(
            "referent_body"
        ),
        required=False,
        empty_label=_("— aucun ou nouveau correspondant ci-dessous —"),
        error_messages={"invalid_choice": _("Choisissez un correspondant de la liste.")},
    )
    new_last_name = forms.CharField(
        label=_("Nom du nouveau correspondant"), required=False, max_length=30, validators=[validate_name]
    )
    new_first_name = forms.CharField(
        label=_("Prénom du nouveau correspondant"), required=False, max_length=25, validators=[validate_name]
    )
    new_phone = forms.CharField(
        label=_("Téléphone"),
        required=False,
        max_length=20,
        validators=[validate_phone],
        help_text=_("10 chiffres ; espaces et points acceptés."),
    )
    new_email = forms.EmailField(
        label=_("Courriel"),
        required=False,
        max_length=60,
        error_messages={"invalid": _("Saisissez une adresse électronique valide.")},
    )
    new_service = forms.CharField(
        label=_("Service"), required=False, max_length=50, validators=[validate_latin1]
    )

    NEW_FIELDS = ("new_last_name", "new_first_name", "new_phone", "new_email", "new_service")

    def __init__(self, *args, instance=None, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("new_last_name", "new_first_name", "new_service"):
            self.fields[name].error_messages["max_length"] = _(
                "%(limit_value)d caractères au plus (%(show_value)d saisis)."
            )
        if instance is not None:
            # A correction may keep a body or contact deactivated since.
            self.fields["referent_body"].queryset = ReferentBody.objects.filter(
                is_active=True
            ) | ReferentBody.objects.filter(pk=instance.referent_body_id)
            if instance.correspondent_id:
                self.fields["correspondent"].queryset = Correspondent.objects.filter(
                    is_active=True
                ) | Correspondent.objects.filter(pk=instance.correspondent_id)
        self._offer_correspondents_of(self._chosen_body(instance))
        # With JavaScript, choosing a body reloads the correspondents offered (views.correspondents).
        self.fields["referent_body"].widget.attrs.update(
            {
                "hx-get": reverse_lazy("orientation_correspondents"),
                "hx-trigger": "change",
                "hx-target": f"#{self.auto_id % self.add_prefix('correspondent')}" if self.auto_id else "",
                "hx-swap": "innerHTML",
            }
        )

    def _chosen_body(self, instance) -> str:
        if self.is_bound:
            value = self.data.get(self.add_prefix("referent_body"), "")
        else:
            value = self.initial.get("referent_body") or (instance.referent_body_id if instance else "")
        value = str(getattr(value, "pk", value) or "")
        return value if value.isdigit() else ""

    def _offer_correspondents_of(self, body: str) -> None:
        """Offer only the chosen body's correspondents; check against all of them.

        The list stays whole for validation, so that a correspondent of another body gets the
        error that says so (clean()) rather than « not in the list ». Only the widget's choices
        are narrowed: a shallow copy of the field shares its widget, and a copy's queryset sets
        the widget's choices (ModelChoiceField._set_queryset).
        """
        if not body:
            return
        field = self.fields["correspondent"]
        offered = copy.copy(field)
        offered.queryset = field.queryset.filter(referent_body_id=int(body))

    def clean_decision_date(self):
        value = self.cleaned_data["decision_date"]
        if value > timezone.localdate():
            raise ValidationError(_("La date de décision ne peut pas être dans le futur."))
        # Not before the RSA; the person's birth date is checked per person (decisions.py).
        error = decision_date_error(value)
        if error:
            raise ValidationError(error)
        return value

    def clean(self):
        cleaned = super().clean()
        body = cleaned.get("referent_body")
        correspondent = cleaned.get("correspondent")
        typed = any(cleaned.get(name) for name in self.NEW_FIELDS)
        if correspondent and typed:
            self.add_error(
                "correspondent", _("Choisissez un correspondant ou saisissez-en un nouveau, pas les deux.")
            )
        if correspondent and body and correspondent.referent_body_id != body.pk:
            self.add_error("correspondent", _("Ce correspondant ne dépend pas de l'organisme choisi."))
        if typed and not correspondent:
            for name in ("new_last_name", "new_first_name"):
                if not cleaned.get(name) and name not in self.errors:
                    self.add_error(name, _("Ce champ est obligatoire pour un nouveau correspondant."))
        return cleaned

    def decision_data(self) -> DecisionData:
        """The decision, creating the typed-in correspondent if there is one (call once, valid form)."""
        cleaned = self.cleaned_data
        correspondent = cleaned.get("correspondent")
        if correspondent is None and cleaned.get("new_last_name"):
            correspondent, _created = Correspondent.objects.get_or_create(
                referent_body=cleaned["referent_body"],
                last_name=cleaned["new_last_name"].strip(),
                first_name=cleaned["new_first_name"].strip(),
                defaults={
                    "phone": cleaned["new_phone"],
                    "email": cleaned["new_email"],
                    "service": cleaned["new_service"].strip(),
                },
            )
        return DecisionData(
            nature=cleaned["nature"],
            decision_date=cleaned["decision_date"],
            referent_body=cleaned["referent_body"],
            correspondent=correspondent,
        )


class CorrectionForm(DecisionForm):
    reason = forms.CharField(label=_("Motif de la correction"), max_length=200, error_messages=REQUIRED)


class BulkSelection(forms.Form):
    """Who a bulk action is for: the people ticked on the page, or the whole filtered list.

    Mixed into the action's own form (a decision, a référent). The view narrows
    `beneficiaries` to the people the user may see: an id out of scope is an
    invalid choice.
    """

    SELECTED, ALL = "selected", "all"
    # The error summary's link for the boxes, which the list's template draws itself.
    error_anchors = {"beneficiaries": "choix-personnes"}

    scope = forms.ChoiceField(
        label=_("Pour qui"),
        choices=[(SELECTED, _("Les personnes cochées")), (ALL, _("Toute la liste filtrée"))],
        widget=forms.RadioSelect,
        required=False,
    )
    beneficiaries = forms.ModelMultipleChoiceField(
        label=_("Personnes"),
        queryset=Beneficiary.objects.none(),
        required=False,
        error_messages={
            "invalid_choice": _("Une personne cochée n'existe plus ou n'est pas visible."),
            "invalid_pk_value": _("Sélection invalide."),
        },
    )
    # For the whole list: the number of people the user saw and confirmed.
    confirmed_count = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def clean_scope(self) -> str:
        return self.cleaned_data.get("scope") or self.SELECTED

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("scope") != self.ALL
            and not cleaned.get("beneficiaries")
            and "beneficiaries" not in self.errors
        ):
            self.add_error("beneficiaries", _("Cochez au moins une personne."))
        return cleaned

    def carried_values(self) -> list[tuple[str, str]]:
        """The action as posted (its own fields, not the selection), to post again from the
        confirmation page."""
        own = [name for name in self.base_fields if name not in BulkSelection.base_fields]
        return [(name, value) for name in own for value in self.data.getlist(name)]


class BulkDecisionForm(BulkSelection, DecisionForm):
    """The same decision for the people checked on the page, or for the whole filtered queue."""


class ReferentBodyForm(BootstrapMixin, forms.ModelForm):
    class Meta:
        model = ReferentBody
        fields = ["name", "address"]
        error_messages = {"name": REQUIRED}
        help_texts = {"address": _("Nom et adresse ensemble : 90 caractères au plus.")}

    def clean(self):
        cleaned = super().clean()
        name, address = cleaned.get("name"), cleaned.get("address")
        if name:
            # Two identical bodies would be offered side by side on every decision form.
            twins = ReferentBody.objects.filter(
                name__iexact=name.strip(), address__iexact=(address or "").strip()
            )
            if twins.exclude(pk=self.instance.pk).exists():
                self.add_error("name", _("Cet organisme existe déjà à cette adresse."))
        return cleaned


class CorrespondentForm(BootstrapMixin, forms.ModelForm):
    class Meta:
        model = Correspondent
        fields = ["last_name", "first_name", "phone", "email", "service"]
        error_messages = {"last_name": REQUIRED, "first_name": REQUIRED}
        help_texts = {"phone": _("10 chiffres ; espaces et points acceptés.")}
