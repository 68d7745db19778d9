"""A beneficiary's "parcours": what France Travail sent each month, the transitions, the decisions.

Snapshots are compared with the previous one field by field (the PECGM
layout's fields, identity included: a changed name is worth seeing); coded
values are shown with their label from the layout's code lists. Every entry
names its source: the file and record number, or who recorded it.

The page shows the last WINDOW_MONTHS months by default, and everything on
request: it is read on every visit, and it must not cost more with each
month of history (the status events, ~60 a person after six years on the
bench database, were all read and shown). At 69 months of history the window
took the whole page from 16.5-19 to 14-15 ms of CPU (docs/performance.md,
"Fifth pass"), and that no longer grows.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import repeat

from django.utils.text import capfirst
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext_lazy as _

from beneficiaries.communes import commune_label
from beneficiaries.models import Beneficiary
from beneficiaries.nir import mask_nir
from contract.layouts import EMPTY_CATEGORY, PECGM, PECGM_TITLES
from exchanges.models import (
    SUCCESSFUL_STATUSES,
    EventKind,
    FollowUp,
    FollowUpStatus,
    ImportRun,
    JobSeekerSnapshot,
    StatusEvent,
)
from orientations.models import OrientationDecision
from pages.cohorts import is_positive_exit
from pages.dashboard import month_starts

# attr → (label, code list or None), in the layout's order; labels pair with their code.
FIELDS = [
    (attr, PECGM_TITLES[attr], item.codes)
    for _path, item, attr in PECGM.detail.flat_fields()
    if item.constant is None
]
LABEL_ATTRS = frozenset(attr for _path, item, attr in PECGM.detail.flat_fields() if item.is_label)
# The fields compared from one snapshot to the next: labels follow their code, a changed code says it.
COMPARED = [(attr, label, codes) for attr, label, codes in FIELDS if attr not in LABEL_ATTRS]
COMPARED_ATTRS = [attr for attr, _label, _codes in COMPARED]
EVENT_KINDS = dict(EventKind.choices)
CODES = {attr: codes for attr, _label, codes in FIELDS}
# The months the parcours shows unless the whole of it is asked for.
WINDOW_MONTHS = 24


def window_start(newest_stock: date | None) -> date | None:
    """The first day of the default window: WINDOW_MONTHS months up to the newest stock's."""
    return month_starts(newest_stock, WINDOW_MONTHS)[0] if newest_stock else None


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
    """A follow-up's coded value in words ("05 — Elaboration du projet professionnel").

    A registered person without a category is exempt from job search (before 2012):
    the annexe gives the empty category that meaning, shown in its words.
    """
    value = getattr(followup, attr, None) if followup else None
    if attr == "category" and not value and followup and followup.status == FollowUpStatus.REGISTERED:
        return f"— ({EMPTY_CATEGORY})"
    return describe(value, CODES[attr])


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


@functools.lru_cache(maxsize=4)
def _compared_titles(language: str | None) -> list[str]:
    """COMPARED's titles as text, once per language: a parcours shows hundreds of changes."""
    return [str(title) for _attr, title, _codes in COMPARED]


def snapshot_changes(previous: Sequence | None, current: Sequence) -> list[Change]:
    """What changed from one snapshot to the next: `previous` and `current` hold COMPARED's values."""
    changes = []
    titles = _compared_titles(get_language())
    for (attr, _title, codes), label, before, after in zip(
        COMPARED, titles, previous or repeat(None), current, strict=False
    ):
        if previous is None and after in (None, ""):
            continue
        if previous is not None and before == after:
            continue
        if attr == "nir":  # masked here as everywhere on screen
            before, after = mask_nir(before), mask_nir(after)
        if attr == "commune_code":  # « Montauban (82121) », a code of elsewhere as it is
            before, after = commune_label(before), commune_label(after)
        changes.append(Change(label, describe(before, codes) if previous else "", describe(after, codes)))
    return changes


