"""Recording and correcting orientation decisions: the timeline's only writer.

A beneficiary's decisions, sorted by decision date, are each in force until
the next one's date (`ended_on`); the last one is current (`ended_on` None).
Every write goes through `_rethread`, so the timeline has neither overlaps nor
gaps whatever order decisions arrive in (pages record the newest; the CSV
import may bring older ones).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from beneficiaries.models import Beneficiary
from orientations.models import Correspondent, OrientationChange, OrientationDecision, ReferentBody

# Fields an officer may correct; each change is kept as an OrientationChange.
CORRECTABLE = ("nature", "decision_date", "referent_body", "correspondent")

# The RSA (revenu de solidarité active) exists since 1 June 2009 (loi n° 2008-1249 du
# 1er décembre 2008): no orientation decision is older. An earlier date is a typing mistake
# (0202 for 2022), which the CGPEM file could not even write.
RSA_START = date(2009, 6, 1)


class DecisionConflict(ValueError):
    """The decision cannot be recorded as asked (French message, shown to the user)."""


@dataclass(frozen=True)
class DecisionData:
    nature: str
    decision_date: date
    referent_body: ReferentBody
    correspondent: Correspondent | None = None

    def same_as(self, decision: OrientationDecision) -> bool:
        return (
            decision.nature == self.nature
            and decision.decision_date == self.decision_date
            and decision.referent_body_id == self.referent_body.pk
            and decision.correspondent_id == (self.correspondent.pk if self.correspondent else None)
        )


def current_decision(beneficiary: Beneficiary) -> OrientationDecision | None:
    return (
        OrientationDecision.objects.filter(beneficiary=beneficiary, ended_on__isnull=True)
        .select_related("referent_body", "correspondent")
        .first()
    )


def decision_date_error(decision_date: date, birth_date: date | None = None) -> str | None:
    """Why a decision cannot be dated so (French message), or None: not before the RSA nor the birth."""
    if decision_date < RSA_START:
        return _(
            "La date de décision ne peut pas être antérieure au %(date)s (création du RSA) : "
            "vérifiez l'année."
        ) % {"date": RSA_START.strftime("%d/%m/%Y")}
    if birth_date is not None and decision_date < birth_date:
        return _("La date de décision ne peut pas être antérieure à la naissance de la personne.")
    return None


def check_decision_date(beneficiary: Beneficiary, decision_date: date) -> None:
    error = decision_date_error(decision_date, beneficiary.birth_date)
    if error:
        raise DecisionConflict(error)


def check_new_decision(beneficiary: Beneficiary, decision_date: date) -> None:
    """Rules for a decision recorded on a page: today or earlier, after the current one."""
    if decision_date > timezone.localdate():
        raise DecisionConflict(_("La date de décision ne peut pas être dans le futur."))
    check_decision_date(beneficiary, decision_date)
    current = current_decision(beneficiary)
    if current is not None and decision_date <= current.decision_date:
        raise DecisionConflict(
            _(
                "La décision en cours date du %(date)s : une nouvelle décision doit être postérieure "
                "(pour changer la décision en cours, corrigez-la)."
            )
            % {"date": current.decision_date.strftime("%d/%m/%Y")}
        )


def record_decision(
    beneficiary: Beneficiary, data: DecisionData, *, user=None, source: str = "app"
) -> OrientationDecision:
    """Add a decision to the beneficiary's timeline, closing the one it follows."""
    with transaction.atomic():
        # One writer per beneficiary at a time: two officers cannot both make a
        # decision "current".
        Beneficiary.objects.select_for_update().filter(pk=beneficiary.pk).first()
        if OrientationDecision.objects.filter(
            beneficiary=beneficiary, decision_date=data.decision_date
        ).exists():
            raise DecisionConflict(
                _("Une décision existe déjà à la date du %(date)s pour cette personne.")
                % {"date": data.decision_date.strftime("%d/%m/%Y")}
            )
        later = (
            OrientationDecision.objects.filter(beneficiary=beneficiary, decision_date__gt=data.decision_date)
            .order_by("decision_date")
            .values_list("decision_date", flat=True)
            .first()
        )
        if later is None:
            # The new decision becomes current: close the previous one first
            # (at most one current decision per person, enforced by the database).
            OrientationDecision.objects.filter(beneficiary=beneficiary, ended_on__isnull=True).update(
                ended_on=data.decision_date
            )
        decision = OrientationDecision.objects.create(
            beneficiary=beneficiary,
            nature=data.nature,
            decision_date=data.decision_date,
            referent_body=data.referent_body,
            correspondent=data.correspondent,
            recorded_by=user,
            changed_at=timezone.now(),
            ended_on=later,
            source=source,
        )
        _rethread(beneficiary.pk)
    return decision


