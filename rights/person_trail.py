"""« Qui a consulté ce dossier » : the audit entries about one person, in words, for admins;
and the people's names in place of their ids on the audit page.

An entry names its record by type and id only (audit.trail). Entries about a person are
those on the person's record and on the records that belong to them (orientation decisions,
review cases). Names are shown only to a user who may see that person
(beneficiaries.scoping): the audit page's readers are admins, who see everyone, but the
rule is written once, here, whatever the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.actions import Action
from audit.display import details, object_label
from audit.models import AuditEntry
from beneficiaries.models import Beneficiary
from beneficiaries.scoping import openable_beneficiaries
from exchanges.models import ReviewCase
from orientations.models import OrientationDecision

BENEFICIARY = "beneficiaries.beneficiary"
SHOWN = 200

# What the person's page says each action did, after the agent's name.
VERBS = {
    Action.VIEWED_BENEFICIARY: gettext_lazy("a consulté le dossier"),
    Action.REVEALED_NIR: gettext_lazy("a affiché le NIR"),
    Action.RECORDED_ORIENTATION: gettext_lazy("a enregistré une décision d'orientation"),
    Action.CHANGED_ORIENTATION: gettext_lazy("a corrigé une décision d'orientation"),
    Action.RESOLVED_REVIEW: gettext_lazy("a traité un rapprochement à vérifier"),
    Action.VIEWED_REVIEW: gettext_lazy("a consulté un rapprochement à vérifier"),
    Action.ACCESS_DENIED: gettext_lazy("a tenté d'ouvrir le dossier hors de son périmètre (refusé)"),
    Action.EXPORT_PERSON: gettext_lazy("a exporté toutes les données de la personne (droit d'accès)"),
    Action.RECTIFIED_IDENTITY: gettext_lazy("a rectifié l'identité"),
    Action.RESTRICTED: gettext_lazy("a limité le traitement des données"),
    Action.RESTRICTION_LIFTED: gettext_lazy("a levé la limitation du traitement"),
    Action.ERASED_PERSON: gettext_lazy("a effacé les données de la personne"),
}


@dataclass
class Access:
    when: datetime
    who: str
    what: str
    details: str
    ip_address: str


def _related_ids(beneficiary: Beneficiary) -> dict[str, list[str]]:
    return {
        "orientations.orientationdecision": [
            str(pk)
            for pk in OrientationDecision.objects.filter(beneficiary=beneficiary).values_list("pk", flat=True)
        ],
        "exchanges.reviewcase": [
            str(pk) for pk in ReviewCase.objects.filter(beneficiary=beneficiary).values_list("pk", flat=True)
        ],
    }


def person_entries(beneficiary: Beneficiary):
    """The audit entries about the person, newest first (a queryset)."""
    about = Q(object_type=BENEFICIARY, object_id=str(beneficiary.pk))
    for object_type, ids in _related_ids(beneficiary).items():
        if ids:
            about |= Q(object_type=object_type, object_id__in=ids)
    return AuditEntry.objects.filter(about).select_related("user").order_by("-timestamp", "-id")


def agent(entry: AuditEntry) -> str:
    if not entry.username:
        return _("le système (tâche ou commande)")
    name = entry.user.get_full_name() if entry.user is not None else ""
    return f"{name} ({entry.username})" if name else entry.username


def in_words(entry: AuditEntry) -> Access:
    verb = VERBS.get(entry.action)
    what = str(verb) if verb is not None else str(entry.get_action_display()).lower()
    if entry.object_type != BENEFICIARY and entry.object_type:
        what = f"{what} ({object_label(entry.object_type, entry.object_id)})"
    return Access(
        when=timezone.localtime(entry.timestamp),
        who=agent(entry),
        what=what,
        details=" ; ".join(f"{label} : {value}" for label, value in details(entry.extra)),
        ip_address=entry.ip_address or "",
    )


def person_accesses(beneficiary: Beneficiary, limit: int = SHOWN) -> tuple[list[Access], int]:
    """(the newest `limit` entries in words, how many there are in all)."""
    entries = person_entries(beneficiary)
    return [in_words(entry) for entry in entries[:limit]], entries.count()


def label_entries(entries: list[AuditEntry], user) -> None:
    """Set `entry.label` (and `entry.person_id` for a person the user may open) on each entry.

    « Camille MARTIN (bénéficiaire n° 237) » where the user may see that person; the id alone
    otherwise, or when the record is gone (erased).
    """
    ids = {
        int(entry.object_id)
        for entry in entries
        if entry.object_type == BENEFICIARY and entry.object_id.isdigit()
    }
    names: dict[int, str] = {}
    existing: set[int] = set()
    if ids:
        existing = set(Beneficiary.objects.filter(pk__in=ids).values_list("pk", flat=True))
        for person in (
            openable_beneficiaries(user)
            .filter(pk__in=ids)
            .only("pk", "birth_name", "usage_name", "first_name", "nir")
        ):
            names[person.pk] = person.display_name
    for entry in entries:
        entry.label = entry.object_label()
        entry.person_id = None
        if entry.object_type == BENEFICIARY and entry.object_id.isdigit():
            name = names.get(int(entry.object_id))
            if name is not None:
                entry.label = f"{name} ({entry.label})"
                entry.person_id = int(entry.object_id)
            elif int(entry.object_id) not in existing:
                entry.label = _("%(label)s (données effacées)") % {"label": entry.label}
