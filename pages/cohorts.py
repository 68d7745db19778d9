"""Cohorts: saved lists of beneficiaries that call for action, each counted on the home page.

A cohort is a named narrowing of the visible beneficiaries; the list filters
apply on top of it. Thresholds come from settings (COHORT_*).

"This month" is the month of the newest France Travail data (the reference
date of the last imported file), not the calendar month: the monthly stock of
January arrives early in February, and its cessations and radiations are the
ones to act on then. Without any import it is the current month.

Positive exits: France Travail sends a cessation motive code and its label
(annexe 4). A cessation is a positive exit when its code is one the annexe's
table makes one (contract.layouts.POSITIVE_EXIT_MOTIVES: return to work,
business creation, subsidised contract, entry into a course or training).
A code the table does not know (France Travail adds codes) is judged by its
label: POSITIVE_CESSATION_WORDS. A known code is never judged by its label.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from beneficiaries.names import fold
from contract.layouts import CESSATION_MOTIVES, POSITIVE_EXIT_MOTIVES
from exchanges.followup import newest_stock_date
from exchanges.models import SUCCESSFUL_STATUSES, FollowUpStatus, ImportRun
from orientations.models import OrientationDecision
from pages.filters import in_review
from pages.versioned_cache import WITHOUT_DECISIONS, per_data_version

POSITIVE_CESSATION_CODES = POSITIVE_EXIT_MOTIVES
# For codes outside the annexe's table only: the words of its positive motives' labels.
POSITIVE_CESSATION_WORDS = (
    "REPRISE D EMPLOI",
    "CREATION D ENTREPRISE",
    "ENTREE EN STAGE",
    "ENTREE EN FORMATION",
    "ENTREE EN CIE",
    "CONTRAT D ACCOMPAGNEMENT DANS L EMPLOI",
)
FRANCE_TRAVAIL_NATURES = ("05", "06")


def is_positive_exit(motive: str, label: str) -> bool:
    if motive in CESSATION_MOTIVES:
        return motive in POSITIVE_CESSATION_CODES
    folded = fold(label)
    return any(word in folded for word in POSITIVE_CESSATION_WORDS)


def positive_exit_q() -> Q:
    words = Q()
    for word in POSITIVE_CESSATION_WORDS:
        # Labels come upper or lower case, with or without accents: the common words are ASCII.
        words |= Q(followup__cessation_motive_label__icontains=word.replace(" D ", " d'"))
        words |= Q(followup__cessation_motive_label__icontains=word)
    unknown = ~Q(followup__cessation_motive__in=list(CESSATION_MOTIVES))
    return Q(followup__cessation_motive__in=POSITIVE_CESSATION_CODES) | (unknown & words)


def newest_data_date() -> date | None:
    """The reference date of the newest imported France Travail file; None before the first."""
    # Read once per data version: every cohort and dashboard page asks.
    newest = per_data_version(
        "newest-data",
        lambda: (
            ImportRun.objects.filter(status__in=SUCCESSFUL_STATUSES, reference_date__isnull=False)
            .order_by("-reference_date")
            .values_list("reference_date", flat=True)
            .first()
        ),
        WITHOUT_DECISIONS,
    )
    return newest or None  # kept as "" by the cache when None


def france_travail_data_received() -> bool:
    """Whether any PECGM file was imported: before the first, the pages say « Aucune donnée France
    Travail reçue » rather than count the lists and the dashboard from today's month."""
    return newest_data_date() is not None


def data_month(today: date | None = None) -> tuple[date, date]:
    """First and last day of the month of the newest data (see the module docstring)."""
    day = newest_data_date() or today or timezone.localdate()
    return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])


def current_month() -> date:
    """The month the « listes à traiter » are handled for (caseloads.worklists): the newest data's."""
    return data_month()[0]


def newest_stock() -> date | None:
    """The date of the newest monthly stock (a follow-up older than it is out of date), read once
    per data version."""
    return per_data_version("newest-stock", newest_stock_date, WITHOUT_DECISIONS) or None


@dataclass(frozen=True)
class Cohort:
    slug: str
    title: str
    description: str

    def queryset(self, beneficiaries: QuerySet, today: date | None = None) -> QuerySet:
        return COHORT_QUERIES[self.slug](beneficiaries, today or timezone.localdate())

    @property
    def reads_decisions(self) -> bool:
        """Its count changes with orientation decisions (the others only with imports and people)."""
        return self.slug in DECISION_COHORTS


def _struck_off(qs: QuerySet, today: date) -> QuerySet:
    start, end = data_month(today)
    return qs.filter(followup__status=FollowUpStatus.STRUCK_OFF, followup__radiation_date__range=(start, end))