def correct_decision(
    decision: OrientationDecision, data: DecisionData, *, user=None, reason: str = ""
) -> list[OrientationChange]:
    """Apply a correction, keeping each changed field's old and new value."""
    check_decision_date(decision.beneficiary, data.decision_date)
    with transaction.atomic():
        Beneficiary.objects.select_for_update().filter(pk=decision.beneficiary_id).first()
        decision = OrientationDecision.objects.select_related("referent_body", "correspondent").get(
            pk=decision.pk
        )
        if (
            data.decision_date != decision.decision_date
            and OrientationDecision.objects.filter(
                beneficiary_id=decision.beneficiary_id, decision_date=data.decision_date
            )
            .exclude(pk=decision.pk)
            .exists()
        ):
            raise DecisionConflict(
                _("Une autre décision existe déjà à la date du %(date)s pour cette personne.")
                % {"date": data.decision_date.strftime("%d/%m/%Y")}
            )
        changes = []
        for name in CORRECTABLE:
            old, new = getattr(decision, name), getattr(data, name)
            if old == new:
                continue
            changes.append(
                OrientationChange(
                    decision=decision,
                    field=name,
                    old_value=_display(decision, name, old),
                    new_value=_display(decision, name, new),
                    changed_by=user,
                    reason=reason,
                )
            )
            setattr(decision, name, new)
        if not changes:
            return []
        decision.changed_at = timezone.now()
        # Park the decision outside the timeline while it moves, then thread again.
        decision.ended_on = date.min
        decision.save()
        OrientationChange.objects.bulk_create(changes)
        _rethread(decision.beneficiary_id)
    return changes


def _display(decision: OrientationDecision, name: str, value) -> str:
    if value is None:
        return ""
    if name == "nature":
        return dict(decision._meta.get_field("nature").choices).get(value, value)
    if name == "decision_date":
        return value.strftime("%d/%m/%Y")
    return str(value)


def add_imported_decisions(decisions: list[OrientationDecision]) -> list[OrientationDecision]:
    """Insert decisions in bulk (the CSV import), then thread each person's timeline again.

    The caller holds the people's rows locked (select_for_update) and has made
    sure that no decision falls on a day that already has one for that person.
    """
    for decision in decisions:
        decision.ended_on = date.min  # parked outside the timeline until threaded
    created = OrientationDecision.objects.bulk_create(decisions, batch_size=1000)
    rethread(sorted({decision.beneficiary_id for decision in decisions}))
    return created


def _rethread(beneficiary_id: int) -> None:
    rethread([beneficiary_id])


# Ids per query: within SQLite's limit on query parameters.
_CHUNK = 500


def rethread(beneficiary_ids: list[int]) -> None:
    """Set every decision's end to the next decision's date; each person's last one is current."""
    closing: dict[date, list[int]] = defaultdict(list)  # new end -> decisions
    current: list[int] = []
    for start in range(0, len(beneficiary_ids), _CHUNK):
        rows = (
            OrientationDecision.objects.filter(beneficiary_id__in=beneficiary_ids[start : start + _CHUNK])
            .order_by("beneficiary_id", "decision_date", "id")
            .values_list("id", "beneficiary_id", "decision_date", "ended_on")
        )
        previous = None
        for row in rows:
            # The row before, the same person's previous decision, ends where this one begins.
            if previous is not None and previous[1] == row[1]:
                if previous[3] != row[2]:
                    closing[row[2]].append(previous[0])
            elif previous is not None and previous[3] is not None:
                current.append(previous[0])
            previous = row
        if previous is not None and previous[3] is not None:
            current.append(previous[0])
    # One UPDATE per new end date (an import brings many decisions of the same days), and
    # closed ends first, so that the database never sees two current decisions.
    for day, ids in closing.items():
        for start in range(0, len(ids), _CHUNK):
            OrientationDecision.objects.filter(pk__in=ids[start : start + _CHUNK]).update(ended_on=day)
    for start in range(0, len(current), _CHUNK):
        OrientationDecision.objects.filter(pk__in=current[start : start + _CHUNK]).update(ended_on=None)
