from django.contrib.auth import views as auth_views
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.decorators import login_required, public
from accounts.roles import ROLE_CAPABILITIES, Capability

login = public(
    auth_views.LoginView.as_view(template_name="registration/login.html", redirect_authenticated_user=True)
)
logout = login_required(auth_views.LogoutView.as_view())


@login_required
def home(request: HttpRequest) -> HttpResponse:
    capabilities = [
        Capability(value) for value in Capability.values if value in ROLE_CAPABILITIES[request.user.role]
    ]
    return render(request, "accounts/home.html", {"capabilities": capabilities})


@public
@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for the container healthcheck: the database answers a query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})
