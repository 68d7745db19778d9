from django.contrib import admin

from orientations.models import CgpemExport, Correspondent, ReferentBody

# Orientation decisions are not here: they are personal data, read and corrected
# through the orientation pages (territories, history, audit; beneficiaries/admin.py).


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


@admin.register(CgpemExport)
class CgpemExportAdmin(admin.ModelAdmin):
    list_display = ("file_name", "periodicity", "period_end", "records", "created_at", "deposited_at")
    readonly_fields = [field.name for field in CgpemExport._meta.fields if field.name != "deposited_at"]

    def has_add_permission(self, request):
        return False

    # The archive of what was sent to France Travail.
    def has_delete_permission(self, request, obj=None):
        return False
