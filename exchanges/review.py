"""Deciding a review case: link the record to a beneficiary, create one, or dismiss it.

Each decision keeps who took it, when, and why, and recomputes the follow-up
of the beneficiaries it touches.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from beneficiaries.models import PERSON_FIELDS, Beneficiary, Source
from exchanges.followup import refresh_followup
from exchanges.models import (
    FollowUp,
    JobSeekerSnapshot,
    MatchRule,
    ReviewCase,
    ReviewReason,
    ReviewStatus,
    StatusEvent,
)
from orientations.models import OrientationDecision

# The beneficiary fields a person known only from France Travail gets from the record.
BENEFICIARY_FIELDS = PERSON_FIELDS


class ReviewError(ValueError):
    """The decision cannot be applied (French message for the admin)."""


def _close(case: ReviewCase, status: str, user, note: str) -> None:
    case.status = status
    case.resolved_by = user
    case.resolved_at = timezone.now()
    case.resolution_note = note
    case.save()


def _check_open(case: ReviewCase) -> None:
    if case.status != ReviewStatus.OPEN:
        raise ReviewError("Ce rapprochement a déjà été traité.")


def _take_newer_followup(created_id: int, beneficiary_id: int) -> None:
    """The created person's follow-up becomes the beneficiary's when it is newer.

    The newest stock may have confirmed it without storing the record again (change-based
    history): its date, not their newest record's, says when France Travail last sent it.
    """
    theirs = (
        FollowUp.objects.filter(beneficiary_id=created_id).values_list("reference_date", flat=True).first()
    )
    ours = (
        FollowUp.objects.filter(beneficiary_id=beneficiary_id)
        .values_list("reference_date", flat=True)
        .first()
    )
    if theirs is not None and (ours is None or ours < theirs):
        FollowUp.objects.filter(beneficiary_id=beneficiary_id).delete()
        FollowUp.objects.filter(beneficiary_id=created_id).update(beneficiary_id=beneficiary_id)


@transaction.atomic
def link(case: ReviewCase, beneficiary: Beneficiary, *, user, note: str = "") -> int:
    """The record is this beneficiary's. A person created from France Travail is merged into them.

    Returns how many orientation decisions the created person had and now are the beneficiary's.
    """
    _check_open(case)
    moved = 0
    if case.reason == ReviewReason.CREATED_FROM_FT and case.beneficiary_id:
        created_id = case.beneficiary_id
        if created_id == beneficiary.pk:
            raise ReviewError("Choisissez un autre bénéficiaire que celui créé depuis France Travail.")
        moved = _move_decisions(created_id, beneficiary)
        _take_newer_followup(created_id, beneficiary.pk)
        JobSeekerSnapshot.objects.filter(beneficiary_id=created_id).update(beneficiary=beneficiary)
        StatusEvent.objects.filter(beneficiary_id=created_id).update(beneficiary=beneficiary)
        ReviewCase.objects.filter(beneficiary_id=created_id).update(beneficiary=beneficiary)
        case.beneficiary = beneficiary
        try:
            Beneficiary.objects.filter(pk=created_id, source=Source.FRANCE_TRAVAIL).delete()
        except ProtectedError:
            # A protected relation this merge does not move: refuse (the transaction is undone).
            raise ReviewError(
                "La personne créée depuis France Travail est encore liée à d'autres données : "
                "rattachement impossible."
            ) from None
    elif case.snapshot_id:
        _confirm(case, case.snapshot_id, beneficiary)
    _close(case, ReviewStatus.LINKED, user, note)
    refresh_followup(beneficiary.pk)
    return moved


def _confirm(case: ReviewCase, snapshot_id: int, beneficiary: Beneficiary) -> None:
    """The case's received record is this person's, as an admin confirmed (`MatchRule.CONFIRMED`)."""
    JobSeekerSnapshot.objects.filter(pk=snapshot_id).update(
        beneficiary=beneficiary, match_rule=MatchRule.CONFIRMED
    )
    case.beneficiary = beneficiary


def _move_decisions(created_id: int, beneficiary: Beneficiary) -> int:
    """Give the created person's orientation decisions to the beneficiary, if they have none.

    Both timelines cannot be merged here (overlapping dates, two current decisions): when both
    people have decisions, the link is refused until an officer corrects them. The decisions'
    corrections (OrientationChange) hang on the decisions and follow them.
    """
    # Locked like orientations.decisions does, in id order: no decision is recorded for
    # either person between the check and the move.
    list(Beneficiary.objects.select_for_update().filter(pk__in=[created_id, beneficiary.pk]).order_by("pk"))
    decisions = OrientationDecision.objects.filter(beneficiary_id=created_id)
    if not decisions.exists():
        return 0
    if OrientationDecision.objects.filter(beneficiary=beneficiary).exists():
        raise ReviewError(
            "La personne créée depuis France Travail a déjà des décisions d'orientation, comme la "
            "personne choisie : corrigez-les avant de rattacher."
        )
    # Changed for the CGPEM: the next flux sends them under the beneficiary's identity.
    return decisions.update(beneficiary=beneficiary, changed_at=timezone.now())


@transaction.atomic
def create(case: ReviewCase, *, user, note: str = "") -> Beneficiary:
    """Nobody known is this person: keep (or create) them as known only from France Travail."""
    _check_open(case)
    if case.beneficiary_id:
        beneficiary = case.beneficiary
    else:
        if case.snapshot is None:
            raise ReviewError("Aucune donnée reçue pour créer le bénéficiaire.")
        snapshot = case.snapshot
        beneficiary = Beneficiary(
            source=Source.FRANCE_TRAVAIL, **{name: getattr(snapshot, name) for name in BENEFICIARY_FIELDS}
        )
        beneficiary.save()
        _confirm(case, snapshot.pk, beneficiary)
    _close(case, ReviewStatus.CREATED, user, note)
    refresh_followup(beneficiary.pk)
    return beneficiary


@transaction.atomic
def dismiss(case: ReviewCase, *, user, note: str) -> None:
    """Leave the record unlinked; the reason is mandatory and kept."""
    _check_open(case)
    if not note.strip():
        raise ReviewError("Indiquez pourquoi ce rapprochement est écarté.")
    _close(case, ReviewStatus.DISMISSED, user, note)
