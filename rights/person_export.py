"""Everything held on one person, for the RGPD right of access (article 15).

The beneficiary row and every row that points to it — found through the
model relations, so that what other parts of the application add later
(snapshots, follow-up, events, review cases, orientation decisions and their
corrections…) is included without changing this file — plus the list of
accesses recorded in the audit trail (date and action; not the agents'
names, which are not the person's data).

Records received from France Travail that were never linked to a beneficiary
(the review queue's) hold the person's identity too: they are found by the
NIR they carry, in the records themselves and in the review cases' copy.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core import serializers
from django.db import models
from django.db.models import Q
from django.utils import timezone

from audit.models import AuditEntry
from beneficiaries.models import Beneficiary
from contract.nir import nir_key

# Derived columns: computed from the others, not information on the person.
SKIPPED_FIELDS = {"nir_key", "birth_name_key", "usage_name_key", "first_name_key", "search_text"}


def _rows(objects) -> list[dict[str, Any]]:
    rows = []
    for item in serializers.serialize("python", objects):
        fields = {name: value for name, value in item["fields"].items() if name not in SKIPPED_FIELDS}
        rows.append({"id": item["pk"], **fields})
    return rows


def _related(instance: models.Model, depth: int = 2) -> dict[str, Any]:
    """Rows pointing at `instance`, by relation, and (one level down) the rows pointing at those."""
    found: dict[str, Any] = {}
    for relation in instance._meta.related_objects:
        if relation.many_to_many or not relation.field.concrete:
            continue
        model = relation.related_model
        if model is AuditEntry:
            continue
        objects = list(model._base_manager.filter(**{relation.field.name: instance}).order_by("pk"))
        if not objects:
            continue
        rows = _rows(objects)
        if depth > 1:
            for row, obj in zip(rows, objects, strict=True):
                nested = _related(obj, depth - 1)
                if nested:
                    row["_related"] = nested
        found[model._meta.label_lower] = rows
    return found


def find_people(nir: str) -> list[Beneficiary]:
    key = nir_key(nir)
    if len(key) != 13:
        return []
    return list(Beneficiary.objects.filter(nir_key=key).order_by("pk"))


def find_unlinked(nir: str, people: list[Beneficiary]) -> dict[str, list[models.Model]]:
    """Received records and review cases carrying this NIR that no beneficiary found above holds."""
    key = nir_key(nir)
    if len(key) != 13:
        return {}
    known = [beneficiary.pk for beneficiary in people]
    # The records keep the NIR as France Travail sent it (13 characters, or 15 with its key).
    snapshots = apps.get_model("exchanges.JobSeekerSnapshot").objects.filter(
        beneficiary__isnull=True, nir__istartswith=key
    )
    reviews = (
        apps.get_model("exchanges.ReviewCase")
        .objects.filter(Q(values__nir__istartswith=key) | Q(snapshot__in=snapshots))
        .exclude(beneficiary_id__in=known)
    )
    found = {
        "exchanges.jobseekersnapshot": list(snapshots.order_by("pk")),
        "exchanges.reviewcase": list(reviews.distinct().order_by("pk")),
    }
    return {label: objects for label, objects in found.items() if objects}


def export_person(people: list[Beneficiary], unlinked: dict[str, list[models.Model]] | None = None) -> dict:
    result = []
    for beneficiary in people:
        accesses = AuditEntry.objects.filter(
            object_type=beneficiary._meta.label_lower, object_id=str(beneficiary.pk)
        ).order_by("timestamp")
        result.append(
            {
                "beneficiary": _rows([beneficiary])[0],
                "related": _related(beneficiary),
                "accesses": [
                    {"date": entry.timestamp.isoformat(), "action": str(entry.get_action_display())}
                    for entry in accesses
                ],
            }
        )
    return {
        "generated_at": timezone.now().isoformat(),
        "people": result,
        # Received from France Travail, linked to none of the people above.
        "unlinked": {label: _rows(objects) for label, objects in (unlinked or {}).items()},
    }
