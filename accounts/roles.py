"""The three roles and what each may do.

Views ask for a *capability*, never for a role: the table below is the only
place that says which role holds which capability.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    SOCIAL_WORKER = "social_worker", _("Travailleur social")
    ORIENTATION_OFFICER = "orientation_officer", _("Chargé d'orientation")
    ADMIN = "admin", _("Administrateur")


class Capability(models.TextChoices):
    VIEW_FOLLOWUP = "view_followup", _("Consulter le suivi des bénéficiaires")
    EXPORT_LISTS = "export_lists", _("Exporter des listes")
    RECORD_ORIENTATION = "record_orientation", _("Enregistrer des décisions d'orientation")
    ASSIGN_REFERENT = "assign_referent", _("Attribuer les référents des bénéficiaires")
    MANAGE_EXCHANGES = "manage_exchanges", _("Lancer et suivre les échanges")
    RESOLVE_REVIEW = "resolve_review", _("Traiter les rapprochements à vérifier")
    MANAGE_REFERENCE_DATA = "manage_reference_data", _("Gérer les référentiels")
    MANAGE_USERS = "manage_users", _("Gérer les utilisateurs")
    VIEW_AUDIT = "view_audit", _("Consulter le journal d'audit")
    HANDLE_RIGHTS = "handle_rights", _("Traiter les demandes des personnes (RGPD)")


ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Role.SOCIAL_WORKER: frozenset({Capability.VIEW_FOLLOWUP, Capability.EXPORT_LISTS}),
    Role.ORIENTATION_OFFICER: frozenset(
        {
            Capability.VIEW_FOLLOWUP,
            Capability.EXPORT_LISTS,
            Capability.RECORD_ORIENTATION,
            Capability.ASSIGN_REFERENT,
        }
    ),
    Role.ADMIN: frozenset(Capability.values),
}


def has_capability(user, capability: str) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return capability in ROLE_CAPABILITIES.get(getattr(user, "role", ""), frozenset())
