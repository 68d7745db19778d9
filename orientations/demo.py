"""Synthetic referent bodies, correspondents and decisions for the demo (never real data)."""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from beneficiaries.models import Beneficiary
from orientations.decisions import DecisionData, record_decision
from orientations.models import Correspondent, OrientationDecision, ReferentBody

DEMO_BODIES = [
    ("France Travail Montauban", "12 rue des Prairies 82000 Montauban", "05", ("Martin", "Paul")),
    ("CCAS de Moissac", "1 place Durand de Bredon 82200 Moissac", "01", ("Roux", "Léa")),
    ("Mission insertion Castelsarrasin", "5 allée de Verdun 82100 Castelsarrasin", "02", ("N'Diaye", "Awa")),
]


def seed_orientations(*, share: float = 0.6, seed: int = 82) -> int:
    """Give about `share` of the beneficiaries without decision one; returns how many were recorded."""
    if OrientationDecision.objects.filter(source="demo").exists():
        return 0  # already seeded: re-running the demo adds nothing
    rng = random.Random(seed)
    choices = []
    for index, (name, address, nature, (last_name, first_name)) in enumerate(DEMO_BODIES):
        body, _ = ReferentBody.objects.get_or_create(name=name, defaults={"address": address})
        correspondent, _ = Correspondent.objects.get_or_create(
            referent_body=body,
            last_name=last_name,
            first_name=first_name,
            defaults={
                "phone": f"056300000{index}",
                "email": f"referent{index}@example.fr",
                "service": "Service insertion RSA",
            },
        )
        choices.append((nature, body, correspondent))
    oriented = OrientationDecision.objects.values("beneficiary_id")
    today = timezone.localdate()
    count = 0
    for beneficiary in Beneficiary.objects.exclude(pk__in=oriented).order_by("pk"):
        if rng.random() > share:
            continue
        nature, body, correspondent = rng.choice(choices)
        day = today - timedelta(days=rng.randint(1, 400))
        record_decision(beneficiary, DecisionData(nature, day, body, correspondent), source="demo")
        count += 1
    return count
