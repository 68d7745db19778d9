from django.apps import AppConfig


class BeneficiariesConfig(AppConfig):
    name = "beneficiaries"
    verbose_name = "Bénéficiaires"

    def ready(self) -> None:
        # Here, not at the top: the receivers import models, which need the registry ready.
        from beneficiaries import receivers  # noqa: PLC0415
        from exchanges.signals import pecgm_imported, pecgm_imports_finished  # noqa: PLC0415

        pecgm_imported.connect(receivers.forget_counts, dispatch_uid="beneficiaries.forget_counts")
        pecgm_imports_finished.connect(receivers.compute_counts, dispatch_uid="beneficiaries.compute_counts")
