"""Issue 21: a refused record never makes someone « sorti du stock ».

A record the reader refuses still says France Travail knows the person it
names (by the NIR's 13 first characters, key or not, or by the France Travail
identifier): that person is « reçu, illisible ce mois », keeps their last
situation, is flagged on their page and by a list filter, and is not absent
from the stock. Only people truly missing from a whole, accepted stock leave it.
"""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from exchanges.models import EventKind, FollowUp, FollowUpStatus, ImportStatus, StatusEvent
from exchanges.pecgm_import import import_pecgm
from tests.exchanges.import_files import pecgm_file, record_for
from tests.factories import BeneficiaryFactory

pytestmark = pytest.mark.django_db

JAN, FEB, MAR = date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31)
# A birth date that does not exist: the reader refuses the record (an identifying field).
NO_SUCH_DAY = "19800230"


def with_key(nir13: str) -> str:
    """The NIR with its two-digit key, as the Département's tool may hold it."""
    number = int(nir13.replace("2A", "19").replace("2B", "18"))
    return f"{nir13}{97 - number % 97:02d}"


@pytest.fixture
def officer_client(client, orientation_officer):
    client.force_login(orientation_officer)
    return client


@pytest.fixture
def january(tmp_path, settings):
    settings.PECGM_MAX_REJECT_RATIO = 0.5
    people = BeneficiaryFactory.create_batch(5)
    records = [record_for(person) for person in people]
    assert import_pecgm(pecgm_file(tmp_path, records, JAN)).status == ImportStatus.IMPORTED
    return people, records


def test_people_named_by_a_refused_record_are_not_out_of_the_stock(tmp_path, january):
    people, records = january
    read, by_nir, by_nir_with_key, by_identifier, missing = people
    february = [
        {**records[0]},
        {**records[1], "birth_date": NO_SUCH_DAY},
        {**records[2], "nir": with_key(records[2]["nir"]), "birth_date": NO_SUCH_DAY},
        {**records[3], "nir": "", "birth_name": "", "birth_date": NO_SUCH_DAY},  # the identifier only
        *(record_for(None) for _ in range(3)),  # newcomers: the rejects stay under the ratio
    ]
    run = import_pecgm(pecgm_file(tmp_path, february, FEB))
    assert run.status == ImportStatus.IMPORTED_WITH_REJECTS and run.rejected_records == 3

    for person in (by_nir, by_nir_with_key, by_identifier):
        followup = FollowUp.objects.get(beneficiary=person)
        # Their last situation, flagged, not absent.
        assert (followup.status, followup.reference_date) == (FollowUpStatus.REGISTERED, JAN)
        assert followup.unreadable_on == FEB and not followup.absent_from_last_stock
    assert FollowUp.objects.get(beneficiary=read).unreadable_on is None
    gone = FollowUp.objects.get(beneficiary=missing)
    assert gone.absent_from_last_stock and gone.unreadable_on is None
    left = set(StatusEvent.objects.filter(kind=EventKind.LEFT_STOCK).values_list("beneficiary_id", flat=True))
    assert left == {missing.pk}


def test_the_flag_ends_with_the_next_readable_stock(tmp_path, january):
    people, records = january
    february = [{**records[0], "birth_date": NO_SUCH_DAY}, *records[1:]]
    import_pecgm(pecgm_file(tmp_path, february, FEB))
    assert FollowUp.objects.get(beneficiary=people[0]).unreadable_on == FEB

    # March: read again, the flag goes; missing altogether, they leave the stock then.
    import_pecgm(pecgm_file(tmp_path, records[:4], MAR))
    assert FollowUp.objects.get(beneficiary=people[0]).unreadable_on is None
    assert FollowUp.objects.get(beneficiary=people[0]).reference_date == MAR


def test_someone_known_without_follow_up_is_flagged_too(tmp_path, january):
    _people, records = january
    newcomer = BeneficiaryFactory()
    february = [*records, record_for(newcomer, birth_date=NO_SUCH_DAY)]
    import_pecgm(pecgm_file(tmp_path, february, FEB))
    followup = FollowUp.objects.get(beneficiary=newcomer)
    assert (followup.status, followup.unreadable_on) == (FollowUpStatus.UNKNOWN, FEB)


def test_flagged_on_the_page_and_by_the_list_filter(tmp_path, january, officer_client):
    people, records = january
    february = [{**records[0], "birth_date": NO_SUCH_DAY}, *records[1:]]
    import_pecgm(pecgm_file(tmp_path, february, FEB))

    page = officer_client.get(reverse("beneficiary_detail", args=[people[0].pk])).content.decode()
    assert 'id="unreadable-warning"' in page and "28/02/2025" in page
    assert 'id="stale-warning"' not in page  # not « absente du dernier fichier »
    listed = officer_client.get(reverse("beneficiary_list"), {"illisible": "on"})
    assert [row.birth_name for row in listed.context["page"]] == [people[0].birth_name]
