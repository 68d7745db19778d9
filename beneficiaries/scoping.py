"""Who may see which beneficiary: THE place that says it.

Every page, export, count, search or dashboard that shows beneficiaries (or
anything hanging off one: follow-up, orientations, review cases…) must start
from `visible_beneficiaries(request.user)`, never from
`Beneficiary.objects`:

    from beneficiaries.scoping import visible_beneficiaries, get_visible_beneficiary_or_404

    people = visible_beneficiaries(request.user).filter(...)
    decisions = Decision.objects.filter(beneficiary__in=visible_beneficiaries(request.user))
    beneficiary = get_visible_beneficiary_or_404(request, pk)   # 404 + audit entry if out of scope

Rules (issue 7):
- a social worker or an orientation officer with territories sees the
  beneficiaries whose commune is in one of them;
- a social worker without territory sees no one (deny by default: an admin
  must assign territories);
- orientation officers without territory see the whole Département;
- admins see the whole Département, always (issue 26): they manage accounts
  and territories, so a territory of theirs would be a limit they can lift
  (or step around with another account), and the raw files and rejects they
  handle belong to no commune. Accounts refuse to give them one
  (accounts.admin, add_user); one given otherwise is ignored here;
- a person whose processing is restricted (« traitement limité »,
  rights.models.Restriction) is in nobody's lists, exports or counts of
  people; only an admin opens their page (issue 23).
"""

from __future__ import annotations

from collections.abc import Collection

from django.db.models import Exists, OuterRef, QuerySet, prefetch_related_objects
from django.http import Http404, HttpRequest

import audit
from accounts.roles import Role
from beneficiaries.models import Beneficiary


def user_territories(user) -> list:
    """The user's territories, read once for the request's user object.

    Prefetched, so that scoping and the filter form share one query; the
    related manager's set()/add()/remove() drop the prefetched list.
    """
    prefetch_related_objects([user], "territories")
    return list(user.territories.all())


def territory_communes(user) -> set[str] | None:
    """The INSEE codes the user is restricted to, or None when not restricted."""
    if user.role == Role.ADMIN:
        return None
    territories = user_territories(user)
    if not territories:
        return None if user.role != Role.SOCIAL_WORKER else set()
    return {code for territory in territories for code in territory.commune_codes}


def beneficiaries_in(communes: Collection[str] | None) -> QuerySet[Beneficiary]:
    """The people of `communes` (INSEE codes), everyone with None: the queryset of a scope.

    Sorted, so that a scope has one SQL whatever the order its communes came in: the cached
    counts are keyed by it (pages.versioned_cache).
    """
    beneficiaries = Beneficiary.objects.all()
    if communes is None:
        return beneficiaries
    return beneficiaries.filter(commune_code__in=sorted(communes))


def unrestricted(queryset: QuerySet) -> QuerySet:
    """`queryset` (of beneficiaries) without the people whose processing is restricted.

    The restriction's model is reached through its relation's name (`Beneficiary.restriction`):
    rights.models sits above this module (docs/architecture.md) and may not be imported here.
    """
    restriction = Beneficiary._meta.get_field("restriction").related_model
    return queryset.filter(~Exists(restriction.objects.filter(beneficiary=OuterRef("pk"))))


def visible_beneficiaries(user) -> QuerySet[Beneficiary]:
    """The people the user's lists, searches and exports hold (restricted people never)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Beneficiary.objects.none()
    return unrestricted(beneficiaries_in(territory_communes(user)))


def openable_beneficiaries(user) -> QuerySet[Beneficiary]:
    """The people whose page the user may open: the visible ones, and for admins everyone."""
    if getattr(user, "is_authenticated", False) and user.is_active and user.role == Role.ADMIN:
        return Beneficiary.objects.all()
    return visible_beneficiaries(user)


def get_visible_beneficiary_or_404(request: HttpRequest, pk: int) -> Beneficiary:
    """The beneficiary if the user may see them; else 404, and the attempt goes to the audit trail."""
    try:
        return openable_beneficiaries(request.user).get(pk=pk)
    except Beneficiary.DoesNotExist:
        if Beneficiary.objects.filter(pk=pk).exists():
            audit.log(
                request, audit.Action.ACCESS_DENIED, object_type="beneficiaries.beneficiary", object_id=pk
            )
        raise Http404("No beneficiary here") from None
