"""Authentication backends: the lockout on the login form, and the user of each request."""

from __future__ import annotations

from functools import cache, reduce
from operator import or_

from axes.backends import AxesStandaloneBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import Exists, OuterRef, QuerySet
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
    (one EXISTS), it costs no query of its own (docs/performance.md, "Seventh
    pass"). Read afresh with the user at each request, it is never older than
    the user row itself.
    """

    def get_user(self, user_id):
        try:
            user = _users_with_device_flag().get(pk=user_id)
        except get_user_model().DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


@cache
def _users_with_device_flag() -> QuerySet:
    """The users, each with `has_confirmed_device`: built once per process.

    Building the EXISTS expressions and resolving them into the query cost more
    CPU than running it (0.6-0.8 ms of the ~1.3 ms a request's user took,
    docs/performance.md, "Eighth pass"). The device models are known once the
    apps are loaded, and `.get()` works on a copy: this queryset is never run.
    """
    users = get_user_model()._default_manager.all()
    devices = [
        Exists(model.objects.filter(user=OuterRef("pk"), confirmed=True)) for model in device_classes()
    ]
    return users.annotate(has_confirmed_device=reduce(or_, devices)) if devices else users
