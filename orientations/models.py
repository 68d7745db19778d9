"""Orientation decisions, the referent bodies they send people to, and the CGPEM files sent.

A beneficiary's decisions form a timeline: each is in force from its decision
date until the next one's (`ended_on`), so that two decisions never overlap.
`orientations.decisions` keeps that timeline threaded; nothing else writes it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from beneficiaries.models import Beneficiary
from contract.layouts import CGPEM, ORIENTATION_NATURES, PERIODICITIES
from orientations.validators import (
    REFERENT_BODY_MAX,
    clean_phone,
    referent_body_text,
    validate_latin1,
    validate_name,
    validate_phone,
    validate_referent_body,
)

# Labels come from the convention's code lists (annexe 4), already in French.
NATURE_CHOICES = [(code, f"{code} — {label}") for code, label in ORIENTATION_NATURES.items()]
PERIODICITY_CHOICES = [(code, f"{code} — {label}") for code, label in PERIODICITIES.items()]


def _length(tag: str) -> int:
    return CGPEM.detail.field(tag).length


class ReferentBody(models.Model):
    """An organisme référent. Never deleted once a decision names it: deactivated instead."""

    name = models.CharField(_("nom"), max_length=REFERENT_BODY_MAX, validators=[validate_latin1])
    address = models.CharField(
        _("adresse"), max_length=REFERENT_BODY_MAX, blank=True, validators=[validate_latin1]
    )
    is_active = models.BooleanField(_("actif"), default=True)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)

    class Meta:
        verbose_name = _("organisme référent")
        verbose_name_plural = _("organismes référents")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def file_text(self) -> str:
        return referent_body_text(self.name, self.address)

    def clean(self) -> None:
        super().clean()
        try:
            validate_referent_body(self.name or "", self.address or "")
        except ValidationError as exc:
            raise ValidationError({"address": exc.messages}) from None


class Correspondent(models.Model):
    referent_body = models.ForeignKey(
        ReferentBody,
        verbose_name=_("organisme référent"),
        on_delete=models.PROTECT,
        related_name="correspondents",
    )
    last_name = models.CharField(
        _("nom"), max_length=_length("NOM_CORRESPONDANT"), validators=[validate_name]
    )
    first_name = models.CharField(
        _("prénom"), max_length=_length("PRENOM_CORRESPONDANT"), validators=[validate_name]
    )
    phone = models.CharField(_("téléphone"), max_length=20, blank=True, validators=[validate_phone])
    email = models.CharField(
        _("courriel"),
        max_length=_length("EMAIL_CORRESPONDANT"),
        blank=True,
        validators=[EmailValidator(message=_("Saisissez une adresse électronique valide.")), validate_latin1],
    )
    service = models.CharField(
        _("service"), max_length=_length("SERVICE_CORRESPONDANT"), blank=True, validators=[validate_latin1]
    )
    is_active = models.BooleanField(_("actif"), default=True)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)

    class Meta:
        verbose_name = _("correspondant")
        verbose_name_plural = _("correspondants")
        ordering = ["last_name", "first_name", "id"]

    def __str__(self) -> str:
        return f"{self.last_name.upper()} {self.first_name}"

    def save(self, *args, **kwargs):
        self.phone = clean_phone(self.phone)
        super().save(*args, **kwargs)


class OrientationDecision(models.Model):
    beneficiary = models.ForeignKey(
        Beneficiary,
        verbose_name=_("bénéficiaire"),
        on_delete=models.PROTECT,
        related_name="orientation_decisions",
    )
    nature = models.CharField(_("nature de l'accompagnement"), max_length=2, choices=NATURE_CHOICES)
    decision_date = models.DateField(_("date de la décision"))
    referent_body = models.ForeignKey(
        ReferentBody, verbose_name=_("organisme référent"), on_delete=models.PROTECT, related_name="decisions"
    )
    correspondent = models.ForeignKey(
        Correspondent,
        verbose_name=_("correspondant"),
        on_delete=models.PROTECT,
        related_name="decisions",
        null=True,
        blank=True,
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("enregistrée par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("enregistrée le"), auto_now_add=True)
    # Last time the content sent to France Travail changed (recording or
    # correction): what the daily and weekly flux select on.
    changed_at = models.DateTimeField(_("modifiée le"))
    # The timeline: in force from decision_date until ended_on (the next
    # decision's date, exclusive), None for the current decision.
    ended_on = models.DateField(_("fin de validité"), null=True, blank=True, editable=False)
    # "app" (recorded on a page), "import" (import_orientations)
    source = models.CharField(_("origine"), max_length=20, default="app", editable=False)

    class Meta:
        verbose_name = _("décision d'orientation")
        verbose_name_plural = _("décisions d'orientation")
        ordering = ["beneficiary", "-decision_date", "-id"]
        constraints = [
            # A day holds one decision per person: a second one is a correction.
            models.UniqueConstraint(fields=["beneficiary", "decision_date"], name="one_decision_per_day"),
            models.UniqueConstraint(
                fields=["beneficiary"], condition=models.Q(ended_on__isnull=True), name="one_current_decision"
            ),
        ]
        indexes = [models.Index(fields=["changed_at"]), models.Index(fields=["decision_date", "ended_on"])]

    def __str__(self) -> str:
        return f"{self.get_nature_display()} ({self.decision_date:%d/%m/%Y})"

    @property
    def is_current(self) -> bool:
        return self.ended_on is None

    @property
    def last_export(self) -> CgpemExport | None:
        """The last CGPEM file that carried the decision (select_related("carried__export"))."""
        try:
            return self.carried.export
        except CarriedDecision.DoesNotExist:
            return None

    @property
    def referent_body_label(self) -> str:
        return self.referent_body.file_text


class OrientationChange(models.Model):
    """One corrected field of a decision: who, when, from what to what."""

    decision = models.ForeignKey(OrientationDecision, on_delete=models.CASCADE, related_name="changes")
    field = models.CharField(_("champ"), max_length=40)
    old_value = models.TextField(_("ancienne valeur"), blank=True)
    new_value = models.TextField(_("nouvelle valeur"), blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("modifiée par"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("modifiée le"), auto_now_add=True)
    reason = models.CharField(_("motif"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("correction de décision")
        verbose_name_plural = _("corrections de décisions")
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.field} ({self.changed_at:%d/%m/%Y %H:%M})"

    @property
    def field_label(self) -> str:
        try:
            return str(OrientationDecision._meta.get_field(self.field).verbose_name)
        except LookupError:
            return self.field


class CgpemExport(models.Model):
    """One generated CGPEM file, archived under EXCHANGE_FILES_DIR/cgpem."""

    file_name = models.CharField(_("fichier"), max_length=60)
    path = models.CharField(_("chemin"), max_length=500)
    sha256 = models.CharField(_("empreinte SHA-256"), max_length=64)
    periodicity = models.CharField(_("périodicité"), max_length=1, choices=PERIODICITY_CHOICES)
    period_start = models.DateField(_("début de période"))
    period_end = models.DateField(_("fin de période"))
    records = models.PositiveIntegerField(_("décisions transmises"), default=0)
    # [{"decision": id, "beneficiary": id, "reasons": ["…"]}]
    excluded = models.JSONField(_("décisions écartées"), default=list, blank=True)
    # [{"decision": id, "field": "PRENOM", "replaced": {"Ł": "L"}}]
    transliterations = models.JSONField(_("translittérations"), default=list, blank=True)
    # [{"decision": id, "field": "SERVICE_CORRESPONDANT", "message": "…"}]
    warnings = models.JSONField(_("avertissements"), default=list, blank=True)
    created_by = models.CharField(_("lancé par"), max_length=30, default="command")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("utilisateur"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    # Set by the exchange automation once France Travail's server accepted the file.
    deposited_at = models.DateTimeField(_("déposé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("fichier CGPEM")
        verbose_name_plural = _("fichiers CGPEM")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.file_name


class CarriedDecision(models.Model):
    """The last CGPEM file that carried a decision: what the person's pages show as its
    transmission (orientations.transmission); orientations.cgpem sets it.

    A table of its own, not a column of OrientationDecision: the monthly stock carries every
    decision in force, so each export rewrites one row per decision. Here a row is two ids
    with one index, instead of a wide row whose every new version goes into nine indexes
    (3/4 of a 150 000-decision export's time, docs/performance.md "CGPEM").
    """

    decision = models.OneToOneField(
        OrientationDecision, on_delete=models.CASCADE, primary_key=True, related_name="carried"
    )
    # No index: it would be rewritten at every export; only deleting an export (never done by
    # the application) looks rows up by it.
    export = models.ForeignKey(
        CgpemExport,
        verbose_name=_("dernier fichier CGPEM"),
        on_delete=models.CASCADE,
        db_index=False,
        related_name="+",
    )

    class Meta:
        verbose_name = _("dernier fichier CGPEM d'une décision")
        verbose_name_plural = _("derniers fichiers CGPEM des décisions")

    def __str__(self) -> str:
        return f"{self.decision_id} → {self.export_id}"
