"""exchanges.table_statistics: the planner learns at once of the tables an import has outgrown."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from beneficiaries.models import Beneficiary
from exchanges import table_statistics
from exchanges.models import FollowUp, ImportRun, JobSeekerSnapshot, StatusEvent
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


def test_the_command_refreshes_them_before_the_counts_and_the_import_alone_does_not(tmp_path, monkeypatch):
    from pages import warming

    steps = []
    monkeypatch.setattr(
        table_statistics,
        "analyze_outgrown",
        lambda models, rows: steps.append(("analyze", models, rows)) or [],
    )
    monkeypatch.setattr(warming, "warm_counts", lambda: steps.append("warm") or 1)
    people = [BeneficiaryFactory() for _ in range(3)]
    call_command(
        "import_pecgm", str(pecgm_file(tmp_path, [record_for(p) for p in people], date(2025, 1, 31)))
    )
    run = ImportRun.objects.get()
    assert run.imported == 3
    assert steps == [("analyze", [Beneficiary, FollowUp, JobSeekerSnapshot, StatusEvent], 3), "warm"]
    # import_pecgm() alone (its time is the import's), a dry run or a refused file: nothing.
    import_pecgm(pecgm_file(tmp_path, [record_for(p) for p in people], date(2025, 2, 28)))
    # (A flux: an empty stock would be refused as much smaller than February's.)
    call_command("import_pecgm", "--dry-run", str(pecgm_file(tmp_path, [], date(2025, 3, 31), "H")))
    refused = tmp_path / "PECGM_082_20250430_M.xml"
    refused.write_bytes(b"<PECGM>tronque")
    with pytest.raises(CommandError):
        call_command("import_pecgm", str(refused))
    assert len(steps) == 2
