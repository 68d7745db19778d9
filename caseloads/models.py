"""Who follows whom, what was noted and done: référents, notes, handled list lines, news read.

- `Assignment`: a beneficiary's référent (a user) and structure, with dates. The history is
  kept; at most one assignment is current (no end date), which a constraint enforces.
- `Note`: the « journal de suivi », dated and authored; purged with the person's data
  (rights/retention.py) and erased with them (a plain cascade from the beneficiary).
- `Outcome` and `Handling`: a cohort line marked « traité » for a data month, with an outcome
  from a short list the administrators keep in the admin site, and an optional note.
- `Preferences`: when the user last marked the news seen, and the weekly digest opt-in.

Every write goes through caseloads.assignments / caseloads.worklists, which also tell the
pages' cache that the caseloads changed (pages.versioned_cache.work_changed).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from beneficiaries.models import Beneficiary

# A note may be corrected by its author this long after it was written, then it is fixed.
NOTE_EDIT_WINDOW = timedelta(hours=24)
NOTE_MAX_LENGTH = 2000
HANDLING_NOTE_MAX_LENGTH = 500
STRUCTURE_MAX_LENGTH = 100


class AssignmentSource(models.TextChoices):
    APP = "app", _("fiche de la personne")
    BULK = "bulk", _("attribution groupée")
    CSV = "csv", _("import CSV du Département")


class Assignment(models.Model):
    beneficiary = models.ForeignKey(
        Beneficiary,
        verbose_name=_("bénéficiaire"),
        on_delete=models.CASCADE,
        related_name="referent_assignments",
    )
    # PROTECT: a référent's history must keep naming them; accounts are deactivated, not deleted.
    referent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("référent"),
        on_delete=models.PROTECT,
        related_name="caseload_assignments",
    )
    structure = models.CharField(_("structure"), max_length=STRUCTURE_MAX_LENGTH, blank=True)
    start_date = models.DateField(_("depuis le"))
    end_date = models.DateField(_("jusqu'au"), null=True, blank=True)
    source = models.CharField(
        _("origine"), max_length=10, choices=AssignmentSource.choices, default=AssignmentSource.APP
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("attribué par"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("enregistré le"), auto_now_add=True)
    # Part of the pages' data version (pages.versioned_cache, WORK).
    changed_at = models.DateTimeField(_("modifié le"), auto_now=True, db_index=True)

    class Meta:
        verbose_name = _("référent d'un bénéficiaire")
        verbose_name_plural = _("référents des bénéficiaires")
        ordering = ["-start_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["beneficiary"],
                condition=Q(end_date__isnull=True),
                name="caseloads_one_current_referent",
            )
        ]
        indexes = [
            # « Mes bénéficiaires » and the home page's count: a user's current caseload.
            models.Index(
                fields=["referent", "beneficiary"],
                condition=Q(end_date__isnull=True),
                name="caseloads_current_by_referent",
            )
        ]

    def __str__(self) -> str:
        return f"{self.beneficiary_id} → {self.referent_id} ({self.start_date})"

    @property
    def is_current(self) -> bool:
        return self.end_date is None


class Note(models.Model):
    """One entry of a person's « journal de suivi »."""

    beneficiary = models.ForeignKey(
        Beneficiary, verbose_name=_("bénéficiaire"), on_delete=models.CASCADE, related_name="notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("auteur"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    text = models.TextField(_("note"), max_length=NOTE_MAX_LENGTH)
    created_at = models.DateTimeField(_("écrite le"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("modifiée le"), auto_now=True)

    class Meta:
        verbose_name = _("note de suivi")
        verbose_name_plural = _("notes de suivi")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["beneficiary", "-created_at"], name="caseloads_note_person")]

    def __str__(self) -> str:
        return f"{self.beneficiary_id} {self.created_at:%Y-%m-%d}"

    def editable_by(self, user, now=None) -> bool:
        """Its author may correct it for NOTE_EDIT_WINDOW after writing it; nobody else, ever."""
        now = now or timezone.now()
        return (
            self.author_id is not None
            and self.author_id == user.pk
            and now - self.created_at < NOTE_EDIT_WINDOW
        )

    @property
    def edited(self) -> bool:
        return self.updated_at - self.created_at > timedelta(seconds=1)


class Outcome(models.Model):
    """What came of a handled list line (« contacté », « rendez-vous fixé »…): kept in the admin site."""

    label = models.CharField(_("libellé"), max_length=60, unique=True)
    position = models.PositiveSmallIntegerField(_("ordre"), default=0)
    is_active = models.BooleanField(_("proposé"), default=True)

    class Meta:
        verbose_name = _("suite donnée")
        verbose_name_plural = _("suites données (listes à traiter)")
        ordering = ["position", "label"]

    def __str__(self) -> str:
        return self.label


class Handling(models.Model):
    """A cohort line marked « traité » for a data month: it leaves that list's default view."""

    beneficiary = models.ForeignKey(
        Beneficiary, verbose_name=_("bénéficiaire"), on_delete=models.CASCADE, related_name="handlings"
    )
    cohort = models.CharField(_("liste"), max_length=40)
    # First day of the month of the newest data when it was handled (pages.cohorts.data_month).
    month = models.DateField(_("mois"))
    outcome = models.ForeignKey(Outcome, verbose_name=_("suite donnée"), on_delete=models.PROTECT)
    note = models.TextField(_("note"), max_length=HANDLING_NOTE_MAX_LENGTH, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("traité par"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    handled_at = models.DateTimeField(_("traité le"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("ligne traitée")
        verbose_name_plural = _("lignes traitées")
        ordering = ["-handled_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["cohort", "month", "beneficiary"], name="caseloads_handled_once")
        ]

    def __str__(self) -> str:
        return f"{self.cohort} {self.month:%Y-%m} {self.beneficiary_id}"


class Preferences(models.Model):
    """A user's own settings for the caseload pages."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="caseload_preferences",
    )
    news_seen_at = models.DateTimeField(_("nouveautés vues le"), null=True, blank=True)
    weekly_digest = models.BooleanField(_("résumé hebdomadaire par courriel"), default=False)
    digest_sent_at = models.DateTimeField(_("dernier résumé envoyé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("préférences de suivi")
        verbose_name_plural = _("préférences de suivi")

    def __str__(self) -> str:
        return str(self.user_id)
