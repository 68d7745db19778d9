"""Django admin: read-only windows on the import's data (decisions go through the review pages)."""

from django.contrib import admin

from exchanges.models import (
    ExchangeRun,
    FollowUp,
    ImportReject,
    ImportRun,
    JobSeekerSnapshot,
    ReviewCase,
    StatusEvent,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


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


@admin.register(ImportReject)
class ImportRejectAdmin(ReadOnlyAdmin):
    list_display = ("run", "level", "record_number", "field", "message")
    list_filter = ("level",)
    list_select_related = ("run",)


@admin.register(JobSeekerSnapshot)
class JobSeekerSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("run", "record_number", "reference_date", "periodicity", "match_rule", "beneficiary")
    list_filter = ("periodicity", "match_rule")
    list_select_related = ("run", "beneficiary")
    raw_id_fields = ("beneficiary", "run")


@admin.register(FollowUp)
class FollowUpAdmin(ReadOnlyAdmin):
    list_display = ("beneficiary", "status", "reference_date", "absent_from_last_stock", "has_unknown_codes")
    list_filter = ("status", "absent_from_last_stock", "has_unknown_codes")
    list_select_related = ("beneficiary",)
    raw_id_fields = ("beneficiary", "source_snapshot")


@admin.register(StatusEvent)
class StatusEventAdmin(ReadOnlyAdmin):
    list_display = ("beneficiary", "kind", "date", "motive", "run")
    list_filter = ("kind",)
    list_select_related = ("beneficiary", "run")
    raw_id_fields = ("beneficiary", "run")


@admin.register(ReviewCase)
class ReviewCaseAdmin(ReadOnlyAdmin):
    list_display = ("reason", "status", "run", "record_number", "created_at", "resolved_by")
    list_filter = ("reason", "status")
    raw_id_fields = ("run", "snapshot", "beneficiary", "candidates")


@admin.register(ExchangeRun)
class ExchangeRunAdmin(ReadOnlyAdmin):
    """The exchanges' own pages (Échanges) start and follow them; here, the raw record for support."""

    list_display = ("id", "direction", "status", "started_by", "attempts", "started_at", "finished_at")
    list_filter = ("direction", "status")
    search_fields = ("file_name", "sha256", "task_id")
    raw_id_fields = ("user",)
