"""Writing to the audit trail.

`log(request_or_user, action, obj=None, **extra)`:

- `request_or_user`: the request (user and client address are taken from
  it), a user (commands, tasks), or None (the system itself);
- `action`: an `audit.Action` (or its value);
- `obj`: the model instance concerned; only its type and id are kept. Pass
  `object_type=`/`object_id=` instead when there is no instance;
- `as_user`: the account concerned when it is not the request's user (login
  signals);
- `extra`: a few NON-PERSONAL details (counts, a file id, a reason code):
  str (≤ 100 characters), int, float, bool or None. Never a name, a NIR, a
  birth date or a search query: the trail names records by id only. A value
  that looks like a NIR is refused (ValueError), so that the mistake shows
  in tests rather than in the trail.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import models
from django.http import HttpRequest

from accounts.client_ip import client_ip
from audit.actions import Action
from audit.models import AuditEntry

_NIR_LIKE = re.compile(r"[1-478]\s?\d{2}\s?\d{2}\s?(\d{2}|2[AB])\s?\d{3}\s?\d{3}", re.IGNORECASE)
_ALLOWED = (str, int, float, bool, type(None))


def _check_extra(extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if not isinstance(value, _ALLOWED):
            raise ValueError(f"audit extra {key!r}: only plain values are allowed")
        if isinstance(value, str) and (len(value) > 100 or _NIR_LIKE.search(value)):
            raise ValueError(f"audit extra {key!r}: looks like personal data or is too long")
    return extra


def log(
    request_or_user: HttpRequest | models.Model | None,
    action: Action | str,
    obj: models.Model | None = None,
    *,
    object_type: str = "",
    object_id: str | int = "",
    as_user: models.Model | None = None,
    **extra: Any,
) -> AuditEntry:
    action = Action(action)  # ValueError on an unknown action
    request = request_or_user if isinstance(request_or_user, HttpRequest) else None
    user = getattr(request, "user", None) if request is not None else request_or_user
    if as_user is not None:  # login signals: the request's user is not set yet, or is leaving
        user = as_user
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = obj.pk
    entry = AuditEntry.objects.create(
        user=user,
        username=user.get_username() if user is not None else "",
        action=action,
        object_type=object_type,
        object_id="" if object_id is None else str(object_id),
        ip_address=client_ip(request) if request is not None else None,
        extra=_check_extra(extra),
    )
    return entry
