from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db.models import ProtectedError

from orientations.decisions import (
    DecisionConflict,
    DecisionData,
    check_new_decision,
    correct_decision,
    current_decision,
    record_decision,
)
from orientations.models import OrientationChange, OrientationDecision, ReferentBody
from tests.factories import BeneficiaryFactory
from tests.orientations.factories import CorrespondentFactory, ReferentBodyFactory

pytestmark = pytest.mark.django_db


def data(day: date, nature: str = "01", body=None, correspondent=None) -> DecisionData:
    return DecisionData(
        nature=nature,
        decision_date=day,
        referent_body=body or ReferentBodyFactory(),
        correspondent=correspondent,
    )


def assert_no_overlap(beneficiary):
    decisions = list(OrientationDecision.objects.filter(beneficiary=beneficiary).order_by("decision_date"))
    for earlier, later in zip(decisions, decisions[1:], strict=False):
        assert earlier.ended_on == later.decision_date
    assert decisions[-1].ended_on is None
    assert sum(1 for decision in decisions if decision.is_current) == 1


def test_new_decision_closes_the_previous_one():
    person = BeneficiaryFactory()
    first = record_decision(person, data(date(2024, 3, 1)))
    second = record_decision(person, data(date(2024, 9, 1), "05"))
    first.refresh_from_db()
    assert first.ended_on == date(2024, 9, 1)
    assert second.ended_on is None
    assert current_decision(person) == second
    assert_no_overlap(person)


def test_older_decision_arriving_later_slots_into_the_timeline():
    person = BeneficiaryFactory()
    record_decision(person, data(date(2024, 1, 1)))
    latest = record_decision(person, data(date(2024, 12, 1)))
    middle = record_decision(person, data(date(2024, 6, 1)), source="import")
    middle.refresh_from_db()
    assert middle.ended_on == date(2024, 12, 1)
    assert current_decision(person) == latest
    assert_no_overlap(person)


def test_two_decisions_on_the_same_day_are_refused():
    person = BeneficiaryFactory()
    record_decision(person, data(date(2024, 3, 1)))
    with pytest.raises(DecisionConflict, match="existe déjà"):
        record_decision(person, data(date(2024, 3, 1), "02"))
    assert OrientationDecision.objects.filter(beneficiary=person).count() == 1


def test_page_rules_refuse_future_and_older_than_current():
    person = BeneficiaryFactory()
    record_decision(person, data(date(2024, 3, 1)))
    with pytest.raises(DecisionConflict, match="postérieure"):
        check_new_decision(person, date(2024, 2, 1))
    with pytest.raises(DecisionConflict, match="futur"):
        check_new_decision(person, date(2999, 1, 1))
    check_new_decision(person, date(2024, 3, 2))


def test_correction_keeps_who_what_and_when(orientation_officer):
    person = BeneficiaryFactory()
    body = ReferentBodyFactory(name="Mission locale")
    decision = record_decision(person, data(date(2024, 3, 1), "01", body))
    other_body = ReferentBodyFactory(name="France Travail Castelsarrasin")
    changes = correct_decision(
        decision,
        data(date(2024, 3, 2), "05", other_body),
        user=orientation_officer,
        reason="erreur de saisie",
    )
    assert {change.field for change in changes} == {"nature", "decision_date", "referent_body"}
    stored = {change.field: change for change in OrientationChange.objects.filter(decision=decision)}
    assert stored["decision_date"].old_value == "01/03/2024"
    assert stored["decision_date"].new_value == "02/03/2024"
    assert stored["referent_body"].old_value == "Mission locale"
    assert stored["nature"].new_value.startswith("05")
    assert stored["nature"].changed_by == orientation_officer
    assert stored["nature"].reason == "erreur de saisie"
    decision.refresh_from_db()
    assert (decision.nature, decision.decision_date, decision.ended_on) == ("05", date(2024, 3, 2), None)


def test_correcting_a_date_past_the_next_decision_rethreads_the_timeline():
    person = BeneficiaryFactory()
    first = record_decision(person, data(date(2024, 1, 1)))
    second = record_decision(person, data(date(2024, 6, 1)))
    correct_decision(first, data(date(2024, 9, 1), body=first.referent_body))
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.ended_on == date(2024, 9, 1)
    assert first.ended_on is None
    assert_no_overlap(person)


def test_correction_onto_another_decisions_day_is_refused():
    person = BeneficiaryFactory()
    first = record_decision(person, data(date(2024, 1, 1)))
    record_decision(person, data(date(2024, 6, 1)))
    with pytest.raises(DecisionConflict):
        correct_decision(first, data(date(2024, 6, 1), body=first.referent_body))


def test_unchanged_correction_records_nothing():
    person = BeneficiaryFactory()
    decision = record_decision(person, data(date(2024, 1, 1)))
    same = DecisionData("01", date(2024, 1, 1), decision.referent_body, None)
    assert correct_decision(decision, same) == []
    assert OrientationChange.objects.count() == 0


def test_referent_body_used_by_a_decision_cannot_be_deleted():
    person = BeneficiaryFactory()
    body = ReferentBodyFactory()
    record_decision(person, data(date(2024, 1, 1), body=body))
    with pytest.raises(ProtectedError):
        body.delete()


def test_referent_body_name_and_address_must_fit_90_characters():
    body = ReferentBodyFactory.build(name="C" * 50, address="A" * 40)
    with pytest.raises(ValidationError) as error:
        body.full_clean()
    assert "90" in str(error.value)
    ReferentBodyFactory.build(name="C" * 50, address="A" * 39).full_clean()


def test_referent_body_length_counts_transliterated_characters():
    body = ReferentBodyFactory.build(name="Œ" * 45, address="A" * 30)  # 45 × "OE" + space + 30 = 121
    with pytest.raises(ValidationError):
        body.full_clean()


def test_correspondent_phone_is_stored_without_spaces_or_dots():
    correspondent = CorrespondentFactory(phone="05 63.00 00.00")
    correspondent.full_clean()
    correspondent.save()
    correspondent.refresh_from_db()
    assert correspondent.phone == "0563000000"


@pytest.mark.parametrize("phone", ["05630000", "05 63 00 00 00 1", "06-12-34-56-78", "abcdefghij"])
def test_correspondent_phone_must_have_ten_digits(phone):
    correspondent = CorrespondentFactory.build(phone=phone, referent_body=ReferentBodyFactory())
    with pytest.raises(ValidationError) as error:
        correspondent.full_clean()
    assert "10 chiffres" in str(error.value)


def test_seed_demo_records_demo_orientations_once():
    import io

    from django.core.management import call_command

    call_command("seed_demo", "--count", "30", stdout=io.StringIO())
    count = OrientationDecision.objects.filter(source="demo").count()
    assert 0 < count < 30
    assert ReferentBody.objects.count() == 3
    call_command("seed_demo", "--count", "30", stdout=io.StringIO())
    assert OrientationDecision.objects.count() == count


def test_the_database_refuses_two_current_decisions_for_one_person():
    from django.db import IntegrityError, transaction

    from tests.orientations.factories import DecisionFactory

    decision = DecisionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        DecisionFactory(beneficiary=decision.beneficiary, decision_date=date(2025, 2, 1))
