from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _

from accounts import sessions
from accounts.second_factor import has_confirmed_device, second_factor_required


class SessionLifetimeMiddleware:
    """Ends a session idle for too long or older than its absolute lifetime.

    Django's own expiry (SESSION_COOKIE_AGE, renewed each time the session is
    saved) already drops idle sessions; the timestamps kept here make both
    limits explicit and add the absolute one, which Django lacks. The session
    is saved when the last-seen time is a minute old or more, not on every
    request: the idle timeout is then exact to within a minute.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = sessions.now()
            started = request.session.get(sessions.STARTED_AT)
            last_seen = request.session.get(sessions.LAST_SEEN, started)
            if started is None:
                sessions.mark_started(request.session)
            elif (
                now - started > settings.SESSION_ABSOLUTE_LIFETIME
                or now - last_seen > settings.SESSION_IDLE_TIMEOUT
            ):
                auth.logout(request)
                messages.info(request, _("Votre session a expiré : reconnectez-vous."))
                return redirect_to_login(request.get_full_path())
            elif now - last_seen >= sessions.activity_resolution():
                # Writing the session renews its expiry (SESSION_COOKIE_AGE) in the store: once a
                # minute is enough for a 30-minute idle timeout, and spares an UPDATE per request.
                request.session[sessions.LAST_SEEN] = now
        return self.get_response(request)


# Pages reachable before the second factor is passed.
OPEN_BEFORE_SECOND_FACTOR = {"otp_verify", "otp_setup", "logout", "login", "healthz", "livez"}


class SecondFactorMiddleware:
    """Sends a signed-in user who owes a TOTP code to the verification (or enrolment) page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and not user.is_verified() and second_factor_required(user):
            try:
                name = resolve(request.path_info).url_name
            except Resolver404:
                name = None
            if name not in OPEN_BEFORE_SECOND_FACTOR:
                target = "otp_verify" if has_confirmed_device(user) else "otp_setup"
                return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


class NoStoreMiddleware:
    """Pages and files served to a signed-in user are not kept by the browser or a proxy.

    They hold personal data: on a shared office computer, the back button or the
    browser's cache must not show them to the next person after logout. Static
    assets are served before this (WhiteNoise) and stay cacheable.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.user.is_authenticated and not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response
