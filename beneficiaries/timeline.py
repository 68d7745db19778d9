"""A beneficiary's "parcours": what France Travail sent each month, the transitions, the decisions.

Snapshots are compared with the previous one field by field (the PECGM
layout's fields, identity included: a changed name is worth seeing); coded
values are shown with their label from the layout's code lists. Every entry
names its source: the file and record number, or who recorded it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.utils.translation import gettext_lazy as _

from beneficiaries.models import Beneficiary
from beneficiaries.nir import mask_nir
from exchanges.layouts import PECGM
from exchanges.models import FollowUp, JobSeekerSnapshot, StatusEvent
from orientations.models import OrientationDecision

# attr → (label, code list or None), in the layout's order; labels pair with their code.
FIELDS = [
    (attr, item.label.capitalize(), item.codes)
    for _path, item, attr in PECGM.detail.flat_fields()
    if item.constant is None
]
LABEL_ATTRS = frozenset(attr for _path, item, attr in PECGM.detail.flat_fields() if item.is_label)
# At most this many snapshots are shown (two years of monthly stocks and some flux).
MAX_SNAPSHOTS = 60


def describe(value, codes=None) -> str:
    if value in (None, ""):
        return "—"
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if codes is not None:
        label = codes.get(value)
        return f"{value} — {label}" if label else f"{value} ({_('code inconnu')})"
    return str(value)


def coded(followup: FollowUp | None, attr: str) -> str:
    """A follow-up's coded value in words ("05 — Élaboration du projet professionnel")."""
    codes = dict((a, c) for a, _l, c in FIELDS)[attr]
    return describe(getattr(followup, attr, None) if followup else None, codes)


@dataclass
class Change:
    label: str
    before: str
    after: str


@dataclass
class Entry:
    day: date
    kind: str  # snapshot, event, decision
    title: str
    source: str
    changes: list[Change] = field(default_factory=list)
    detail: str = ""
    positive: bool = False


def snapshot_changes(previous: JobSeekerSnapshot | None, current: JobSeekerSnapshot) -> list[Change]:
    changes = []
    for attr, label, codes in FIELDS:
        # Labels follow their code: a changed code already says it.
        if attr in LABEL_ATTRS:
            continue
        after = getattr(current, attr)
        before = getattr(previous, attr) if previous is not None else None
        if previous is None and after in (None, ""):
            continue
        if previous is not None and before == after:
            continue
        if attr == "nir":  # masked here as everywhere on screen
            before, after = mask_nir(before), mask_nir(after)
        changes.append(
            Change(str(label), describe(before, codes) if previous else "", describe(after, codes))
        )
    return changes


def build_timeline(beneficiary: Beneficiary) -> list[Entry]:
    from beneficiaries.cohorts import is_positive_exit

    entries: list[Entry] = []
    snapshots = list(
        JobSeekerSnapshot.objects.filter(beneficiary=beneficiary)
        .select_related("run")
        .order_by("-reference_date", "-run_id", "-record_number")[:MAX_SNAPSHOTS]
    )
    snapshots.reverse()
    previous = None
    for snapshot in snapshots:
        changes = snapshot_changes(previous, snapshot)
        if previous is None or changes:
            entries.append(
                Entry(
                    snapshot.reference_date,
                    "snapshot",
                    str(_("Première situation reçue de France Travail"))
                    if previous is None
                    else str(_("Situation France Travail modifiée")),
                    str(_("fichier %(file)s, enregistrement n° %(record)s"))
                    % {"file": snapshot.run.file_name, "record": snapshot.record_number},
                    changes,
                )
            )
        previous = snapshot
    for event in StatusEvent.objects.filter(beneficiary=beneficiary).select_related("run"):
        detail = ""
        if event.motive or event.motive_label:
            detail = f"{_('motif')} : {event.motive} {event.motive_label}".strip()
        elif event.previous_value or event.new_value:
            detail = f"{event.previous_value or '—'} → {event.new_value or '—'}"
        entries.append(
            Entry(
                event.date,
                "event",
                event.get_kind_display().capitalize(),
                str(_("fichier %(file)s")) % {"file": event.run.file_name},
                detail=detail,
                positive=event.kind == "cessation" and is_positive_exit(event.motive, event.motive_label),
            )
        )
    decisions = OrientationDecision.objects.filter(beneficiary=beneficiary).select_related(
        "referent_body", "correspondent", "recorded_by"
    )
    for decision in decisions:
        who = (
            decision.recorded_by.get_full_name() or decision.recorded_by.username
            if decision.recorded_by
            else ""
        )
        if decision.source == "app":
            source = str(_("enregistrée par %(who)s le %(when)s")) % {
                "who": who or _("un utilisateur supprimé"),
                "when": decision.recorded_at.strftime("%d/%m/%Y"),
            }
        else:
            source = str(_("reprise de l'outil précédent (%(source)s)")) % {"source": decision.source}
        correspondent = f" — {decision.correspondent}" if decision.correspondent else ""
        entries.append(
            Entry(
                decision.decision_date,
                "decision",
                str(_("Décision d'orientation : %(nature)s")) % {"nature": decision.get_nature_display()},
                source,
                detail=f"{decision.referent_body.name}{correspondent}",
            )
        )
    order = {"decision": 0, "event": 1, "snapshot": 2}
    entries.sort(key=lambda entry: (entry.day, -order[entry.kind]), reverse=True)
    return entries
