from django.apps import AppConfig


class PagesConfig(AppConfig):
    """The caseworkers' pages: lists, search, cohorts, dashboard, parcours, exports and their caches."""

    name = "pages"
    verbose_name = "Pages des équipes"

    def ready(self) -> None:
        # Here, not at the top: the receivers import models, which need the registry ready.
        from beneficiaries.signals import people_changed, work_changed  # noqa: PLC0415
        from exchanges.signals import pecgm_imported, pecgm_imports_finished  # noqa: PLC0415
        from pages import receivers  # noqa: PLC0415

        pecgm_imported.connect(receivers.forget_counts, dispatch_uid="pages.forget_counts")
        pecgm_imports_finished.connect(receivers.compute_counts, dispatch_uid="pages.compute_counts")
        people_changed.connect(receivers.forget_people, dispatch_uid="pages.forget_people")
        work_changed.connect(receivers.forget_work, dispatch_uid="pages.forget_work")
