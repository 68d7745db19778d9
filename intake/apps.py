from django.apps import AppConfig


class IntakeConfig(AppConfig):
    """The Département's CSV files: its beneficiaries (and their référents), its past decisions."""

    name = "intake"
    verbose_name = "Imports CSV du Département"
