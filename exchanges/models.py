"""What the PECGM import keeps: runs, rejects, snapshots, current follow-up, events, review cases.

The job-seeker columns of `JobSeekerSnapshot` and `FollowUp` are generated
from `contract.layouts.PECGM` (see `PecgmFields`): adding an element to the
layout adds it here, through a migration, without spelling it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from beneficiaries.models import Beneficiary
from contract.layouts import DESCRIPTIVE, PECGM, PERIODICITIES
from exchanges.tracked_runs import INTERRUPTED, RUNNING, TrackedRun


def pecgm_attrs() -> list[str]:
    """The PECGM detail attributes kept per record (the constant record type is not)."""
    return [attr for _path, item, attr in PECGM.detail.flat_fields() if item.constant is None]


def _pecgm_model_fields() -> dict[str, models.Field]:
    fields: dict[str, models.Field] = {}
    for path, item, attr in PECGM.detail.flat_fields():
        if item.constant is not None:
            continue
        # The element's tag, which only the convention changes: the pages, exports and the review
        # read the title users see from PECGM_TITLES when they render, so that rewording one makes
        # no migration (a title here was an AlterField per column and model).
        label = "/".join(path)
        if item.is_date:
            fields[attr] = models.DateField(label, null=True, blank=True)
        elif item.role == DESCRIPTIVE:
            # Descriptive values run longer than the table says (a 29-letter agency name,
            # labels, CEDEX lines): the reader keeps them whole, so must the columns.
            fields[attr] = models.TextField(label, blank=True)
        else:
            # The reader refuses (identifying, status) or leaves out (optional) a value
            # beyond its shape's bound; the margin only guards against a layout tweak.
            bound = max(item.length or 30, item.shape.max_length if item.shape else 0)
            fields[attr] = models.CharField(
                label, max_length=max(2 * (item.length or 30), 10, bound), blank=True
            )
    return fields


# An abstract model built from the layout: the job-seeker columns shared by
# snapshots and follow-ups.
PecgmFields = type(
    "PecgmFields",
    (models.Model,),
    {
        "__module__": __name__,
        "Meta": type("Meta", (), {"abstract": True}),
        **_pecgm_model_fields(),
    },
)

PERIODICITY_CHOICES = [(code, label) for code, label in PERIODICITIES.items()]


class ImportStatus(models.TextChoices):
    RUNNING = RUNNING, _("en cours")
    IMPORTED = "imported", _("importé")
    IMPORTED_WITH_REJECTS = "imported_with_rejects", _("importé avec rejets")
    # The file's own fault (structure, reject ratio, stock size, header): the same bytes
    # would be refused again, so the exchange automation does not retry them.
    REJECTED = "rejected", _("rejeté")
    DUPLICATE = "duplicate", _("déjà importé")
    # Not the file's fault (database connection lost, disk full, process killed): nothing
    # of it was kept, and the next attempt imports the file again.
    INTERRUPTED = INTERRUPTED, _("interrompu")


SUCCESSFUL_STATUSES = (ImportStatus.IMPORTED, ImportStatus.IMPORTED_WITH_REJECTS)


class MatchRule(models.TextChoices):
    NIR = "nir", _("NIR")
    FT_IDENTIFIER = "ft_identifier", _("identifiant France Travail")
    CAF_MSA = "caf_msa", _("n° CAF ou MSA et date de naissance")
    NAME = "name", _("nom, prénom et date de naissance")
    # An admin linked this person's earlier record in the review queue: remembered.
    CONFIRMED = "confirmed", _("rapprochement confirmé par un administrateur")
    # Cessation motive 46: France Travail gave the person a new identifier (and agency code);
    # the record carrying it goes to the person of the ceased one, with the same NIR or identity.
    SITE_CHANGE = "site_change", _("changement de site (motif 46)")


class ImportRun(TrackedRun):
    """One attempt at importing one PECGM file, whatever its outcome.

    Rejected (`error_kind` rejection): the file's own fault. Interrupted (crash): not
    the file's; nothing of it was kept.
    """

    file_name = models.CharField(_("fichier"), max_length=255)
    sha256 = models.CharField(_("empreinte SHA-256"), max_length=64, db_index=True)
    size = models.BigIntegerField(_("taille (octets)"), default=0)
    reference_date = models.DateField(_("date de référence"), null=True, blank=True)
    periodicity = models.CharField(_("périodicité"), max_length=1, choices=PERIODICITY_CHOICES, blank=True)
    # An import starts as it is recorded (TrackedRun's may be queued first).
    started_at = models.DateTimeField(_("début"), auto_now_add=True)
    status = models.CharField(
        _("statut"), max_length=25, choices=ImportStatus.choices, default=ImportStatus.RUNNING
    )

    records = models.PositiveIntegerField(_("enregistrements"), default=0)
    imported = models.PositiveIntegerField(_("importés"), default=0)
    rejected_records = models.PositiveIntegerField(_("rejetés"), default=0)
    warnings = models.PositiveIntegerField(_("avertissements"), default=0)
    matched_nir = models.PositiveIntegerField(_("rapprochés par NIR"), default=0)
    matched_ft_identifier = models.PositiveIntegerField(
        _("rapprochés par identifiant France Travail"), default=0
    )
    matched_caf_msa = models.PositiveIntegerField(_("rapprochés par n° CAF/MSA"), default=0)
    matched_name = models.PositiveIntegerField(_("rapprochés par nom"), default=0)
    matched_confirmed = models.PositiveIntegerField(_("rapprochés par une décision antérieure"), default=0)
    created = models.PositiveIntegerField(_("bénéficiaires créés"), default=0)
    review = models.PositiveIntegerField(_("à vérifier"), default=0)

    BADGES = {
        ImportStatus.RUNNING: "text-bg-info",
        ImportStatus.IMPORTED: "text-bg-success",
        ImportStatus.IMPORTED_WITH_REJECTS: "text-bg-warning",
        ImportStatus.REJECTED: "text-bg-danger",
        ImportStatus.INTERRUPTED: "text-bg-warning text-dark",
    }
    PROGRESS_URL_NAME = "import_run_progress"

    class Meta:
        verbose_name = _("import PECGM")
        verbose_name_plural = _("imports PECGM")
        ordering = ["-started_at", "-id"]
        constraints = [
            # A file is imported once; duplicate and rejected attempts are kept beside it.
            models.UniqueConstraint(
                fields=["sha256"],
                condition=models.Q(status__in=["imported", "imported_with_rejects"]),
                name="exchanges_importrun_unique_imported_sha256",
            )
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    # Not a column: set on the object returned by a dry run, which is never saved.
    dry_run = False

    @property
    def matched(self) -> int:
        return (
            self.matched_nir
            + self.matched_ft_identifier
            + self.matched_caf_msa
            + self.matched_name
            + self.matched_confirmed
        )

    @property
    def is_success(self) -> bool:
        return self.status in SUCCESSFUL_STATUSES or self.status == ImportStatus.DUPLICATE

    @property
    def progress_label(self) -> str:
        counts = {"done": self.progress_done, "total": self.progress_total}
        return _("Progression : %(done)s / %(total)s") % counts

    @property
    def progress_announcement(self) -> str:
        return _("Import : %(status)s") % {"status": self.get_status_display()}

    def error_list(self) -> list[dict]:
        """The errors of the `--json` summary: rejected records, or the reason the file was refused."""
        errors = getattr(self, "_pending_errors", None)
        if errors is None:
            errors = [
                {"record": reject.record_number, "field": reject.field, "message": reject.message}
                for reject in self.rejects.filter(level=RejectLevel.ERROR).order_by("id")
            ]
        return errors

    def warning_groups(self, rows_per_group: int, max_groups: int) -> list[WarningGroup]:
        """The run's warnings by field and message, the most frequent first, each with its first rows.

        The reader words every warning of one field and kind alike (the length found is in
        the value), so that « 38 × LIBELLE_MOTIF_RADIATION plus long que 20 caractères »
        stands for 38 rows. Two queries for the groups' counts and one per group shown.
        """
        warnings = self.rejects.filter(level=RejectLevel.WARNING)
        counted = (
            warnings.values("field", "message")
            .annotate(count=models.Count("id"))
            .order_by("-count", "field", "message")[:max_groups]
        )
        return [
            WarningGroup(
                field=group["field"],
                message=group["message"],
                count=group["count"],
                rows=list(
                    warnings.filter(field=group["field"], message=group["message"]).order_by("id")[
                        :rows_per_group
                    ]
                ),
            )
            for group in counted
        ]

    def summary(self) -> dict:
        """Exactly the JSON printed by `import_pecgm --json`."""
        return {
            "status": str(self.status),
            "reference_date": self.reference_date.isoformat() if self.reference_date else None,
            "records": self.records,
            "imported": self.imported,
            "rejected_records": self.rejected_records,
            "matched": self.matched,
            "created": self.created,
            "review": self.review,
            "errors": self.error_list(),
        }


@dataclass
class WarningGroup:
    """Warnings of one field and kind (ImportRun.warning_groups)."""

    field: str
    message: str
    count: int
    rows: list[ImportReject]

    @property
    def truncated(self) -> bool:
        return self.count > len(self.rows)


class RejectLevel(models.TextChoices):
    ERROR = "error", _("rejet")
    WARNING = "warning", _("avertissement")


class ImportReject(models.Model):
    """A rejected record (or a refused file: no record number), or a warning on a kept one."""

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="rejects")
    level = models.CharField(
        _("niveau"), max_length=10, choices=RejectLevel.choices, default=RejectLevel.ERROR
    )
    record_number = models.PositiveIntegerField(_("enregistrement n°"), null=True, blank=True)
    field = models.CharField(_("champ"), max_length=100, blank=True)
    value = models.TextField(_("valeur"), blank=True)
    message = models.TextField(_("motif"))

    class Meta:
        verbose_name = _("rejet")
        verbose_name_plural = _("rejets")
        ordering = ["run", "id"]
        indexes = [models.Index(fields=["run", "level"])]

    def __str__(self) -> str:
        return f"{self.record_number or '-'} {self.field}: {self.message}"


class JobSeekerSnapshot(PecgmFields):
    """One PECGM record as received: the dated history of a beneficiary's job-seeker data.

    `beneficiary` is empty while the record waits in the review queue.
    """

    # Indexed by the (beneficiary, -reference_date) index below: a second index would only slow imports.
    # No database constraint on the two references of this history table: an import
    # writes a whole file of it at once and takes both ids from its own transaction
    # (the run it created, people matched or created), while PostgreSQL's per-row
    # checks at commit took a seventh of the import. Deletions still cascade
    # (Django does it), and tests check the references after every kind of import.
    beneficiary = models.ForeignKey(
        Beneficiary,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="snapshots",
        db_index=False,
        db_constraint=False,
    )
    run = models.ForeignKey(
        ImportRun, on_delete=models.CASCADE, related_name="snapshots", db_constraint=False
    )
    record_number = models.PositiveIntegerField(_("enregistrement n°"))
    reference_date = models.DateField(_("date de référence"))
    periodicity = models.CharField(_("périodicité"), max_length=1, choices=PERIODICITY_CHOICES)
    match_rule = models.CharField(_("rapproché par"), max_length=20, choices=MatchRule.choices, blank=True)

    class Meta:
        verbose_name = _("situation France Travail reçue")
        verbose_name_plural = _("situations France Travail reçues")
        ordering = ["-reference_date", "-id"]
        indexes = [models.Index(fields=["beneficiary", "-reference_date"])]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.record_number}"


class FollowUpStatus(models.TextChoices):
    # The values are the `statut_pe` of the export.
    REGISTERED = "inscrit", _("inscrit")
    CEASED = "cessation", _("cessation d'inscription")
    STRUCK_OFF = "radie", _("radié")
    NOT_REGISTERED = "non_inscrit", _("non inscrit")
    UNKNOWN = "inconnu", _("inconnu")


class FollowUp(PecgmFields):
    """A beneficiary's current job-seeker situation, derived by `exchanges.followup`.

    It comes from their newest record: the newest monthly stock, or a newer
    flux. The beneficiary is the primary key so that an import may replace
    the row whole.
    """

    # No database constraint, as for the snapshots (see JobSeekerSnapshot): every
    # follow-up is rewritten each month, and its per-row check at commit is paid
    # on each of them. The import writes it for a person it has just matched or created.
    beneficiary = models.OneToOneField(
        Beneficiary, primary_key=True, on_delete=models.CASCADE, related_name="followup", db_constraint=False
    )
    # Not indexed alone: the (status, category) and (status, last contact) indexes
    # below serve it, and every index is paid for on each of the month's rows.
    status = models.CharField(
        _("situation France Travail"),
        max_length=20,
        choices=FollowUpStatus.choices,
        default=FollowUpStatus.UNKNOWN,
    )
    reference_date = models.DateField(_("données France Travail au"), null=True, blank=True, db_index=True)
    periodicity = models.CharField(_("périodicité"), max_length=1, choices=PERIODICITY_CHOICES, blank=True)
    # Not indexed: looked up only when a snapshot is deleted, never while importing.
    # No database constraint either, as for the snapshots' own references (Django
    # still sets it to NULL when a snapshot is deleted).
    source_snapshot = models.ForeignKey(
        JobSeekerSnapshot,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    absent_from_last_stock = models.BooleanField(_("absent du dernier fichier"), default=False, db_index=True)
    # Change-based history (docs/import-pecgm.md, « Ce qui est gardé ») : a monthly stock whose
    # record repeats this follow-up's values writes no snapshot. The digest says « same values »
    # without reading them (exchanges.followup.values_digest); `source_snapshot` stays the record
    # that set them, and the newest file that confirmed them is kept here, the run and record.
    values_digest = models.CharField(max_length=32, blank=True, editable=False)
    confirmed_run = models.ForeignKey(
        ImportRun,
        verbose_name=_("confirmé par le fichier"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    confirmed_record_number = models.PositiveIntegerField(_("enregistrement n°"), null=True, blank=True)
    has_unknown_codes = models.BooleanField(_("codes inconnus"), default=False)
    # « Reçu, illisible » : the reference date of the newest file whose record naming this
    # person (by NIR or France Travail identifier) was refused. They keep their last situation
    # and do not count as absent from that stock (exchanges.pecgm_stock.mark_unreadable).
    unreadable_on = models.DateField(_("reçu illisible (fichier du)"), null=True, blank=True)
    updated_at = models.DateTimeField(_("mis à jour le"), auto_now=True)

    class Meta:
        verbose_name = _("suivi France Travail")
        verbose_name_plural = _("suivis France Travail")
        # No index on (institution code, identifier): nothing looks the pair up (the import
        # matches identifiers alone, by the index below); it had no scan on the bench database
        # after 25 monthly imports and was rewritten with every one of them.
        indexes = [
            # The caseworker pages (see docs/performance.md, "Pages"): the search box looks
            # identifiers up alone; lists and cohorts filter on status with category or last contact.
            models.Index(fields=["ft_identifier"], name="exchanges_followup_ft_id"),
            models.Index(fields=["status", "category"], name="exchanges_followup_status_cat"),
            models.Index(fields=["status", "last_contact_date"], name="exchanges_followup_st_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.beneficiary_id}: {self.status}"


class EventKind(models.TextChoices):
    NEW_REGISTRATION = "new_registration", _("nouvelle inscription")
    CESSATION = "cessation", _("cessation d'inscription")
    RADIATION = "radiation", _("radiation")
    LEFT_STOCK = "left_stock", _("sortie du fichier")
    RETURNED = "returned", _("retour dans le fichier")
    STRUCTURE_CHANGE = "structure_change", _("changement de structure de suivi")
    CATEGORY_CHANGE = "category_change", _("changement de catégorie")
    # A PPAE signature date the person's previous situation did not have (exchanges.followup).
    PPAE_SIGNED = "ppae_signed", _("PPAE signé")


class StatusEvent(models.Model):
    """A transition seen between a beneficiary's previous and new situation, for cohorts and alerts."""

    beneficiary = models.ForeignKey(Beneficiary, on_delete=models.CASCADE, related_name="status_events")
    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="events")
    date = models.DateField(_("date"))
    kind = models.CharField(_("évènement"), max_length=20, choices=EventKind.choices)
    # A motive code as France Travail sent it: any length (layouts: descriptive).
    motive = models.TextField(_("motif"), blank=True)
    motive_label = models.TextField(_("libellé du motif"), blank=True)
    previous_value = models.TextField(_("avant"), blank=True)
    new_value = models.TextField(_("après"), blank=True)

    class Meta:
        verbose_name = _("évènement France Travail")
        verbose_name_plural = _("évènements France Travail")
        ordering = ["-date", "-id"]
        indexes = [models.Index(fields=["kind", "date"]), models.Index(fields=["beneficiary", "-date"])]

    def __str__(self) -> str:
        return f"{self.beneficiary_id} {self.kind} {self.date}"


