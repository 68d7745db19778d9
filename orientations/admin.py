from django.contrib import admin

from orientations.models import (
    CgpemExport,
    Correspondent,
    OrientationChange,
    OrientationDecision,
    ReferentBody,
)


class CorrespondentInline(admin.TabularInline):
    model = Correspondent
    extra = 0


@admin.register(ReferentBody)
class ReferentBodyAdmin(admin.ModelAdmin):
    list_display = ("name", "address", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "address")
    inlines = [CorrespondentInline]


@admin.register(Correspondent)
class CorrespondentAdmin(admin.ModelAdmin):
    list_display = ("last_name", "first_name", "referent_body", "phone", "email", "is_active")
    list_filter = ("is_active",)
    search_fields = ("last_name", "first_name", "email")


class OrientationChangeInline(admin.TabularInline):
    model = OrientationChange
    extra = 0
    can_delete = False
    readonly_fields = ("field", "old_value", "new_value", "changed_by", "changed_at", "reason")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(OrientationDecision)
class OrientationDecisionAdmin(admin.ModelAdmin):
    """Read-only: decisions change through the correction page, which keeps their history."""

    list_display = ("beneficiary", "nature", "decision_date", "ended_on", "referent_body", "recorded_at")
    list_filter = ("nature",)
    raw_id_fields = ("beneficiary",)
    inlines = [OrientationChangeInline]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CgpemExport)
class CgpemExportAdmin(admin.ModelAdmin):
    list_display = ("file_name", "periodicity", "period_end", "records", "created_at", "deposited_at")
    readonly_fields = [field.name for field in CgpemExport._meta.fields if field.name != "deposited_at"]

    def has_add_permission(self, request):
        return False
