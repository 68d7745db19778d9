"""The audit trail of personal-data access and changes (issue 7).

From any view::

    import audit

    audit.log(request, audit.Action.VIEWED_BENEFICIARY, beneficiary)
    audit.log(request, audit.Action.EXPORTED, object_type="cohort", rows=120)
    audit.log(user, audit.Action.PURGE, deleted=12)   # from a command or a task

See audit/trail.py for the rules (no personal data in `extra`).
"""

from audit.actions import Action

__all__ = ["Action", "log"]


def log(request_or_user, action, obj=None, **extra):
    """Record one audit entry; see `audit.trail.log`. Imported lazily: this module loads before models."""
    from audit.trail import log as _log  # noqa: PLC0415  (this package loads before the models)

    return _log(request_or_user, action, obj, **extra)
