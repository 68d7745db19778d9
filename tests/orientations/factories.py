"""Factories for orientation data: synthetic only (Faker fr_FR)."""

from __future__ import annotations

from datetime import date

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from orientations.models import Correspondent, OrientationDecision, ReferentBody
from tests.factories import BeneficiaryFactory


class ReferentBodyFactory(DjangoModelFactory):
    class Meta:
        model = ReferentBody

    name = factory.Sequence(lambda n: f"CCAS de Montauban {n}")
    address = "12 rue des Prairies 82000 Montauban"


class CorrespondentFactory(DjangoModelFactory):
    class Meta:
        model = Correspondent

    referent_body = factory.SubFactory(ReferentBodyFactory)
    last_name = factory.Faker("last_name")
    first_name = factory.Faker("first_name")
    phone = "0563000000"
    email = factory.Sequence(lambda n: f"referent{n}@example.fr")
    service = "Service insertion RSA"


class DecisionFactory(DjangoModelFactory):
    """A decision written directly (single decision per person): use record_decision for timelines."""

    class Meta:
        model = OrientationDecision

    beneficiary = factory.SubFactory(BeneficiaryFactory)
    nature = "01"
    decision_date = date(2025, 1, 15)
    referent_body = factory.SubFactory(ReferentBodyFactory)
    correspondent = factory.SubFactory(
        CorrespondentFactory, referent_body=factory.SelfAttribute("..referent_body")
    )
    changed_at = factory.LazyFunction(timezone.now)
