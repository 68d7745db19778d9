"""Restricting a person's processing (RGPD art. 18) and lifting it.

While restricted, the person is kept but left out of every list, search, export and
count of people (beneficiaries.scoping.visible_beneficiaries), and their decisions out of
the CGPEM (orientations.cgpem.select_decisions); only admins open their page. Lifting
puts their decisions in the next CGPEM flux too (as an identity correction does), since
changes made meanwhile were held back.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

import audit
from beneficiaries.models import Beneficiary
from beneficiaries.signals import announce_people_changed
from rights.models import Restriction


def restrict(request_or_user, beneficiary: Beneficiary, reason: str) -> Restriction:
    user = getattr(request_or_user, "user", request_or_user)
    with transaction.atomic():
        restriction, created = Restriction.objects.get_or_create(
            beneficiary=beneficiary, defaults={"reason": reason[:200], "created_by": user}
        )
        if created:
            audit.log(request_or_user, audit.Action.RESTRICTED, beneficiary)
    announce_people_changed()
    return restriction


def lift(request_or_user, beneficiary: Beneficiary) -> bool:
    with transaction.atomic():
        deleted, _ = Restriction.objects.filter(beneficiary=beneficiary).delete()
        if deleted:
            Beneficiary.objects.filter(pk=beneficiary.pk).update(identity_changed_at=timezone.now())
            audit.log(request_or_user, audit.Action.RESTRICTION_LIFTED, beneficiary)
    announce_people_changed()
    return bool(deleted)
