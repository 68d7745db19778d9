from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Comptes et rôles"

    def ready(self) -> None:
        from accounts import signals  # noqa: F401  (session start, disabled accounts)
        from accounts.otp import cap_throttle_delay
        from config import checks  # noqa: F401  (check --deploy: folders, proxies)

        cap_throttle_delay()
