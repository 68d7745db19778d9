from django.contrib import admin

from caseloads.models import Outcome


@admin.register(Outcome)
class OutcomeAdmin(admin.ModelAdmin):
    """The short list of outcomes offered when a list line is marked « traité »."""

    list_display = ("label", "position", "is_active")
    list_editable = ("position", "is_active")
    ordering = ("position", "label")
