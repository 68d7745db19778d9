"""Logins, logouts and failed attempts go to the audit trail."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from audit.actions import Action
from audit.trail import log


@receiver(user_logged_in, dispatch_uid="audit_logged_in")
def on_logged_in(sender, request, user, **kwargs) -> None:
    log(request, Action.LOGGED_IN, as_user=user)


@receiver(user_logged_out, dispatch_uid="audit_logged_out")
def on_logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        log(request, Action.LOGGED_OUT, as_user=user)


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    # The typed name is kept only when it is an account's: anything else may
    # be a password typed in the wrong field, or someone's name.
    typed = credentials.get(get_user_model().USERNAME_FIELD) or credentials.get("username") or ""
    account = get_user_model().objects.filter(username=typed).first() if typed else None
    log(
        request,
        Action.LOGIN_FAILED,
        as_user=account,
        known_account=account is not None,
        locked_out=bool(getattr(request, "axes_locked_out", False)),
    )
