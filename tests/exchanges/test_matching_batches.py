"""Matching by batches read from the database (issue #8): same answers as indexes of everybody.

The PECGM import reads a batch's people while the batch before is matched and
written: what it created or saw one or two batches earlier must be found by
later records, whether it is already written or still in memory.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from beneficiaries.models import Beneficiary
from exchanges import pecgm_import
from exchanges.matching import Matcher, record_keys
from exchanges.models import FollowUp, MatchRule, ReviewCase, ReviewReason
from exchanges.pecgm_import import import_pecgm
from tests.exchanges.import_files import ceased, identity, pecgm_file, record_for
from tests.factories import BeneficiaryFactory, namesakes

pytestmark = pytest.mark.django_db

JAN, FEB = date(2025, 1, 31), date(2025, 2, 28)


# --- the matcher alone ------------------------------------------------------------------


def test_prefetched_batch_needs_no_more_queries(django_assert_num_queries):
    people = BeneficiaryFactory.create_batch(3)
    matcher = Matcher.from_database()
    matcher.prefetch([identity(person) for person in people])
    with django_assert_num_queries(0):
        for person in people:
            assert matcher.match(**identity(person)).beneficiary_id == person.pk


def test_a_key_not_prefetched_is_read_when_needed():
    person = BeneficiaryFactory(nir="")
    matcher = Matcher.from_database()
    matcher.prefetch([])
    result = matcher.match(**identity(person, nir="", birth_name="X", first_name="Y"))
    assert (result.beneficiary_id, result.rule) == (person.pk, MatchRule.CAF_MSA)


@pytest.mark.parametrize(
    ("stored", "received"),
    [("ab123 ", "AB123"), (" 4567890", "4567890"), ("x9", " x9 ")],
)
def test_numbers_stored_untrimmed_or_lower_case_are_found(stored, received):
    """No index finds them: they are read once into memory, and compared as before."""
    person = BeneficiaryFactory(nir="", caf_number=stored)
    matcher = Matcher.from_database()
    assert person.pk in matcher.kept.people
    result = matcher.match(**identity(person, nir="", caf_number=received, birth_name="X", first_name="Y"))
    assert (result.beneficiary_id, result.rule) == (person.pk, MatchRule.CAF_MSA)


def test_france_travail_identifier_stored_lower_case_is_found():
    person = BeneficiaryFactory(nir="")
    FollowUp.objects.create(beneficiary=person, ft_institution_code="076", ft_identifier=" 1234567a")
    matcher = Matcher.from_database()
    result = matcher.match(
        **identity(person, nir="", birth_name="X", first_name="Y", caf_number=""),
        ft_institution_code="76",
        ft_identifier="1234567A",
    )
    assert (result.beneficiary_id, result.rule) == (person.pk, MatchRule.FT_IDENTIFIER)


def test_same_number_for_another_birth_date_is_nobody():
    """A number found in the database is checked with the birth date, as the rule says."""
    person = BeneficiaryFactory(nir="", caf_number="ab12 ")
    matcher = Matcher.from_database()
    other_day = person.birth_date + timedelta(days=1)
    result = matcher.match(
        **identity(person, nir="", caf_number="AB12", birth_name="X", first_name="Y", birth_date=other_day)
    )
    assert result.is_new


def test_people_added_two_batches_ago_are_found_in_the_database():
    """What the import added is kept two batches, then the database answers (it wrote them)."""
    matcher = Matcher.from_database()
    person = BeneficiaryFactory.build(id=50_000, nir="1850182121123")
    matcher.add(person)
    matcher.next_batch()
    assert matcher.match(**identity(person)).beneficiary_id == person.pk  # still in memory
    matcher.next_batch()
    person.save()  # written meanwhile
    matcher.prefetch([identity(person)])
    assert matcher.match(**identity(person)).beneficiary_id == person.pk
    assert not any(person.pk in index.people for index in matcher.recent)


def test_identifier_replaced_is_still_found_until_the_end_of_the_run():
    person = BeneficiaryFactory(nir="")
    matcher = Matcher.from_database()
    key = record_keys(birth_date=None, ft_institution_code="076", ft_identifier="7777777B").ft
    matcher.keep_ft_identifier(person.pk, key)
    matcher.next_batch()
    matcher.next_batch()
    result = matcher.match(
        birth_date=person.birth_date, ft_institution_code="76", ft_identifier="7777777b", first_name="Z"
    )
    assert (result.beneficiary_id, result.rule) == (person.pk, MatchRule.FT_IDENTIFIER)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"birth_date": date(1970, 1, 1)}, ReviewReason.NIR_CONFLICT),
        ({"nir": "1990182121999", "caf_number": ""}, ReviewReason.IDENTIFIER_MISMATCH),
        ({"nir": "", "caf_number": "999"}, ReviewReason.IDENTIFIER_MISMATCH),
    ],
)
def test_review_reasons_with_a_prefetched_batch(change, reason):
    person = BeneficiaryFactory()
    matcher = Matcher.from_database()
    matcher.prefetch([identity(person, **change)])
    result = matcher.match(**identity(person, **change))
    assert (result.review_reason, result.candidates) == (reason, [person.pk])


def test_several_candidates_with_a_prefetched_batch():
    person, twin = namesakes()
    matcher = Matcher.from_database()
    matcher.prefetch([identity(person)])
    result = matcher.match(**identity(person))
    assert result.review_reason == ReviewReason.SEVERAL_CANDIDATES
    assert result.candidates == sorted([person.pk, twin.pk])


# --- the import, in small batches ------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 2, 3, 1000])
def test_a_person_created_early_in_a_flux_is_found_by_later_records(tmp_path, monkeypatch, batch_size):
    """Found in memory (the batch before) or in the database (written), never created twice."""
    monkeypatch.setattr(pecgm_import, "BATCH_SIZE", batch_size)
    known = BeneficiaryFactory.create_batch(4)
    unknown = record_for(None, nir="2880582121456", caf_number="CA1")
    flux = [unknown] + [record_for(person) for person in known]
    flux += [
        ceased(unknown, date(2025, 1, 20)),
        {**unknown, "nir": "", "ft_identifier": unknown["ft_identifier"]},
    ]
    run = import_pecgm(pecgm_file(tmp_path, flux, JAN, "H"))
    assert (run.created, run.matched_nir, run.matched_ft_identifier) == (1, 5, 1)
    created = Beneficiary.objects.get(nir__startswith="2880582121456")
    assert FollowUp.objects.filter(beneficiary=created).count() == 1
    assert ReviewCase.objects.filter(reason=ReviewReason.CREATED_FROM_FT).count() == 1


@pytest.mark.parametrize("batch_size", [1, 2, 1000])
def test_an_identifier_changed_in_a_file_still_finds_its_person(tmp_path, monkeypatch, batch_size):
    """The old identifier, no longer in any follow-up, still finds the person in the same run."""
    monkeypatch.setattr(pecgm_import, "BATCH_SIZE", batch_size)
    person, *others = BeneficiaryFactory.create_batch(4)
    first = record_for(person)
    import_pecgm(pecgm_file(tmp_path, [first], JAN))
    renamed = {**first, "ft_identifier": "9999999Z"}
    again = {**first, "nir": "", "birth_name": "AUTRE", "caf_number": ""}  # only the old identifier
    flux = [renamed, *(record_for(other) for other in others), again]
    run = import_pecgm(pecgm_file(tmp_path, flux, FEB, "H"))
    assert run.matched_ft_identifier == 1 and run.created == 0
