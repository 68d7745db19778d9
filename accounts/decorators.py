"""Access control for views: deny by default.

Every view of the project is wrapped by `requires(capability)` or marked
`public`; `tests/accounts/test_access_matrix.py` walks the URL conf and fails
on any view that is neither.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from accounts.roles import has_capability


def requires(capability: str) -> Callable:
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_capability(request.user, capability):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapper.required_capability = capability
        return wrapper

    return decorator


def login_required(view: Callable) -> Callable:
    """Any signed-in user, whatever the role (home page, logout)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    wrapper.required_capability = "authenticated"
    return wrapper


def public(view: Callable) -> Callable:
    """Explicitly open to anonymous visitors (login page, health check)."""
    view.required_capability = "public"
    return view