def _ceased(qs: QuerySet, today: date) -> QuerySet:
    start, end = data_month(today)
    return qs.filter(followup__status=FollowUpStatus.CEASED, followup__cessation_date__range=(start, end))


def _not_registered(qs: QuerySet, today: date) -> QuerySet:
    cutoff = today - timedelta(days=settings.COHORT_NOT_REGISTERED_DAYS)
    oriented = OrientationDecision.objects.filter(
        beneficiary=OuterRef("pk"),
        ended_on__isnull=True,
        nature__in=FRANCE_TRAVAIL_NATURES,
        decision_date__lte=cutoff,
    )
    return qs.filter(Exists(oriented)).exclude(followup__status=FollowUpStatus.REGISTERED)


def _no_contact(qs: QuerySet, today: date) -> QuerySet:
    months = settings.COHORT_NO_CONTACT_MONTHS
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    cutoff = today.replace(
        year=year, month=month + 1, day=min(today.day, calendar.monthrange(year, month + 1)[1])
    )
    return qs.filter(followup__status=FollowUpStatus.REGISTERED).filter(
        Q(followup__last_contact_date__isnull=True) | Q(followup__last_contact_date__lt=cutoff)
    )


def _ppae_not_signed(qs: QuerySet, today: date) -> QuerySet:
    cutoff = today - timedelta(days=settings.COHORT_PPAE_DAYS)
    return qs.filter(
        followup__status=FollowUpStatus.REGISTERED, followup__registration_date__lte=cutoff
    ).filter(
        # A PPAE signed before the current registration belongs to an earlier one.
        Q(followup__ppae_signature_date__isnull=True)
        | Q(followup__ppae_signature_date__lt=F("followup__registration_date"))
    )


def _left_stock(qs: QuerySet, today: date) -> QuerySet:
    return qs.filter(followup__absent_from_last_stock=True)


def _unknown_codes(qs: QuerySet, today: date) -> QuerySet:
    return qs.filter(followup__has_unknown_codes=True)


def _review(qs: QuerySet, today: date) -> QuerySet:
    return qs.filter(in_review())


COHORT_QUERIES = {
    "radies-du-mois": _struck_off,
    "cessations-du-mois": _ceased,
    "orientes-non-inscrits": _not_registered,
    "sans-contact": _no_contact,
    "ppae-non-signe": _ppae_not_signed,
    "sortis-du-fichier": _left_stock,
    "codes-inconnus": _unknown_codes,
    "a-verifier": _review,
}
DECISION_COHORTS = {"orientes-non-inscrits"}


def cohorts() -> list[Cohort]:
    """Built on each call: the descriptions quote the current settings."""
    return [
        Cohort(
            "radies-du-mois",
            _("Radiés du mois"),
            _("Radiés de France Travail dans le mois des dernières données, avec le motif."),
        ),
        Cohort(
            "cessations-du-mois",
            _("Cessations du mois"),
            _(
                "Cessations d'inscription dans le mois des dernières données, avec le motif ; "
                "les sorties positives (reprise d'emploi, création d'entreprise, contrat aidé, entrée en "
                "stage ou en formation) sont signalées."
            ),
        ),
        Cohort(
            "orientes-non-inscrits",
            _("Orientés France Travail non inscrits"),
            _(
                "Orientation en cours vers France Travail (05 ou 06) depuis plus de %(days)s jours, "
                "sans inscription."
            )
            % {"days": settings.COHORT_NOT_REGISTERED_DAYS},
        ),
        Cohort(
            "sans-contact",
            _("Inscrits sans contact"),
            _("Inscrits sans contact avec France Travail depuis plus de %(months)s mois.")
            % {"months": settings.COHORT_NO_CONTACT_MONTHS},
        ),
        Cohort(
            "ppae-non-signe",
            _("PPAE non signé"),
            _("Inscrits depuis plus de %(days)s jours sans PPAE signé.")
            % {"days": settings.COHORT_PPAE_DAYS},
        ),
        Cohort(
            "sortis-du-fichier", _("Sortis du dernier fichier"), _("Absents du dernier stock mensuel reçu.")
        ),
        Cohort(
            "codes-inconnus",
            _("Codes inconnus reçus"),
            _("Situations reçues avec un code absent des tables de la convention."),
        ),
        Cohort(
            "a-verifier",
            _("Rapprochements à vérifier"),
            _("Un rapprochement est en attente de vérification."),
        ),
    ]


def get_cohort(slug: str) -> Cohort | None:
    return next((cohort for cohort in cohorts() if cohort.slug == slug), None)
