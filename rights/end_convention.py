"""The end of the convention: destroying everything received from France Travail, with a
destruction certificate (convention art. 6: within two months of its end).

Destroyed:
- every record received (snapshots), the current follow-ups, the status events derived from
  them, the import rejects, the review cases (they copy received identities);
- every exchange file, received (PECGM) or produced (CGPEM archives: they carry France
  Travail's identifiers), each listed with its SHA-256 before it goes;
- the people known only from France Travail (created from a PECGM record): deleted, or,
  when the Département took an orientation decision about them, anonymised as the erasure
  does (the decision is the Département's own record).

Kept: the Département's own people and decisions; the import runs, exchange runs and CGPEM
exports as a log (file names, dates, counts, SHA-256: no personal data); the audit trail.

The certificate says what was destroyed (counts per table, files with their SHA-256), when,
by whom, and with which version of the command; it holds no personal data. It is kept in
the database (DestructionCertificate) and in the audit trail (an entry with the counts and
the certificate's own SHA-256), and written to a file when asked.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone

import audit
from beneficiaries.models import Beneficiary, Source
from beneficiaries.signals import announce_people_changed
from rights.retention import anonymise

COMMAND_VERSION = "1"
CONFIRMATION = "DÉTRUIRE LES DONNÉES REÇUES DE FRANCE TRAVAIL"

# Deleted whole, in this order (a table before the ones it points to).
TABLES = (
    "exchanges.FollowUp",
    "exchanges.StatusEvent",
    "exchanges.ReviewCase",
    "exchanges.JobSeekerSnapshot",
    "exchanges.ImportReject",
)


def version() -> str:
    pyproject = Path(settings.BASE_DIR) / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text())["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        project = "?"
    return f"end_convention {COMMAND_VERSION} (liaison-rsa {project})"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def exchange_files() -> list[Path]:
    root = Path(settings.EXCHANGE_FILES_DIR)
    if not root.is_dir():
        return []
    return sorted(path for path in root.rglob("*") if path.is_file() and not path.is_symlink())


def known_only_from_france_travail():
    return Beneficiary.objects.filter(source=Source.FRANCE_TRAVAIL)


@dataclass
class Destruction:
    applied: bool
    tables: dict[str, int] = field(default_factory=dict)
    files: list[dict] = field(default_factory=list)
    people_deleted: int = 0
    people_anonymised: int = 0

    def counts(self) -> dict:
        return {
            **self.tables,
            "beneficiaries.beneficiary (supprimés)": self.people_deleted,
            "beneficiaries.beneficiary (anonymisés)": self.people_anonymised,
            "fichiers": len(self.files),
        }


def survey(with_digests: bool = True) -> Destruction:
    """What would be destroyed (nothing changes)."""
    result = Destruction(applied=False)
    for label in TABLES:
        result.tables[label.lower()] = apps.get_model(label).objects.count()
    root = Path(settings.EXCHANGE_FILES_DIR)
    for path in exchange_files():
        entry = {"file": str(path.relative_to(root)), "size": path.stat().st_size}
        if with_digests:
            entry["sha256"] = _sha256(path)
        result.files.append(entry)
    people = known_only_from_france_travail()
    decided = people.filter(orientation_decisions__isnull=False).distinct().count()
    result.people_anonymised = decided
    result.people_deleted = people.count() - decided
    return result


def destroy(user, *, now=None) -> tuple[Destruction, dict]:
    """Destroy, then write and keep the certificate; return (what was done, the certificate)."""
    started = now or timezone.now()
    result = survey(with_digests=True)
    result.applied = True
    with transaction.atomic():
        reviews = apps.get_model("exchanges.ReviewCase")
        reviews.candidates.through.objects.all().delete()
        for label in TABLES:
            model = apps.get_model(label)
            model._base_manager.all().delete()
        people = known_only_from_france_travail()
        for person in people.filter(orientation_decisions__isnull=False).distinct():
            anonymise(person)
            Beneficiary.objects.filter(pk=person.pk).update(rsa_start_date=None, identity_changed_at=None)
        people.filter(orientation_decisions__isnull=True).delete()
    # Files last: a failure above leaves them (and the database) as they were.
    root = Path(settings.EXCHANGE_FILES_DIR)
    for entry in result.files:
        (root / entry["file"]).unlink(missing_ok=True)
    announce_people_changed()
    certificate = {
        "titre": "Certificat de destruction des données reçues de France Travail (fin de convention)",
        "commande": version(),
        "debut": started.isoformat(timespec="seconds"),
        "fin": timezone.now().isoformat(timespec="seconds"),
        "par": user.get_username(),
        "tables": result.counts(),
        "fichiers": result.files,
        "conserve": (
            "personnes et décisions d'orientation du Département ; journal des imports, des échanges "
            "et des fichiers CGPEM (noms, dates, nombres, empreintes) ; journal d'audit"
        ),
    }
    text = json.dumps(certificate, ensure_ascii=False, indent=2, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()
    record = apps.get_model("rights.DestructionCertificate").objects.create(
        content=text, sha256=digest, created_by=user
    )
    audit.log(
        user,
        audit.Action.END_OF_CONVENTION,
        record,
        certificate_sha256=digest,
        files=len(result.files),
        snapshots=result.tables.get("exchanges.jobseekersnapshot", 0),
        followups=result.tables.get("exchanges.followup", 0),
        people_deleted=result.people_deleted,
        people_anonymised=result.people_anonymised,
    )
    return result, certificate