class ReviewReason(models.TextChoices):
    NIR_CONFLICT = "nir_conflict", _("NIR connu avec une autre date de naissance")
    SEVERAL_CANDIDATES = "several_candidates", _("plusieurs bénéficiaires possibles")
    IDENTIFIER_MISMATCH = "identifier_mismatch", _("rapprochement contredit par un autre identifiant")
    CREATED_FROM_FT = "created_from_ft", _("connu seulement de France Travail")


class ReviewStatus(models.TextChoices):
    OPEN = "open", _("à traiter")
    LINKED = "linked", _("rattaché à un bénéficiaire")
    CREATED = "created", _("bénéficiaire créé ou confirmé")
    DISMISSED = "dismissed", _("écarté")


class ReviewCase(models.Model):
    """A record that was not linked with certainty: an admin links, creates or dismisses it."""

    run = models.ForeignKey(
        ImportRun, null=True, blank=True, on_delete=models.CASCADE, related_name="reviews"
    )
    snapshot = models.ForeignKey(
        JobSeekerSnapshot, null=True, blank=True, on_delete=models.CASCADE, related_name="reviews"
    )
    record_number = models.PositiveIntegerField(_("enregistrement n°"), null=True, blank=True)
    # The identity as received (names, birth date, identifiers), for display and for other importers.
    values = models.JSONField(_("données reçues"), default=dict, blank=True)
    reason = models.CharField(_("motif"), max_length=30, choices=ReviewReason.choices)
    candidates = models.ManyToManyField(Beneficiary, blank=True, related_name="+")
    # The beneficiary created from France Travail's record (reason created_from_ft).
    beneficiary = models.ForeignKey(
        Beneficiary, null=True, blank=True, on_delete=models.SET_NULL, related_name="review_cases"
    )
    status = models.CharField(
        _("état"), max_length=20, choices=ReviewStatus.choices, default=ReviewStatus.OPEN, db_index=True
    )
    created_at = models.DateTimeField(_("ouvert le"), auto_now_add=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(_("traité le"), null=True, blank=True)
    resolution_note = models.TextField(_("motif de la décision"), blank=True)

    class Meta:
        verbose_name = _("rapprochement à vérifier")
        verbose_name_plural = _("rapprochements à vérifier")
        ordering = ["-created_at", "-id"]
        # The pages' data version reads the last resolution every few seconds
        # (pages.versioned_cache): without it, a scan of every case ever
        # opened, and each monthly import opens a thousand or more.
        indexes = [models.Index(fields=["resolved_at"], name="exchanges_review_resolved_idx")]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} ({self.get_status_display()})"

    @property
    def received_birth_date(self) -> date | None:
        """The birth date France Travail sent (stored as ISO text with the other values)."""
        try:
            return date.fromisoformat(self.values.get("birth_date") or "")
        except ValueError:
            return None


# --- Exchange runs (exchange automation) -------------------------------------------
# Defined in exchanges/runs.py, with the lock that goes with them.
from exchanges.runs import ExchangeRun, WorkerSeen  # noqa: E402, F401
