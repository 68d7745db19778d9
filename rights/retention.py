"""Destruction of data no longer needed (convention art. 6, RGPD art. 5-1-e).

`purge(apply=False)` computes, and with `apply=True` carries out, each purge:

- raw exchange files (EXCHANGE_FILES_DIR) older than RETENTION_RAW_FILES_DAYS:
  deleted (what they held is in the database);
- the CGPEM files the Département sent (its record of what it transmitted, kept
  unchanged by an erasure) older than RETENTION_CGPEM_ARCHIVE_MONTHS: deleted (the
  CgpemExport row keeps their name, counts and SHA-256);
- import rejects of runs older than RETENTION_REJECTS_MONTHS: deleted (they
  copy the refused values); the run keeps its counts;
- identities copied into review cases resolved more than
  RETENTION_REJECTS_MONTHS ago: emptied (the case and its decision stay);
- records received from France Travail that were never linked to a
  beneficiary (their review case dismissed) after RETENTION_REJECTS_MONTHS:
  deleted (the case stays, without them);
- review cases still open, unlinked, after RETENTION_OPEN_REVIEWS_MONTHS:
  closed as dismissed (nobody decided in time), and their identity and record
  deleted at once;
- beneficiaries with no RSA activity for RETENTION_INACTIVE_MONTHS: their
  identity is ANONYMISED, not deleted, so that statistics keep their count
  (orientation decisions, status events, commune, RSA start date, birth year
  stay; NIR, names, exact birth date, CAF/MSA numbers, received France
  Travail records, review cases, notes of the journal de suivi and handled
  list lines go). Activity means: created or changed by
  an import, present in a PECGM file, or an orientation decision;
- France Travail history of people still active: records (snapshots) whose reference
  date is older than RETENTION_FT_HISTORY_MONTHS are deleted; what they meant stays in the
  status events their imports produced (registrations, cessations, radiations, changes of
  structure or category, PPAE signed), in the follow-up's current values, and in the import
  runs' counts.
  A record that is still someone's current situation (FollowUp.source_snapshot) stays;
- audit entries and login records older than AUDIT_RETENTION_MONTHS: deleted.

Each applied purge writes one audit entry (counts only).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone

import audit
from audit.models import AuditEntry
from beneficiaries.models import ANONYMOUS_NAME, Beneficiary
from orientations.cgpem import archive_dir


@dataclass
class PurgeItem:
    category: str
    label: str
    cutoff: str
    count: int


def months_ago(now: datetime, months: int) -> datetime:
    # Good enough for retention periods: a month is 30.44 days on average.
    return now - timedelta(days=round(months * 30.44))


def _model(label: str):
    try:
        return apps.get_model(label)
    except LookupError:
        return None


# --- Raw exchange files -----------------------------------------------------------


def cgpem_archive() -> Path:
    return archive_dir()


def _files_older(root: Path, cutoff: datetime, *, skip: Path | None = None) -> list[Path]:
    if not root.is_dir():
        return []
    limit = cutoff.timestamp()
    found = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        if skip is not None:
            dirs[:] = [name for name in dirs if Path(folder, name) != skip]
        for name in files:
            path = Path(folder) / name
            if not path.is_symlink() and path.is_file() and path.stat().st_mtime < limit:
                found.append(path)
    return sorted(found)


def old_raw_files(cutoff: datetime) -> list[Path]:
    """Files received or under way, the CGPEM archive aside (it has its own period)."""
    return _files_older(Path(settings.EXCHANGE_FILES_DIR), cutoff, skip=cgpem_archive())


def old_cgpem_archives(cutoff: datetime) -> list[Path]:
    return _files_older(cgpem_archive(), cutoff)


# --- Import rejects -----------------------------------------------------------------


def old_rejects(cutoff: datetime) -> QuerySet | None:
    model = _model("exchanges.ImportReject")
    if model is None:
        return None
    return model.objects.filter(run__started_at__lt=cutoff)


def old_resolved_reviews(cutoff: datetime) -> QuerySet | None:
    model = _model("exchanges.ReviewCase")
    if model is None:
        return None
    return model.objects.exclude(status="open").filter(resolved_at__lt=cutoff).exclude(values={})


def unlinked_snapshots(cutoff: datetime) -> QuerySet | None:
    """Records never linked to a beneficiary, whose review cases were all closed before `cutoff`.

    Such a record holds an identity (NIR, names, birth date, CAF number) that
    the Département never took on: once the case is decided, it is kept as
    long as the rejects, not for ever.
    """
    model = _model("exchanges.JobSeekerSnapshot")
    if model is None:
        return None
    reviews = _model("exchanges.ReviewCase").objects.filter(snapshot_id=OuterRef("pk"))
    pending = reviews.filter(Q(status="open") | Q(resolved_at__gte=cutoff))
    return model.objects.filter(beneficiary__isnull=True, run__started_at__lt=cutoff).exclude(Exists(pending))


def stale_open_reviews(cutoff: datetime) -> QuerySet | None:
    """Review cases opened before `cutoff`, still open and linked to nobody."""
    model = _model("exchanges.ReviewCase")
    if model is None:
        return None
    return model.objects.filter(status="open", beneficiary__isnull=True, created_at__lt=cutoff)


def delete_unlinked_snapshots(snapshots: QuerySet) -> None:
    """Delete the records, keeping the review cases that point at them (and their decision)."""
    ids = list(snapshots.values_list("pk", flat=True))
    reviews = _model("exchanges.ReviewCase")
    with transaction.atomic():
        # ReviewCase.snapshot cascades: detach first, or the cases would go with the records.
        reviews.objects.filter(snapshot_id__in=ids).update(snapshot=None)
        snapshots.model.objects.filter(pk__in=ids, beneficiary__isnull=True).delete()


def close_stale_reviews(cases: QuerySet, months: int, now: datetime) -> None:
    snapshots = _model("exchanges.JobSeekerSnapshot").objects.filter(
        pk__in=list(cases.exclude(snapshot=None).values_list("snapshot_id", flat=True)),
        beneficiary__isnull=True,
    )
    with transaction.atomic():
        cases.update(
            status="dismissed",
            resolved_at=now,
            resolved_by=None,
            values={},
            resolution_note=(
                f"Clos automatiquement : resté sans décision plus de {months} mois "
                "(durée de conservation), identité reçue effacée."
            ),
        )
        delete_unlinked_snapshots(snapshots)


# --- France Travail history ---------------------------------------------------------

HISTORY_BATCH = 5000


def old_history(cutoff_day: date) -> QuerySet | None:
    """Linked records older than `cutoff_day` that are nobody's current situation, nor in force at it.

    The history stores changes (docs/import-pecgm.md): a person's newest record before
    `cutoff_day` still gives their values for the months after it, until their next
    record, and those months are kept. Only the records a later one of the same person,
    also older than `cutoff_day`, replaced are deleted.
    """
    model = _model("exchanges.JobSeekerSnapshot")
    if model is None:
        return None
    # NOT EXISTS, not NOT IN: PostgreSQL hashes a NOT IN subquery only while it fits in
    # work_mem; past that (some 300 000 follow-ups) it reruns it for every record, and the
    # purge of 150 000 people × 60 months did not end in 30 minutes. NOT EXISTS is an anti-join.
    current = _model("exchanges.FollowUp").objects.filter(source_snapshot_id=OuterRef("pk"))
    replaced = model.objects.filter(
        beneficiary_id=OuterRef("beneficiary_id"),
        reference_date__lt=cutoff_day,
        reference_date__gt=OuterRef("reference_date"),
    )
    return (
        model.objects.filter(beneficiary__isnull=False, reference_date__lt=cutoff_day)
        .filter(Exists(replaced))
        .exclude(Exists(current))
    )


def delete_history(snapshots: QuerySet) -> None:
    """Delete in batches; review cases pointing at a record keep their decision, without it."""
    reviews = _model("exchanges.ReviewCase")
    while ids := list(snapshots.values_list("pk", flat=True)[:HISTORY_BATCH]):
        with transaction.atomic():
            reviews.objects.filter(snapshot_id__in=ids).update(snapshot=None)
            snapshots.model.objects.filter(pk__in=ids).delete()


# --- Inactive beneficiaries -----------------------------------------------------------


def inactive_beneficiaries(cutoff: datetime) -> QuerySet[Beneficiary]:
    cutoff_day = cutoff.date()
    people = Beneficiary.objects.exclude(birth_name=ANONYMOUS_NAME, nir="").filter(
        created_at__lt=cutoff, updated_at__lt=cutoff
    )
    if _model("exchanges.JobSeekerSnapshot") is not None:
        people = people.annotate(last_file=Max("snapshots__reference_date")).filter(
            Q(last_file__isnull=True) | Q(last_file__lt=cutoff_day)
        )
        # A stock that repeats someone's values stores no record (change-based history): the
        # follow-up's date is that of the newest file that sent them.
        people = people.exclude(followup__reference_date__gte=cutoff_day)
    decisions = _model("orientations.OrientationDecision")
    if decisions is not None:
        recent = decisions.objects.filter(Q(decision_date__gte=cutoff_day) | Q(recorded_at__gte=cutoff))
        people = people.exclude(Exists(recent.filter(beneficiary_id=OuterRef("pk"))))
    return people


def anonymise(beneficiary: Beneficiary) -> None:
    """Keep what statistics need, drop what identifies the person."""
    # The notes of the « journal de suivi » and of handled list lines are free text about the
    # person: they go with the identity.
    for label in (
        "exchanges.JobSeekerSnapshot",
        "exchanges.FollowUp",
        "caseloads.Note",
        "caseloads.Handling",
    ):
        model = _model(label)
        if model is not None:
            model.objects.filter(beneficiary=beneficiary).delete()
    reviews = _model("exchanges.ReviewCase")
    if reviews is not None:
        reviews.objects.filter(beneficiary=beneficiary).delete()
    beneficiary.nir = ""
    beneficiary.birth_name = ANONYMOUS_NAME
    beneficiary.usage_name = ""
    beneficiary.first_name = "-"
    beneficiary.birth_date = date(beneficiary.birth_date.year, 1, 1)
    beneficiary.caf_number = ""
    beneficiary.msa_number = ""
    beneficiary.save()


# --- Together ------------------------------------------------------------------------------


def purge(*, apply: bool = False, now: datetime | None = None) -> list[PurgeItem]:
    now = now or timezone.now()
    items: list[PurgeItem] = []

    def done(category: str, label: str, cutoff: datetime, count: int) -> None:
        items.append(PurgeItem(category, label, cutoff.isoformat(timespec="seconds"), count))
        if apply:
            audit.log(
                None, audit.Action.PURGE, object_type=category, count=count, cutoff=cutoff.date().isoformat()
            )

    def files_done(category: str, label: str, cutoff: datetime, files: list[Path]) -> None:
        if apply:
            for path in files:
                path.unlink(missing_ok=True)
        done(category, label, cutoff, len(files))

    cutoff = now - timedelta(days=settings.RETENTION_RAW_FILES_DAYS)
    files_done("raw_files", "fichiers d'échange bruts", cutoff, old_raw_files(cutoff))

    cutoff = months_ago(now, settings.RETENTION_CGPEM_ARCHIVE_MONTHS)
    files_done("cgpem_archives", "fichiers CGPEM transmis (archive)", cutoff, old_cgpem_archives(cutoff))

    cutoff = months_ago(now, settings.RETENTION_REJECTS_MONTHS)
    rejects = old_rejects(cutoff)
    if rejects is not None:
        count = rejects.count()
        if apply:
            rejects.delete()
        done("import_rejects", "rejets d'import", cutoff, count)
    reviews = old_resolved_reviews(cutoff)
    if reviews is not None:
        count = reviews.count()
        if apply:
            reviews.update(values={})
        done("review_identities", "identités reçues des rapprochements traités", cutoff, count)
    snapshots = unlinked_snapshots(cutoff)
    if snapshots is not None:
        count = snapshots.count()
        if apply:
            delete_unlinked_snapshots(snapshots)
        done(
            "unlinked_snapshots", "situations reçues jamais rattachées (rapprochement écarté)", cutoff, count
        )

    months = settings.RETENTION_OPEN_REVIEWS_MONTHS
    cutoff = months_ago(now, months)
    stale = stale_open_reviews(cutoff)
    if stale is not None:
        count = stale.count()
        if apply:
            close_stale_reviews(stale, months, now)
        done("stale_open_reviews", "rapprochements restés sans décision, clos et effacés", cutoff, count)

    cutoff = months_ago(now, settings.RETENTION_INACTIVE_MONTHS)
    people = list(inactive_beneficiaries(cutoff))
    if apply:
        with transaction.atomic():
            for beneficiary in people:
                anonymise(beneficiary)
    done("inactive_beneficiaries", "bénéficiaires sans activité RSA anonymisés", cutoff, len(people))

    cutoff = months_ago(now, settings.RETENTION_FT_HISTORY_MONTHS)
    history = old_history(cutoff.date())
    if history is not None:
        count = history.count()
        if apply:
            delete_history(history)
        done(
            "ft_history",
            "historique France Travail ancien (situations reçues ; les évènements restent)",
            cutoff,
            count,
        )

    cutoff = months_ago(now, settings.AUDIT_RETENTION_MONTHS)
    login_records = 0
    for label in ("axes.AccessLog", "axes.AccessAttempt", "axes.AccessFailureLog"):
        model = _model(label)
        if model is not None:
            old = model.objects.filter(attempt_time__lt=cutoff)
            login_records += old.count()
            if apply:
                old.delete()
    old_entries = AuditEntry.objects.filter(timestamp__lt=cutoff)
    count = old_entries.count()
    if apply:
        AuditEntry.objects.purge_older_than(cutoff)
    done("audit_entries", "entrées du journal d'audit et traces de connexion", cutoff, count + login_records)
    return items


def report(items: list[PurgeItem], *, applied: bool) -> dict:
    return {"applied": applied, "items": [asdict(item) for item in items]}
