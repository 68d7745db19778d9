"""Assigning a beneficiary's référent: the one place that writes `Assignment` rows.

Rules:
- the référent must be an active user who may follow beneficiaries (VIEW_FOLLOWUP), and the
  person must be within the référent's territories (beneficiaries.scoping): being someone's
  référent never shows a person the user could not see otherwise;
- one current assignment per person: a new one ends the current one the day it starts; the
  history is kept;
- assigning the same référent and structure again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import ROLE_CAPABILITIES, Capability, has_capability
from beneficiaries.models import Beneficiary
from beneficiaries.scoping import visible_beneficiaries
from beneficiaries.signals import announce_work_changed
from caseloads.models import Assignment, AssignmentSource


class AssignmentRefused(ValueError):
    """Why this person cannot get this référent (a French message, no personal data)."""


@dataclass(frozen=True)
class AssignResult:
    assignment: Assignment | None  # None: nothing changed
    ended: Assignment | None = None  # the assignment it replaced


def referent_choices() -> QuerySet[User]:
    """The users one may name référent: active, and allowed to follow beneficiaries."""
    roles = [role for role, caps in ROLE_CAPABILITIES.items() if Capability.VIEW_FOLLOWUP in caps]
    return User.objects.filter(is_active=True, role__in=roles).order_by("last_name", "first_name", "username")


def referent_label(user: User | None) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.username


def current_assignment(beneficiary: Beneficiary) -> Assignment | None:
    return (
        Assignment.objects.filter(beneficiary=beneficiary, end_date__isnull=True)
        .select_related("referent")
        .first()
    )


def caseload_q(user: User):
    """The condition « whose current référent is `user` », for a Beneficiary queryset."""
    return Exists(Assignment.objects.filter(beneficiary=OuterRef("pk"), referent=user, end_date__isnull=True))


def caseload(user: User) -> QuerySet[Beneficiary]:
    """« Mes bénéficiaires »: the people the user follows, within what the user may see."""
    return visible_beneficiaries(user).filter(caseload_q(user))


def caseload_count(user: User) -> int:
    return caseload(user).count()


def check_referent(referent: User, beneficiary: Beneficiary) -> None:
    if not referent.is_active or not has_capability(referent, Capability.VIEW_FOLLOWUP):
        raise AssignmentRefused(_("Ce compte ne peut pas être référent (inactif ou sans accès au suivi)."))
    if not visible_beneficiaries(referent).filter(pk=beneficiary.pk).exists():
        raise AssignmentRefused(
            _("La personne habite hors des territoires de %(referent)s.")
            % {"referent": referent_label(referent)}
        )


def assign(
    beneficiary: Beneficiary,
    referent: User,
    *,
    structure: str = "",
    start_date: date | None = None,
    by: User | None = None,
    source: str = AssignmentSource.APP,
    notify: bool = True,
) -> AssignResult:
    """Make `referent` the person's current référent from `start_date` (today by default)."""
    start_date = start_date or timezone.localdate()
    structure = " ".join((structure or "").split())
    check_referent(referent, beneficiary)
    with transaction.atomic():
        current = (
            Assignment.objects.select_for_update()
            .filter(beneficiary=beneficiary, end_date__isnull=True)
            .first()
        )
        if current is not None:
            if current.referent_id == referent.pk and current.structure == structure:
                return AssignResult(None)
            if start_date < current.start_date:
                raise AssignmentRefused(
                    _("La date de début précède celle du référent actuel (%(day)s).")
                    % {"day": current.start_date.strftime("%d/%m/%Y")}
                )
            current.end_date = start_date
            current.save(update_fields=["end_date", "changed_at"])
        assignment = Assignment.objects.create(
            beneficiary=beneficiary,
            referent=referent,
            structure=structure,
            start_date=start_date,
            source=source,
            assigned_by=by,
        )
    if notify:
        announce_work_changed()
    return AssignResult(assignment, current)


def end_assignment(beneficiary: Beneficiary, *, end_date: date | None = None) -> Assignment | None:
    """The person has no référent any more (from `end_date`, today by default); the history stays."""
    end_date = end_date or timezone.localdate()
    with transaction.atomic():
        current = (
            Assignment.objects.select_for_update()
            .filter(beneficiary=beneficiary, end_date__isnull=True)
            .first()
        )
        if current is None:
            return None
        current.end_date = max(end_date, current.start_date)
        current.save(update_fields=["end_date", "changed_at"])
    announce_work_changed()
    return current


def history(beneficiary: Beneficiary) -> list[Assignment]:
    return list(
        Assignment.objects.filter(beneficiary=beneficiary)
        .select_related("referent", "assigned_by")
        .order_by("-start_date", "-id")
    )
