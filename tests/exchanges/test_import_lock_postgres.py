"""Two imports never run at once: on PostgreSQL, a session advisory lock."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connections

from exchanges import pecgm_import
from exchanges.models import ImportRun, ImportStatus
from tests.exchanges.import_files import pecgm_file, record_for


@pytest.mark.postgres
@pytest.mark.django_db
def test_second_import_is_refused_while_one_holds_the_lock(tmp_path):
    other = connections.create_connection("default")  # another process's session
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [pecgm_import.IMPORT_LOCK.key])
        with pytest.raises(pecgm_import.ImportBusy, match="Un autre import PECGM est en cours"):
            pecgm_import.import_pecgm(pecgm_file(tmp_path, [record_for(None)], date(2025, 1, 31)))
        assert not ImportRun.objects.exists()
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [pecgm_import.IMPORT_LOCK.key])
    finally:
        other.close()
    # Once released, the import goes through.
    path = pecgm_file(tmp_path, [record_for(None)], date(2025, 2, 28))
    assert pecgm_import.import_pecgm(path).status == ImportStatus.IMPORTED
