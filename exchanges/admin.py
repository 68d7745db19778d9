"""Django admin: read-only windows on the runs, for support (a run is where the data came
from: deleting it would erase that).

Only the runs: the records they carry (snapshots, follow-ups, events, rejected
values, review cases) are personal data, read through the application's pages,
which limit them to the user's territories and audit who read them
(beneficiaries/admin.py says why).
"""

from django.contrib import admin

from audit.admin import ReadOnlyAdmin
from exchanges.models import ExchangeRun, ImportRun


@admin.register(ImportRun)
class ImportRunAdmin(ReadOnlyAdmin):
    list_display = (
        "file_name",
        "reference_date",
        "periodicity",
        "status",
        "records",
        "rejected_records",
        "started_at",
    )
    list_filter = ("status", "periodicity")
    search_fields = ("file_name", "sha256")


@admin.register(ExchangeRun)
class ExchangeRunAdmin(ReadOnlyAdmin):
    """The exchanges' own pages (Échanges) start and follow them; here, the raw record for support."""

    list_display = ("id", "direction", "status", "started_by", "attempts", "started_at", "finished_at")
    list_filter = ("direction", "status")
    search_fields = ("file_name", "sha256", "task_id")
    raw_id_fields = ("user",)
