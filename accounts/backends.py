"""Brute-force lockout (django-axes) on the login form."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend


class LockoutBackend(AxesStandaloneBackend):
    """Axes' lockout check, for attempts that come with a request.

    Every web login (our form, the admin site) passes the request. A call
    without one comes from code run by the operator or the test client
    (`authenticate(username=…, password=…)`), where there is no client to
    throttle: Axes would refuse it outright, we let ModelBackend decide.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
