from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Journal d'audit"

    def ready(self) -> None:
        # Here, not at the top: the receivers import models, which need the registry ready.
        from audit import signals  # noqa: F401, PLC0415  (login, logout and failures)
