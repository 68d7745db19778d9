"""The search box finds people as they are typed: NIR with its key, names in any order, dates."""

from __future__ import annotations

import random
from datetime import date

import pytest
from django.urls import reverse

from beneficiaries.demo import make_nir
from tests.factories import TEST_PASSWORD, BeneficiaryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer_client(client, orientation_officer):
    client.login(username=orientation_officer.username, password=TEST_PASSWORD)
    return client


def found(client, text: str) -> list[str]:
    response = client.post(reverse("beneficiary_list"), {"q": text}, follow=True)
    return [row.birth_name for row in response.context["page"]]


def spaced(nir: str) -> str:
    """As printed on a carte Vitale: 1 85 05 82 121 123 45."""
    return " ".join((nir[0], nir[1:3], nir[3:5], nir[5:7], nir[7:10], nir[10:13], nir[13:]))


def test_a_nir_with_its_key_with_or_without_spaces(officer_client):
    birth = date(1985, 5, 17)
    person = BeneficiaryFactory(
        birth_name="Aubert", birth_date=birth, nir=make_nir(random.Random(1), 1, birth, "82121")
    )
    # France Travail's files carry 13 characters: someone known by those only is found too.
    short = BeneficiaryFactory(birth_name="Barbier", nir=make_nir(random.Random(2), 2, birth, "82033")[:13])
    full_short = make_nir(random.Random(2), 2, birth, "82033")
    assert len(person.nir) == 15
    for text in (person.nir, spaced(person.nir), person.nir[:13]):
        assert found(officer_client, text) == ["Aubert"], text
    assert found(officer_client, spaced(full_short)) == ["Barbier"]
    assert short.nir_key == full_short[:13]


def test_a_corsican_nir_with_its_key(officer_client):
    birth = date(1979, 11, 2)
    nir = make_nir(random.Random(3), 2, birth, "2A004")
    BeneficiaryFactory(birth_name="Casanova", birth_date=birth, nir=nir, commune_code="2A004")
    BeneficiaryFactory(birth_name="Leca")
    assert "2A" in nir
    assert found(officer_client, spaced(nir).lower()) == ["Casanova"]
    assert found(officer_client, nir) == ["Casanova"]


def test_names_in_any_order_and_a_birth_date_typed_as_on_paper(officer_client):
    BeneficiaryFactory(birth_name="Dupont", first_name="Éloïse", usage_name="", birth_date=date(1985, 3, 5))
    BeneficiaryFactory(birth_name="Dupont", first_name="Marc", usage_name="", birth_date=date(1990, 1, 9))
    BeneficiaryFactory(birth_name="Eloise", first_name="Anne", usage_name="", birth_date=date(1985, 3, 5))
    assert found(officer_client, "dupont éloïse") == ["Dupont"]
    assert found(officer_client, "Eloise DUPONT") == ["Dupont"]
    assert sorted(found(officer_client, "05/03/1985")) == ["Dupont", "Eloise"]
    assert found(officer_client, "dupont 5/3/1985") == ["Dupont"]
    assert found(officer_client, "09-01-1990") == ["Dupont"]
    assert found(officer_client, "31/02/1985") == []
