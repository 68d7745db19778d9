from django.contrib import admin

from beneficiaries.models import Beneficiary


@admin.register(Beneficiary)
class BeneficiaryAdmin(admin.ModelAdmin):
    list_display = ("birth_name", "usage_name", "first_name", "birth_date", "commune_code", "source")
    list_filter = ("source",)
    search_fields = ("search_text",)
    readonly_fields = ("created_at", "updated_at")
    exclude = ()
