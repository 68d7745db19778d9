from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.roles import Role, has_capability
from accounts.territories import parse_commune_codes


class Territory(models.Model):
    """A set of communes a social worker is assigned to (see beneficiaries/scoping.py)."""

    name = models.CharField(_("nom"), max_length=100, unique=True)
    communes = models.TextField(
        _("communes (codes INSEE)"),
        help_text=_("Codes INSEE des communes, séparés par des espaces ou des virgules."),
    )

    class Meta:
        verbose_name = _("territoire")
        verbose_name_plural = _("territoires")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        # Stored normalised (sorted, space-separated) whatever way it was typed.
        self.communes = " ".join(parse_commune_codes(self.communes))
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self.communes = " ".join(parse_commune_codes(self.communes))

    @property
    def commune_codes(self) -> list[str]:
        return self.communes.split()


class User(AbstractUser):
    role = models.CharField(_("rôle"), max_length=32, choices=Role.choices)
    territories = models.ManyToManyField(
        Territory,
        verbose_name=_("territoires"),
        blank=True,
        related_name="users",
        help_text=_(
            "Un travailleur social ne voit que les bénéficiaires qui habitent ses territoires ; un "
            "chargé d'orientation aussi, s'il en a. Un administrateur n'en a pas : il voit tout."
        ),
    )

    class Meta:
        verbose_name = _("utilisateur")
        verbose_name_plural = _("utilisateurs")

    def can(self, capability: str) -> bool:
        return has_capability(self, capability)

    # The admin role manages users, territories and reference data in Django's
    # admin site: it holds every model permission there, as a superuser would,
    # except what a ModelAdmin forbids to everyone (the audit log is read-only).
    def has_perm(self, perm, obj=None) -> bool:
        if self.is_active and self.role == Role.ADMIN:
            return True
        return super().has_perm(perm, obj)

    def has_module_perms(self, app_label) -> bool:
        if self.is_active and self.role == Role.ADMIN:
            return True
        return super().has_module_perms(app_label)

    def save(self, *args, **kwargs):
        # Administrators manage users and reference data in Django's admin site;
        # the other roles never see it.
        self.is_staff = self.role == Role.ADMIN or self.is_superuser
        super().save(*args, **kwargs)


def is_last_active_admin(user: User) -> bool:
    """Whether `user` is, as saved, the only active administrator."""
    if user.pk is None:
        return False
    admins = User.objects.filter(role=Role.ADMIN, is_active=True)
    return admins.filter(pk=user.pk).exists() and not admins.exclude(pk=user.pk).exists()
