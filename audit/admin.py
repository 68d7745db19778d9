from django.contrib import admin

from audit.models import AuditEntry


class ReadOnlyAdmin(admin.ModelAdmin):
    """A window on records the application writes and nobody edits: no add, change or delete.

    The audit trail here, the exchange runs in exchanges/admin.py: each says where data came
    from or who did what, which an edit or a deletion would erase.
    """

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """Read-only: the trail is written by the application and never edited."""

    list_display = ("timestamp", "username", "action", "object_type", "object_id", "ip_address")
    list_filter = ("action",)
    search_fields = ("username", "object_id")
    date_hierarchy = "timestamp"
