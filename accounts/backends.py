"""Authentication backends: the lockout on the login form, and the user of each request."""

from __future__ import annotations

from functools import reduce
from operator import or_

from axes.backends import AxesStandaloneBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import Exists, OuterRef
from django_otp import device_classes


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


class UserBackend(ModelBackend):
    """Django's ModelBackend, whose user also says whether they have a confirmed second-factor device.

    SecondFactorMiddleware asks it on every request of a user who has not
    passed the second factor (most users, who have no device): django-otp
    answers with a query per device model. Asked in the user's own query
    (one EXISTS), it costs no query of its own: the dashboard makes two
    queries instead of three, ~0.5 ms of its ~6 (docs/performance.md,
    "Seventh pass"). Read afresh with the user at each request, it is never
    older than the user row itself.
    """

    def get_user(self, user_id):
        devices = [
            Exists(model.objects.filter(user=OuterRef("pk"), confirmed=True)) for model in device_classes()
        ]
        users = get_user_model()._default_manager.all()
        if devices:
            users = users.annotate(has_confirmed_device=reduce(or_, devices))
        try:
            user = users.get(pk=user_id)
        except users.model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
