"""How the audit log page shows an entry's object and details: words, not internal names.

The trail stores what the code logged (`beneficiaries.beneficiary`, `rows=318`,
`search=False`); the page that admins read shows "bénéficiaire n° 247" and
"lignes : 318, recherche : non". Unknown keys and types are shown as stored.
"""

from __future__ import annotations

from importlib import import_module

from django.apps import apps
from django.utils.translation import gettext_lazy as _

OBJECT_TYPES = {
    "beneficiaries.list": _("liste des bénéficiaires"),
    "beneficiaries.cohort": _("liste à traiter"),
    "cohort": _("liste à traiter"),
    "import_rejects": _("rejets d'un import PECGM"),
    "followup_csv": _("suivi France Travail (CSV)"),
    "ft_anomalies": _("anomalies pour France Travail du mois"),
}

KEYS = {
    "rows": _("lignes"),
    "search": _("recherche"),
    "known_account": _("compte connu"),
    "locked_out": _("compte bloqué"),
    "page": _("page"),
    "decision": _("décision"),
    "file": _("fichier"),
    "fields": _("champs"),
    "bulk": _("en lot"),
    "step": _("étape"),
    "deleted": _("supprimés"),
    "count": _("nombre"),
    "cutoff": _("avant le"),
    "origin": _("origine"),
    "change": _("changement"),
    "direction": _("échange"),
}

VALUES = {
    "orientation_history": _("historique des orientations"),
    "orientation_record": _("enregistrement d'une orientation"),
    "orientation_correct": _("correction d'une orientation"),
    "second_factor": _("double authentification"),
    # Reference data changes (orientations.views).
    "created": _("création"),
    "edited": _("modification"),
    "deactivated": _("désactivation"),
    "reactivated": _("réactivation"),
}


# An orientation's corrected fields (orientations.decisions.correct_decision).
FIELDS = {
    "nature": _("nature"),
    "decision_date": _("date de décision"),
    "referent_body": _("organisme référent"),
    "correspondent": _("correspondant"),
    # A person's rectified identity (rights.rectification).
    "birth_name": _("nom de naissance"),
    "usage_name": _("nom d'usage"),
    "first_name": _("prénom"),
    "birth_date": _("date de naissance"),
    "nir": _("NIR"),
    "caf_number": _("n° CAF"),
    "msa_number": _("n° MSA"),
    "commune_code": _("commune"),
}


def _choices(path: str) -> dict:
    """The labels of a model's TextChoices ("app.module.Class"), read where they are defined."""
    module, name = path.rsplit(".", 1)
    return dict(getattr(import_module(module), name).choices)


# Keys whose values are codes of the project's own choices: shown with those choices' labels.
KEY_CHOICES = {
    "decision": "exchanges.models.ReviewStatus",  # a review case resolved
    "direction": "exchanges.runs.Direction",  # an exchange started by hand
}


def object_label(object_type: str, object_id: str) -> str:
    """ "bénéficiaire n° 247" for ("beneficiaries.beneficiary", "247")."""
    label = OBJECT_TYPES.get(object_type)
    if label is None and "." in object_type:
        try:
            label = apps.get_model(object_type)._meta.verbose_name
        except (LookupError, ValueError):
            label = None
    label = str(label or object_type)
    return f"{label} n° {object_id}" if object_id else label


def details(extra: dict) -> list[tuple[str, str]]:
    """(label, value) pairs of an entry's details, in French."""
    shown = []
    for key, value in extra.items():
        if key.startswith("filtre_"):
            label = _("filtre « %(name)s »") % {"name": key.removeprefix("filtre_")}
        else:
            label = KEYS.get(key, key.replace("_", " "))
        if isinstance(value, bool):
            value = _("oui") if value else _("non")
        elif key in KEY_CHOICES and isinstance(value, str):
            value = _choices(KEY_CHOICES[key]).get(value, value)
        elif key == "fields" and isinstance(value, str):
            value = ", ".join(str(FIELDS.get(name, name)) for name in value.split(","))
        shown.append((str(label), str(VALUES.get(value, value) if isinstance(value, str) else value)))
    return shown
