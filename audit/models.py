from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audit.actions import Action
from audit.display import details, object_label


class AppendOnlyError(RuntimeError):
    pass


class AuditEntryQuerySet(models.QuerySet):
    """No bulk update or delete from the application: the trail is append-only."""

    def update(self, **kwargs):
        raise AppendOnlyError("audit entries cannot be changed")

    def delete(self):
        raise AppendOnlyError("audit entries cannot be deleted; the retention purge removes old ones")

    def purge_older_than(self, cutoff: datetime) -> int:
        """The one way entries leave the table: the retention purge (rights/retention.py)."""
        deleted, _ = models.QuerySet.delete(self.filter(timestamp__lt=cutoff))
        return deleted


class AuditEntry(models.Model):
    # Stored in UTC (USE_TZ); shown in the Département's time zone.
    timestamp = models.DateTimeField(_("date et heure (UTC)"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("utilisateur"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept when the account is deleted later: the trail must still say who.
    username = models.CharField(_("identifiant"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=32, choices=Action.choices, db_index=True)
    object_type = models.CharField(_("type d'objet"), max_length=64, blank=True)
    object_id = models.CharField(_("identifiant de l'objet"), max_length=64, blank=True, db_index=True)
    ip_address = models.GenericIPAddressField(_("adresse IP"), null=True, blank=True)
    # Non-personal details only (counts, file ids, a reason code): see audit.trail.
    extra = models.JSONField(_("détails"), default=dict, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("entrée du journal d'audit")
        verbose_name_plural = _("journal d'audit")
        ordering = ["-timestamp", "-id"]
        indexes = [models.Index(fields=["user", "timestamp"])]

    def __str__(self) -> str:
        when = f"{self.timestamp:%Y-%m-%d %H:%M:%S}"
        return f"{when} {self.username} {self.action} {self.object_type}#{self.object_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("audit entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit entries cannot be deleted; the retention purge removes old ones")

    def object_label(self) -> str:
        return object_label(self.object_type, self.object_id) if self.object_type or self.object_id else ""

    def details(self) -> list[tuple[str, str]]:
        return details(self.extra)
