"""Factories for the job-seeker data the caseworker pages show: synthetic only."""

from __future__ import annotations

from datetime import date

import factory
from factory.django import DjangoModelFactory

from exchanges.followup import derive_status
from exchanges.models import FollowUp, ImportRun, JobSeekerSnapshot, ReviewCase, StatusEvent

REFERENCE = date(2025, 1, 31)


class ImportRunFactory(DjangoModelFactory):
    class Meta:
        model = ImportRun

    file_name = factory.LazyAttribute(lambda o: f"PECGM_082_{o.reference_date:%Y%m%d}_M.xml")
    sha256 = factory.Sequence(lambda n: f"{n:064x}")
    reference_date = REFERENCE
    periodicity = "M"
    status = "imported"


def registered(**values) -> dict:
    """The values of a registered job seeker, overridable."""
    base = {
        "registration_date": date(2024, 6, 3),
        "category": "1",
        "category_label": "PERSONNE SANS EMPLOI DISPONIBLE DUREE INDETERMINEE PLEIN TPS",
        "ft_institution_code": "076",
        "ft_identifier": "1234567A",
        "main_structure_name": "FRANCE TRAVAIL MONTAUBAN",
        "ft_counsellor": "DUPONT MARIE",
        "ppae_signature_date": date(2024, 7, 1),
        "work_axis": "05",
        "support_mode": "GUI",
        "last_contact_date": date(2025, 1, 10),
    }
    base.update(values)
    return base


def snapshot(beneficiary, run=None, record_number: int = 1, **values) -> JobSeekerSnapshot:
    run = run or ImportRunFactory()
    return JobSeekerSnapshot.objects.create(
        beneficiary=beneficiary,
        run=run,
        record_number=record_number,
        reference_date=run.reference_date,
        periodicity=run.periodicity,
        birth_name=beneficiary.birth_name.upper(),
        first_name=beneficiary.first_name.upper(),
        birth_date=beneficiary.birth_date,
        nir=beneficiary.nir[:13],
        **values,
    )


def followup(
    beneficiary, run=None, record_number: int = 1, absent: bool = False, unknown: bool = False, **values
) -> FollowUp:
    """A snapshot and the follow-up derived from it."""
    shot = snapshot(beneficiary, run, record_number, **values)
    return FollowUp.objects.create(
        beneficiary=beneficiary,
        status=derive_status(values),
        reference_date=shot.reference_date,
        periodicity=shot.periodicity,
        source_snapshot=shot,
        absent_from_last_stock=absent,
        has_unknown_codes=unknown,
        **values,
    )


class StatusEventFactory(DjangoModelFactory):
    class Meta:
        model = StatusEvent

    run = factory.SubFactory(ImportRunFactory)
    date = REFERENCE
    kind = "new_registration"


class ReviewCaseFactory(DjangoModelFactory):
    class Meta:
        model = ReviewCase

    reason = "several_candidates"
