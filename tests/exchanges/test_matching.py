"""Matching rules: each rule, its recorded name, and every reason to stop and ask."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from exchanges.matching import Matcher
from exchanges.models import FollowUp, MatchRule, ReviewReason
from tests.exchanges.import_files import identity
from tests.factories import BeneficiaryFactory, namesakes

pytestmark = pytest.mark.django_db


def test_nir_on_13_characters():
    person = BeneficiaryFactory()
    result = Matcher.from_database().match(**identity(person, birth_name="AUTRE NOM"))
    assert (result.beneficiary_id, result.rule, result.review_reason) == (person.pk, MatchRule.NIR, "")
    assert result.is_match


def test_corsican_nir():
    person = BeneficiaryFactory(nir="285052A00412345")
    assert person.nir_key == "285052A004123"
    result = Matcher.from_database().match(**identity(person, nir="285052a004123"))
    assert result.beneficiary_id == person.pk and result.rule == MatchRule.NIR


def test_nir_conflict_goes_to_review():
    person = BeneficiaryFactory()
    result = Matcher.from_database().match(
        **identity(person, birth_date=person.birth_date - timedelta(days=3))
    )
    assert result.beneficiary_id is None
    assert result.review_reason == ReviewReason.NIR_CONFLICT
    assert result.candidates == [person.pk]


def test_same_nir_twice_locally_is_ambiguous():
    person = BeneficiaryFactory()
    twin = BeneficiaryFactory(nir=person.nir, birth_date=person.birth_date)
    result = Matcher.from_database().match(**identity(person))
    assert result.review_reason == ReviewReason.SEVERAL_CANDIDATES
    assert result.candidates == sorted([person.pk, twin.pk])


def test_france_travail_identifier_seen_before():
    person = BeneficiaryFactory(nir="")
    FollowUp.objects.create(beneficiary=person, ft_institution_code="076", ft_identifier="1234567A")
    result = Matcher.from_database().match(
        **identity(person, nir="", birth_name="X", first_name="Y", caf_number=""),
        ft_institution_code="76",
        ft_identifier="1234567a",
    )
    assert (result.beneficiary_id, result.rule) == (person.pk, MatchRule.FT_IDENTIFIER)


def test_france_travail_identifier_with_another_nir_is_doubtful():
    person = BeneficiaryFactory()
    FollowUp.objects.create(beneficiary=person, ft_institution_code="076", ft_identifier="1234567A")
    result = Matcher.from_database().match(
        **identity(person, nir="1990182121999"), ft_institution_code="076", ft_identifier="1234567A"
    )
    assert result.review_reason == ReviewReason.IDENTIFIER_MISMATCH
    assert result.rule == MatchRule.FT_IDENTIFIER


def test_caf_number_and_birth_date():
    person = BeneficiaryFactory(nir="")
    result = Matcher.from_database().match(**identity(person, nir="", birth_name="X", first_name="Y"))
    assert (result.beneficiary_id, result.rule) == (person.pk, MatchRule.CAF_MSA)


def test_msa_number_and_birth_date():
    person = BeneficiaryFactory(nir="", caf_number="", msa_number="MSA123")
    result = Matcher.from_database().match(**identity(person, nir="", birth_name="X", first_name="Y"))
    assert (result.beneficiary_id, result.rule) == (person.pk, MatchRule.CAF_MSA)


def test_caf_number_with_another_birth_date_finds_nobody():
    person = BeneficiaryFactory(nir="")
    result = Matcher.from_database().match(
        **identity(person, nir="", birth_name="X", first_name="Y", birth_date=date(1950, 1, 1))
    )
    assert result.is_new


@pytest.mark.parametrize(
    "received",
    [
        {"birth_name": "ÉLOÏSE-D'ARTAGNAN", "first_name": "  cœur "},
        {"birth_name": "eloise d artagnan", "first_name": "COEUR"},
        # The record's birth name is the local usage name.
        {"birth_name": "Martin", "first_name": "Coeur"},
        # The record's usage name is the local birth name.
        {"birth_name": "Inconnu", "usage_name": "Eloïse d'Artagnan", "first_name": "Cœur"},
    ],
)
def test_folded_names_and_birth_date(received):
    person = BeneficiaryFactory(
        nir="", caf_number="", birth_name="Éloïse d'Artagnan", usage_name="MARTIN", first_name="Cœur"
    )
    result = Matcher.from_database().match(birth_date=person.birth_date, **received)
    assert (result.beneficiary_id, result.rule) == (person.pk, MatchRule.NAME)


def test_name_match_disagreeing_on_nir_goes_to_review():
    person = BeneficiaryFactory()
    result = Matcher.from_database().match(**identity(person, nir="1990182121999", caf_number=""))
    assert result.review_reason == ReviewReason.IDENTIFIER_MISMATCH
    assert result.rule == MatchRule.NAME and result.candidates == [person.pk]


def test_name_match_disagreeing_on_caf_goes_to_review():
    person = BeneficiaryFactory(nir="")
    result = Matcher.from_database().match(**identity(person, nir="", caf_number="999"))
    assert result.review_reason == ReviewReason.IDENTIFIER_MISMATCH


def test_two_people_with_the_same_name_and_birth_date():
    person, other = namesakes()
    result = Matcher.from_database().match(**identity(person, nir=""))
    assert result.review_reason == ReviewReason.SEVERAL_CANDIDATES
    assert result.candidates == sorted([person.pk, other.pk])


def test_nobody():
    BeneficiaryFactory()
    result = Matcher.from_database().match(
        birth_name="Personne", first_name="Nul", birth_date=date(1980, 1, 1)
    )
    assert result.is_new and result.candidates == []


def test_people_added_during_an_import_are_found():
    """The import creates people before writing them: the matcher finds them meanwhile."""
    matcher = Matcher.from_database()
    person = BeneficiaryFactory.build(id=10_000)  # not in the database (the import writes it later)
    assert matcher.match(**identity(person)).is_new
    matcher.add(person)
    result = matcher.match(**identity(person))
    assert (result.beneficiary_id, result.rule) == (person.pk, MatchRule.NIR)
    result = matcher.match(**identity(person, nir=""))
    assert (result.beneficiary_id, result.rule) == (person.pk, MatchRule.CAF_MSA)
