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
  str, int, float, bool or None (anything else: TypeError). Never a name, a
  NIR, a birth date or a search query: the trail names records by id only.
  As a safety net, what looks like a NIR is masked and strings are cut at
  100 characters (masked, not refused: a false positive must not break a
  page).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest

from audit.actions import Action
from audit.client_ip import client_ip
from audit.logfilter import mask_personal_data
from audit.models import AuditEntry

_ALLOWED = (str, int, float, bool, type(None))
MAX_LENGTH = 100


def _check_extra(extra: dict[str, Any]) -> dict[str, Any]:
    clean = {}
    for key, value in extra.items():
        if not isinstance(value, _ALLOWED):
            raise TypeError(f"audit extra {key!r}: only plain values are allowed")
        clean[key] = mask_personal_data(value)[:MAX_LENGTH] if isinstance(value, str) else value
    return clean


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
