"""exchanges.table_statistics: the planner learns at once of the tables an import has outgrown."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from beneficiaries.models import Beneficiary
from exchanges import pecgm_import, table_statistics
from exchanges.models import FollowUp, JobSeekerSnapshot, StatusEvent
from exchanges.pecgm_import import import_pecgm
from tests.exchanges.import_files import pecgm_file, record_for
from tests.factories import BeneficiaryFactory

pytestmark = pytest.mark.django_db


def known_rows(model) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table])
        return cursor.fetchone()[0]


@pytest.mark.postgres
def test_a_table_whose_statistics_know_fewer_than_half_the_rows_is_analyzed():
    BeneficiaryFactory.create_batch(4)
    with CaptureQueriesContext(connection) as queries:
        assert table_statistics.analyze_outgrown([Beneficiary], rows=10**9) == ["beneficiaries_beneficiary"]
    assert [q["sql"] for q in queries if q["sql"].startswith("ANALYZE")] == [
        'ANALYZE "beneficiaries_beneficiary"'
    ]
    assert known_rows(Beneficiary) == 4
    # The statistics now know 4 rows: 8 more is not twice as many, 9 is.
    assert table_statistics.analyze_outgrown([Beneficiary], rows=8) == []
    assert table_statistics.analyze_outgrown([Beneficiary], rows=9) == ["beneficiaries_beneficiary"]
    assert table_statistics.analyze_outgrown([Beneficiary], rows=0) == []


def test_an_import_refreshes_them_once_committed_and_only_then(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(
        pecgm_import, "analyze_outgrown", lambda models, rows: calls.append((models, rows)) or []
    )
    people = [BeneficiaryFactory() for _ in range(3)]
    run = import_pecgm(pecgm_file(tmp_path, [record_for(person) for person in people], date(2025, 1, 31)))
    assert calls == [([Beneficiary, FollowUp, JobSeekerSnapshot, StatusEvent], run.imported)]
    assert run.imported == 3
    # A dry run or a refused file changes nothing: nothing to refresh.
    import_pecgm(pecgm_file(tmp_path, [record_for(people[0])], date(2025, 2, 28)), dry_run=True)
    rejected = tmp_path / "PECGM_082_20250331_M.xml"
    rejected.write_bytes(b"<PECGM>tronque")
    import_pecgm(rejected)
    assert len(calls) == 1
