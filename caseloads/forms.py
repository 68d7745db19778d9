"""Forms of the caseload pages: every error in French, next to its field."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from caseloads.assignments import referent_choices, referent_label
from caseloads.models import HANDLING_NOTE_MAX_LENGTH, NOTE_MAX_LENGTH, STRUCTURE_MAX_LENGTH, Outcome
from orientations.forms import REQUIRED, BootstrapMixin, BulkSelection, DateInput


class ReferentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{referent_label(obj)} ({obj.username})"


class AssignForm(BootstrapMixin, forms.Form):
    referent = ReferentChoiceField(
        label=_("Référent"),
        queryset=referent_choices(),
        empty_label=_("— choisir —"),
        error_messages={**REQUIRED, "invalid_choice": _("Choisissez un référent de la liste.")},
    )
    structure = forms.CharField(
        label=_("Structure du référent"),
        required=False,
        max_length=STRUCTURE_MAX_LENGTH,
        help_text=_("Le service ou l'organisme du référent (CCAS, service territorial…)."),
    )
    start_date = forms.DateField(
        label=_("Depuis le"),
        required=False,
        widget=DateInput(),
        help_text=_("Aujourd'hui si vide."),
        error_messages={"invalid": _("Saisissez une date valide (JJ/MM/AAAA).")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read at each form: accounts come and go. The choices as a list, read in one query: a
        # model field's own iterator opens a server-side cursor on PostgreSQL, a write (DECLARE)
        # on every list page that shows the bulk form.
        field = self.fields["referent"]
        field.queryset = referent_choices()
        field.choices = [("", field.empty_label)] + [
            (user.pk, field.label_from_instance(user)) for user in field.queryset
        ]

    def clean_start_date(self):
        value = self.cleaned_data.get("start_date") or timezone.localdate()
        if value > timezone.localdate():
            raise ValidationError(_("La date de début ne peut pas être dans le futur."))
        return value


class BulkAssignForm(BulkSelection, AssignForm):
    """The same référent for the people ticked on the page, or for the whole filtered list."""


class NoteForm(BootstrapMixin, forms.Form):
    text = forms.CharField(
        label=_("Nouvelle note"),
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={
            **REQUIRED,
            "max_length": _("%(limit_value)d caractères au plus (%(show_value)d saisis)."),
        },
    )

    def clean_text(self) -> str:
        text = self.cleaned_data["text"].strip()
        if not text:
            raise ValidationError(_("Ce champ est obligatoire."))
        return text


class HandlingForm(BootstrapMixin, forms.Form):
    outcome = forms.ModelChoiceField(
        label=_("Suite donnée"),
        queryset=Outcome.objects.filter(is_active=True),
        empty_label=_("— choisir —"),
        error_messages={**REQUIRED, "invalid_choice": _("Choisissez une suite de la liste.")},
    )
    note = forms.CharField(
        label=_("Note (facultative)"),
        required=False,
        max_length=HANDLING_NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"max_length": _("%(limit_value)d caractères au plus (%(show_value)d saisis).")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["outcome"].queryset = Outcome.objects.filter(is_active=True)


class DigestForm(forms.Form):
    weekly_digest = forms.BooleanField(
        label=_("Recevoir chaque lundi un résumé par courriel"), required=False
    )


# An export of the Département's tool for a whole département: a few megabytes.
CSV_MAX_BYTES = 20 * 1024 * 1024


class BeneficiaryCSVForm(forms.Form):
    file = forms.FileField(
        label=_("Fichier CSV"),
        help_text=_(
            "Export de l'outil du Département : « ; » ou « , », UTF-8, Windows-1252 ou Latin-1. "
            "Colonnes facultatives referent (identifiant ou adresse électronique) et structure."
        ),
        error_messages=REQUIRED,
    )
    dry_run = forms.BooleanField(label=_("Simulation : tout vérifier, ne rien enregistrer"), required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > CSV_MAX_BYTES:
            raise ValidationError(_("Fichier trop volumineux (20 Mo au plus)."))
        return upload
