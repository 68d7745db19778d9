"""factory_boy factories: synthetic data only (Faker fr_FR)."""

from __future__ import annotations

import random

import factory
from factory.django import DjangoModelFactory

from accounts.models import Territory, User
from beneficiaries.demo import DEMO_COMMUNES, make_nir
from beneficiaries.models import Beneficiary

factory.Faker._DEFAULT_LOCALE = "fr_FR"
TEST_PASSWORD = "un-mot-de-passe-de-test"  # noqa: S105


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    role = "social_worker"
    password = factory.django.Password(TEST_PASSWORD)


class TerritoryFactory(DjangoModelFactory):
    class Meta:
        model = Territory
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Territoire {n}")
    communes = "82121"


class BeneficiaryFactory(DjangoModelFactory):
    class Meta:
        model = Beneficiary

    birth_name = factory.Faker("last_name")
    first_name = factory.Faker("first_name")
    birth_date = factory.Faker("date_of_birth", minimum_age=18, maximum_age=64)
    commune_code = factory.Iterator(DEMO_COMMUNES)
    caf_number = factory.Sequence(lambda n: f"{1000000 + n}")
    nir = factory.LazyAttributeSequence(
        lambda o, n: make_nir(random.Random(n), 1 + n % 2, o.birth_date, o.commune_code)
    )


def namesakes() -> tuple[Beneficiary, Beneficiary]:
    """Two people without NIR or CAF number who share birth name, first name and birth date."""
    person = BeneficiaryFactory(nir="", caf_number="")
    twin = BeneficiaryFactory(
        nir="",
        caf_number="",
        birth_name=person.birth_name,
        first_name=person.first_name,
        birth_date=person.birth_date,
    )
    return person, twin
