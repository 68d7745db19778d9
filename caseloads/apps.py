from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CaseloadsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "caseloads"
    verbose_name = _("Portefeuilles et suivi")
