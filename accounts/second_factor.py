"""Who must pass the TOTP second factor (django-otp)."""

from __future__ import annotations

from django.conf import settings
from django_otp import user_has_device

from accounts.roles import Role


def second_factor_required(user) -> bool:
    """A user with a confirmed device always; an admin without one when OTP_REQUIRED_FOR_ADMINS is on."""
    if not getattr(user, "is_authenticated", False):
        return False
    if settings.OTP_REQUIRED_FOR_ADMINS and (user.role == Role.ADMIN or user.is_superuser):
        return True
    return has_confirmed_device(user)


def has_confirmed_device(user) -> bool:
    """Read with the user by accounts.backends.UserBackend; asked of django-otp for a user
    loaded otherwise."""
    known = getattr(user, "has_confirmed_device", None)
    return user_has_device(user, confirmed=True) if known is None else known
