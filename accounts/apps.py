from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Comptes et rôles"

    def ready(self) -> None:
        # Here, not at the top: these modules import models, which need the registry ready.
        from accounts import signals  # noqa: F401, PLC0415  (session start, disabled accounts)
        from accounts.otp import cap_throttle_delay  # noqa: PLC0415
        from config import checks  # noqa: F401, PLC0415  (check --deploy: folders, proxies)

        cap_throttle_delay()
