"""Erasing a person (RGPD art. 17): what goes, what stays and why.

`plan(people, unlinked)` says it without changing anything (the dry run); `erase(...)`
does it, in one transaction, and writes one audit entry per person (counts only).

Removed: every row that points at the person — history received from France Travail
(snapshots, follow-up, events), review cases, identity corrections, restriction, and
whatever other parts add later (a caseworker's notes, a référent's assignment: found
through the model relations, as the access export finds them, so a new table is erased
the day it is added) — and the person's identity; records and review cases received with
the person's NIR and never linked to anyone.

Kept, and said why:
- orientation decisions (and their corrections): administrative decisions of the
  Département, open to appeal and to the Département's own archiving rules; they stay
  attached to an anonymised record (no NIR, no name, birth year only, as the retention
  purge leaves it), and such a record is never sent in a CGPEM again. A person without
  decisions is deleted whole;
- the audit entries: they name the record by its number only, never by the person's data;
  once the record is gone (or anonymised) the number identifies nobody;
- the CGPEM files sent that hold the person: the Département's record of what it
  transmitted (its decisions as France Travail received them, proven by the SHA-256 kept
  in CgpemExport). Rewriting one would break that proof, so it stays unchanged, listed (by
  file name) in the report with the date the retention purge destroys it
  (RETENTION_CGPEM_ARCHIVE_MONTHS after it was written, never later than an inactive
  person's anonymisation), or at the end of the convention (rights.end_convention);
- PECGM files received that hold the person: France Travail's file as it came, kept only
  for the raw-files period (RETENTION_RAW_FILES_DAYS) and destroyed then.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

import audit
from audit.models import AuditEntry
from beneficiaries.models import Beneficiary
from beneficiaries.signals import announce_people_changed
from contract.nir import nir_key
from rights.retention import anonymise, cgpem_archive

CONFIRMATION = "EFFACER DÉFINITIVEMENT"

# Rows kept with an anonymised person, and why (model label → reason).
KEPT = {
    "orientations.orientationdecision": (
        "décisions administratives d'orientation : conservées pour les recours et l'archivage "
        "du Département, rattachées à une fiche anonymisée, plus jamais transmises"
    ),
}
AUDIT_REASON = (
    "le journal d'audit ne désigne la fiche que par son numéro, sans donnée personnelle : "
    "ce numéro ne désigne plus personne (conservé {months} mois)"
)
CGPEM_REASON = (
    "trace de ce que le Département a transmis à France Travail, inchangée (son empreinte "
    "SHA-256 fait foi) : détruite par la purge des archives CGPEM au plus tard le {date}, "
    "ou à la fin de la convention"
)
RECEIVED_REASON = (
    "fichiers reçus de France Travail tels quels : détruits par la purge des fichiers bruts "
    "au plus tard le {date}, ou à la fin de la convention"
)


@dataclass
class Line:
    what: str
    count: int
    why: str = ""


@dataclass
class ErasurePlan:
    people: list[int]
    removed: list[Line] = field(default_factory=list)
    kept: list[Line] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    applied: bool = False

    def as_dict(self) -> dict:
        return {
            "applied": self.applied,
            "people": self.people,
            "removed": [asdict(line) for line in self.removed],
            "kept": [asdict(line) for line in self.kept],
            "files": self.files,
        }


def _relations(person: Beneficiary):
    """(model, relation) of every table pointing at the person, many-to-many included."""
    # Hidden relations too (related_name="+"): a review case lists the person as a candidate so.
    for relation in person._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete and relation.is_relation):
            continue
        if relation.related_model is AuditEntry:
            continue
        yield relation.related_model, relation


def _rows(person: Beneficiary, model, relation) -> models.QuerySet:
    if relation.many_to_many:
        through = relation.through
        column = next(
            f.name for f in through._meta.fields if f.is_relation and f.related_model is Beneficiary
        )
        return through.objects.filter(**{column: person})
    return model._base_manager.filter(**{relation.field.name: person})


def _label(model) -> str:
    return str(model._meta.verbose_name_plural)


def _files_holding(people: list[Beneficiary]) -> list[Path]:
    """Archived exchange files that hold one of these NIRs (first 13 characters)."""
    keys = [key.encode("ascii") for key in {nir_key(p.nir) for p in people} if len(key) == 13]
    root = Path(settings.EXCHANGE_FILES_DIR)
    if not keys or not root.is_dir():
        return []
    found = []
    longest = 13
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        with path.open("rb") as handle:
            tail = b""
            while chunk := handle.read(1 << 20):
                window = tail + chunk
                if any(key in window for key in keys):
                    found.append(path)
                    break
                tail = window[-longest:]
    return found


def plan(people: list[Beneficiary], unlinked: dict[str, list[models.Model]] | None = None) -> ErasurePlan:
    """What `erase` would remove and keep (nothing is changed)."""
    result = ErasurePlan(people=[person.pk for person in people])
    removed: dict[str, int] = {}
    kept: dict[str, int] = {}
    whole = 0
    for person in people:
        keeps_something = False
        for model, relation in _relations(person):
            count = _rows(person, model, relation).count()
            if not count:
                continue
            label = model._meta.label_lower
            if label in KEPT and not relation.many_to_many:
                kept[label] = kept.get(label, 0) + count
                keeps_something = True
            else:
                removed[_label(model)] = removed.get(_label(model), 0) + count
        if keeps_something:
            removed["identité (NIR, noms, prénom, jour et mois de naissance, n° CAF et MSA)"] = (
                removed.get("identité (NIR, noms, prénom, jour et mois de naissance, n° CAF et MSA)", 0) + 1
            )
        else:
            whole += 1
    if whole:
        removed[_label(Beneficiary)] = whole
    for objects in (unlinked or {}).values():
        if objects:
            name = _label(objects[0]._meta.model) + " (reçus, jamais rattachés)"
            removed[name] = removed.get(name, 0) + len(objects)
    result.removed = [Line(what, count) for what, count in removed.items()]

    result.kept = [Line(_label(apps.get_model(label)), count, KEPT[label]) for label, count in kept.items()]
    entries = AuditEntry.objects.filter(
        object_type=Beneficiary._meta.label_lower, object_id__in=[str(pk) for pk in result.people]
    ).count()
    if entries:
        reason = AUDIT_REASON.format(months=settings.AUDIT_RETENTION_MONTHS)
        result.kept.append(Line("entrées du journal d'audit", entries, reason))
    files = _files_holding(people)
    if files:
        root = Path(settings.EXCHANGE_FILES_DIR)
        result.files = [str(path.relative_to(root)) for path in files]
        archive = cgpem_archive().resolve()
        sent = [path for path in files if archive in path.resolve().parents]
        received = [path for path in files if path not in sent]
        if sent:
            until = _newest(sent) + timedelta(days=round(settings.RETENTION_CGPEM_ARCHIVE_MONTHS * 30.44))
            result.kept.append(
                Line("fichiers CGPEM transmis", len(sent), CGPEM_REASON.format(date=f"{until:%d/%m/%Y}"))
            )
        if received:
            until = _newest(received) + timedelta(days=settings.RETENTION_RAW_FILES_DAYS)
            result.kept.append(
                Line(
                    "fichiers reçus et en cours d'échange",
                    len(received),
                    RECEIVED_REASON.format(date=f"{until:%d/%m/%Y}"),
                )
            )
    return result


def _newest(paths: list[Path]) -> date:
    return max(
        datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.get_current_timezone()) for path in paths
    ).date()


def erase(
    people: list[Beneficiary],
    unlinked: dict[str, list[models.Model]] | None = None,
    *,
    request=None,
) -> ErasurePlan:
    """Erase the people (and the received records carrying their NIR); return what was done."""
    result = plan(people, unlinked)
    with transaction.atomic():
        for objects in (unlinked or {}).values():
            for obj in objects:
                type(obj)._base_manager.filter(pk=obj.pk).delete()
        for person in people:
            keeps = False
            for model, relation in _relations(person):
                rows = _rows(person, model, relation)
                if model._meta.label_lower in KEPT and not relation.many_to_many:
                    keeps = keeps or rows.exists()
                    continue
                rows.delete()
            counts = {"kept_decisions": keeps}
            if keeps:
                person.refresh_from_db()
                anonymise(person)
                # Erased: not even the RSA start date stays.
                Beneficiary.objects.filter(pk=person.pk).update(rsa_start_date=None, identity_changed_at=None)
            else:
                Beneficiary.objects.filter(pk=person.pk).delete()
            audit.log(
                request,
                audit.Action.ERASED_PERSON,
                object_type=Beneficiary._meta.label_lower,
                object_id=person.pk,
                **counts,
            )
    announce_people_changed()
    result.applied = True
    return result