def build_timeline(beneficiary: Beneficiary, since: date | None = None) -> tuple[list[Entry], bool]:
    """The parcours from `since` on (all of it with None), newest first; and whether older entries exist."""
    entries: list[Entry] = []
    # Plain rows of the compared columns, not model instances with their run: a parcours is
    # read on every visit (docs/performance.md, "Pages").
    snapshots = (
        JobSeekerSnapshot.objects.filter(beneficiary=beneficiary)
        .order_by("-reference_date", "-run_id", "-record_number")
        .values_list("reference_date", "record_number", "run__file_name", "run_id", *COMPARED_ATTRS)
    )
    events = StatusEvent.objects.filter(beneficiary=beneficiary)
    decisions = OrientationDecision.objects.filter(beneficiary=beneficiary)
    # The last snapshot before the window: what its first month is compared with (not shown).
    before = None
    if since is not None:
        before = snapshots.filter(reference_date__lt=since).first()
        snapshots = snapshots.filter(reference_date__gte=since)
        events = events.filter(date__gte=since)
        decisions = decisions.filter(decision_date__gte=since)
    rows = list(snapshots)
    rows.reverse()
    # Translated once for the page, not once per entry.
    first_title = str(_("Première situation reçue de France Travail"))
    changed_title = str(_("Situation France Travail modifiée"))
    snapshot_source = str(_("fichier %(file)s, enregistrement n° %(record)s"))
    event_source = str(_("fichier %(file)s"))
    motive_word = str(_("motif"))
    stocks, late_runs = _monthly_stocks()
    confirmed = (
        FollowUp.objects.filter(beneficiary=beneficiary).values_list("reference_date", flat=True).first()
    )
    months = _Months(stocks, since, confirmed)
    previous = list(before[4:]) if before is not None else None
    if before is not None:
        months.set_by(before[0], snapshot_source % {"file": before[2], "record": before[1]})
    for reference_date, record_number, file_name, run_id, *values in rows:
        source = snapshot_source % {"file": file_name, "record": record_number}
        # Most months repeat the previous one: one comparison of the rows says so.
        changes = [] if values == previous else snapshot_changes(previous, values)
        if previous is None or changes:
            entries.append(
                Entry(
                    reference_date,
                    "snapshot",
                    first_title if previous is None else changed_title,
                    source,
                    changes,
                )
            )
        if run_id in late_runs:
            months.late(reference_date)  # delivered late: its own month only, not the months after it
            continue
        if previous is None or changes:
            months.set_by(reference_date, source)
        else:
            months.confirm(reference_date)  # a record that repeats the previous one (stored whole)
        previous = values
    events = events.values_list(
        "date", "kind", "motive", "motive_label", "previous_value", "new_value", "run__file_name"
    )
    for day, kind, motive, motive_label, previous_value, new_value, file_name in events:
        if kind == EventKind.LEFT_STOCK:
            months.left(day)
        detail = ""
        if motive or motive_label:
            detail = f"{motive_word} : {motive} {motive_label}".strip()
        elif previous_value or new_value:
            detail = f"{previous_value or '—'} → {new_value or '—'}"
        entries.append(
            Entry(
                day,
                "event",
                # capfirst, not str.capitalize: « PPAE signé » keeps its capitals.
                capfirst(str(EVENT_KINDS.get(kind, kind))),
                event_source % {"file": file_name},
                detail=detail,
                positive=kind == "cessation" and is_positive_exit(motive, motive_label),
            )
        )
    for decision in decisions.select_related("referent_body", "correspondent", "recorded_by"):
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
    entries.extend(months.entries())
    order = {"decision": 0, "event": 1, "snapshot": 2, "unchanged": 3}
    entries.sort(key=lambda entry: (entry.day, -order[entry.kind]), reverse=True)
    older = since is not None and (
        before is not None
        or StatusEvent.objects.filter(beneficiary=beneficiary, date__lt=since).exists()
        or OrientationDecision.objects.filter(beneficiary=beneficiary, decision_date__lt=since).exists()
    )
    return entries, older


def _monthly_stocks() -> tuple[list[date], set[int]]:
    """The dates of the monthly stocks imported, and the runs of those imported late (after a newer
    one: such a month enters the history only, and never set the months after it)."""
    dates, late, newest = set(), set(), None
    runs = (
        ImportRun.objects.filter(status__in=SUCCESSFUL_STATUSES, periodicity="M")
        .order_by("id")
        .values_list("id", "reference_date")
    )
    for run_id, day in runs:
        if day is None:
            continue
        dates.add(day)
        if newest is not None and day < newest:
            late.add(run_id)
        newest = max(newest or day, day)
    return sorted(dates), late


class _Months:
    """The monthly stocks that sent a person's values unchanged, by the record that set them.

    The history stores what changed (docs/import-pecgm.md): a stock that repeats a
    person's values writes no record. The person was in every monthly stock from the
    record that set their values to the next record, or to their follow-up's date for the
    newest (the last file that confirmed them), unless a "left the stock" event came
    between. Such months are shown together, « inchangée depuis » the record that set them.
    """

    def __init__(self, stocks: list[date], since: date | None, confirmed: date | None):
        self.stocks = [day for day in stocks if since is None or day >= since]
        self.confirmed = confirmed
        self.setters: list[tuple[date, str]] = []  # (day, source), in order
        self.repeats: list[date] = []  # old records that repeat the values before them
        self.gone: list[date] = []  # "left the stock" events
        self.delivered_late: set[date] = set()  # months whose own (late) record is shown

    def set_by(self, day: date, source: str) -> None:
        self.setters.append((day, source))

    def confirm(self, day: date) -> None:
        self.repeats.append(day)

    def late(self, day: date) -> None:
        self.delivered_late.add(day)

    def left(self, day: date) -> None:
        self.gone.append(day)

    def entries(self) -> list[Entry]:
        if not self.setters:
            return []
        since_source = str(_("inchangée depuis le %(source)s"))
        received = sorted([*self.repeats, *(day for day, _source in self.setters)])
        # Out of the stock from a "left" event to the next record received (their return).
        away = [(gone, min((day for day in received if day > gone), default=date.max)) for gone in self.gone]
        entries = []
        ends = [day for day, _source in self.setters[1:]] + [None]
        for (start, source), end in zip(self.setters, ends, strict=True):
            # The newest record's values hold until the last file that confirmed them.
            last = end if end is not None else self.confirmed
            if last is None:
                continue

            def sent(day: date, start=start, end=end, last=last) -> bool:
                in_turn = start < day < end if end is not None else start < day <= last
                return (
                    in_turn
                    and day not in self.delivered_late
                    and not any(gone <= day < back for gone, back in away)
                )

            months = sorted({day for day in (*self.stocks, *self.repeats) if sent(day)})
            if months:
                entries.append(
                    Entry(
                        months[-1],
                        "unchanged",
                        ngettext(
                            "Situation France Travail inchangée dans %(count)s stock mensuel, "
                            "du %(first)s au %(last)s",
                            "Situation France Travail inchangée dans %(count)s stocks mensuels, "
                            "du %(first)s au %(last)s",
                            len(months),
                        )
                        % {
                            "count": len(months),
                            "first": months[0].strftime("%d/%m/%Y"),
                            "last": months[-1].strftime("%d/%m/%Y"),
                        },
                        since_source % {"source": source},
                    )
                )
        return entries
