from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import devices_for_user
from django_otp import login as otp_login

from accounts import otp
from accounts.decorators import login_required, public
from accounts.roles import ROLE_CAPABILITIES, Capability
from accounts.second_factor import has_confirmed_device
from audit import Action
from audit import log as audit_log

login = public(
    auth_views.LoginView.as_view(template_name="registration/login.html", redirect_authenticated_user=True)
)
logout = login_required(auth_views.LogoutView.as_view())


def admin_login(request: HttpRequest, extra_context=None) -> HttpResponse:
    """Stands in for the admin site's own login page (config/urls.py): one login for the whole
    application (lockout, second factor, audit), and a signed-in user without the admin role
    gets the 403 page rather than an invitation to sign in again as someone else."""
    if request.user.is_authenticated:
        raise PermissionDenied
    return redirect_to_login(request.GET.get("next", "/admin/"))


@login_required
def home(request: HttpRequest) -> HttpResponse:
    capabilities = [
        Capability(value) for value in Capability.values if value in ROLE_CAPABILITIES[request.user.role]
    ]
    return render(request, "accounts/home.html", {"capabilities": capabilities})


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return "/"


def _token(request: HttpRequest) -> str:
    return "".join(request.POST.get("token", "").split())


# From this many wrong codes in a row, the message says the wait (django-otp doubles it each time).
THROTTLE_NOTICE_AFTER = 3


def _code_refused(devices, wrong_code_message: str) -> str:
    """Why a code was refused: wrong, or not even checked because attempts are throttled."""
    wait = max((otp.throttle_wait(device) for device in devices), default=0)
    failures = max((device.throttling_failure_count for device in devices), default=0)
    if wait and failures >= THROTTLE_NOTICE_AFTER:
        return _(
            "Après plusieurs codes incorrects, les essais sont ralentis : un code saisi maintenant "
            "n'est pas vérifié, même juste. Réessayez dans %(wait)s."
        ) % {"wait": otp.wait_text(wait)}
    return wrong_code_message


@login_required
@never_cache
@sensitive_post_parameters("token")
def otp_setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: scan the QR code, then type a code to confirm."""
    if has_confirmed_device(request.user):
        return render(request, "accounts/otp_setup.html", {"enrolled": True})
    device = otp.pending_device(request.user, request.session)
    error = None
    if request.method == "POST":
        if device.verify_token(_token(request)):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            request.session.pop(otp.PENDING_DEVICE, None)
            otp_login(request, device)
            audit_log(request, Action.SECOND_FACTOR_ENROLLED, device)
            messages.success(request, _("La double authentification est activée."))
            return redirect(_next_url(request))
        device.refresh_from_db()
        error = _code_refused(
            [device], _("Ce code ne correspond pas : vérifiez l'heure du téléphone et réessayez.")
        )
    context = {
        "qr": otp.qr_svg(device, _("QR code à scanner avec l'application d'authentification")),
        "secret": otp.secret_for_typing(device),
        "error": error,
        "next": _next_url(request),
    }
    return render(request, "accounts/otp_setup.html", context)


@login_required
@never_cache
@sensitive_post_parameters("token")
def otp_verify(request: HttpRequest) -> HttpResponse:
    """The second step of the login: a code from the authenticator app."""
    error = None
    if request.method == "POST":
        token = _token(request)
        devices = list(devices_for_user(request.user, confirmed=True))
        for device in devices:
            if device.verify_token(token):  # throttled by django-otp after failures
                otp_login(request, device)
                return redirect(_next_url(request))
        audit_log(request, Action.LOGIN_FAILED, as_user=request.user, step="second_factor")
        error = _code_refused(devices, _("Code incorrect ou expiré."))
    return render(request, "accounts/otp_verify.html", {"error": error, "next": _next_url(request)})


def lockout(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """What django-axes answers to a locked-out client (AXES_LOCKOUT_CALLABLE): not a URL of its own."""
    minutes = max(1, round(settings.AXES_COOLOFF_TIME * 60))
    return render(request, "accounts/lockout.html", {"cooloff_minutes": minutes}, status=429)
