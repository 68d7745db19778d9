"""Issue 21: cessation motive 46 (changement de site).

France Travail gives the person a new identifier and agency code; the record
carrying it comes in the same file or the next. It goes to the person of the
ceased record (same NIR, or same names and birth date as France Travail
sent them), without a review case and without creating anyone.
"""

from __future__ import annotations

from datetime import date

import pytest

from beneficiaries.models import Beneficiary
from exchanges.models import (
    FollowUp,
    FollowUpStatus,
    JobSeekerSnapshot,
    MatchRule,
    ReviewCase,
)
from exchanges.pecgm_import import import_pecgm
from tests.exchanges.import_files import ceased, pecgm_file, record_for
from tests.factories import BeneficiaryFactory

pytestmark = pytest.mark.django_db

JAN, FEB = date(2025, 1, 31), date(2025, 2, 28)


def known_by_caf_only():
    """Someone the Département knows without NIR, under another name than France Travail's:
    their records are linked by CAF number and birth date only."""
    person = BeneficiaryFactory(nir="", birth_name="MARTIN", usage_name="", caf_number="1234567")
    record = record_for(person, birth_name="DURAND", usage_name="", ft_identifier="1111111A")
    return person, record


def moved(record: dict) -> dict:
    """The new registration: new identifier and agency, no CAF number."""
    return {**record, "ft_identifier": "2222222B", "ft_institution_code": "082", "caf_number": ""}


def assert_linked_without_review(person, run):
    snapshot = JobSeekerSnapshot.objects.get(run=run, ft_identifier="2222222B")
    assert (snapshot.beneficiary_id, snapshot.match_rule) == (person.pk, MatchRule.SITE_CHANGE)
    assert not ReviewCase.objects.filter(run=run).exists()
    assert Beneficiary.objects.count() == 1 and run.created == 0 and run.review == 0
    followup = FollowUp.objects.get(beneficiary=person)
    assert (followup.ft_identifier, followup.ft_institution_code) == ("2222222B", "082")
    assert followup.status == FollowUpStatus.REGISTERED


def test_the_new_identifier_in_the_next_file_goes_to_the_same_person(tmp_path):
    person, record = known_by_caf_only()
    import_pecgm(pecgm_file(tmp_path, [ceased(record, date(2025, 1, 20), motive="46")], JAN))
    assert FollowUp.objects.get(beneficiary=person).status == FollowUpStatus.CEASED

    run = import_pecgm(pecgm_file(tmp_path, [moved(record)], FEB))
    assert_linked_without_review(person, run)
    assert run.matched == 1


def test_the_new_identifier_in_the_same_file_goes_to_the_same_person(tmp_path):
    person, record = known_by_caf_only()
    stock = [ceased(record, date(2025, 1, 20), motive="46"), moved(record)]
    run = import_pecgm(pecgm_file(tmp_path, stock, JAN))
    assert_linked_without_review(person, run)
    assert run.matched == 2


def test_the_new_registration_stays_when_the_ceased_one_comes_after_it(tmp_path):
    """Both known (the old identifier links the ceased record): the new one is the situation."""
    person, record = known_by_caf_only()
    import_pecgm(pecgm_file(tmp_path, [record], JAN))
    flux = [{**moved(record), "caf_number": "1234567"}, ceased(record, date(2025, 2, 20), motive="46")]
    import_pecgm(pecgm_file(tmp_path, flux, FEB, "H"))
    followup = FollowUp.objects.get(beneficiary=person)
    assert (followup.ft_identifier, followup.status) == ("2222222B", FollowUpStatus.REGISTERED)


def test_another_motive_or_another_nir_is_not_a_change_of_site(tmp_path):
    person, record = known_by_caf_only()
    import_pecgm(pecgm_file(tmp_path, [ceased(record, date(2025, 1, 20), motive="11")], JAN))
    run = import_pecgm(pecgm_file(tmp_path, [moved(record)], FEB))
    assert run.created == 1  # unknown: a person known only from France Travail, reviewed

    other, record = (
        BeneficiaryFactory(nir=""),
        record_for(None, nir="1850575123456", ft_identifier="3333333C"),
    )
    import_pecgm(
        pecgm_file(tmp_path, [ceased(record, date(2025, 2, 20), motive="46")], date(2025, 2, 27), "H")
    )
    run = import_pecgm(pecgm_file(tmp_path, [{**moved(record), "nir": "2850575123456"}], date(2025, 3, 31)))
    assert JobSeekerSnapshot.objects.get(run=run).match_rule != MatchRule.SITE_CHANGE
    assert other.pk not in set(
        JobSeekerSnapshot.objects.filter(run=run).values_list("beneficiary_id", flat=True)
    )
