"""The data subject's rights (RGPD art. 16 to 18): restriction and rectification records.

The audit trail says who did what and when, by record id only (audit.trail): the values a
rectification replaced are personal data, kept here, with the person, and erased with them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from beneficiaries.models import Beneficiary


class Restriction(models.Model):
    """« Traitement limité » (RGPD art. 18): kept, shown to admins only, sent and listed nowhere."""

    beneficiary = models.OneToOneField(
        Beneficiary, primary_key=True, on_delete=models.CASCADE, related_name="restriction"
    )
    reason = models.CharField(_("motif"), max_length=200)
    created_at = models.DateTimeField(_("depuis le"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("limitation du traitement")
        verbose_name_plural = _("limitations du traitement")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.beneficiary_id} ({self.created_at:%d/%m/%Y})"


class IdentityCorrection(models.Model):
    """One field of a person's identity rectified by an admin: from what, to what, why."""

    beneficiary = models.ForeignKey(
        Beneficiary, on_delete=models.CASCADE, related_name="identity_corrections"
    )
    field = models.CharField(_("champ"), max_length=40)
    old_value = models.TextField(_("ancienne valeur"), blank=True)
    new_value = models.TextField(_("nouvelle valeur"), blank=True)
    reason = models.CharField(_("motif"), max_length=200)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("rectifiée par"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("rectifiée le"), auto_now_add=True)

    class Meta:
        verbose_name = _("rectification d'identité")
        verbose_name_plural = _("rectifications d'identité")
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.beneficiary_id} {self.field} ({self.changed_at:%d/%m/%Y})"

    @property
    def field_label(self) -> str:
        try:
            return str(Beneficiary._meta.get_field(self.field).verbose_name)
        except LookupError:
            return self.field


class DestructionCertificate(models.Model):
    """The certificate of the end-of-convention destruction (rights.end_convention), as written.

    No personal data: counts per table, file names with their SHA-256, when, by whom (the
    agent's account), the command's version. Never changed; its SHA-256 is in the audit trail.
    """

    content = models.TextField(_("certificat (JSON)"))
    sha256 = models.CharField(_("empreinte SHA-256"), max_length=64)
    created_at = models.DateTimeField(_("établi le"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("certificat de destruction")
        verbose_name_plural = _("certificats de destruction")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.created_at:%d/%m/%Y} {self.sha256[:12]}"
