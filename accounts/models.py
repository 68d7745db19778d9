from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.roles import Role, has_capability


class User(AbstractUser):
    role = models.CharField(_("rôle"), max_length=32, choices=Role.choices)

    class Meta:
        verbose_name = _("utilisateur")
        verbose_name_plural = _("utilisateurs")

    def can(self, capability: str) -> bool:
        return has_capability(self, capability)

    def save(self, *args, **kwargs):
        # Administrators manage users and reference data in Django's admin site;
        # the other roles never see it.
        self.is_staff = self.role == Role.ADMIN or self.is_superuser
        super().save(*args, **kwargs)
