from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

admin.site.site_header = _("Liaison RSA — administration")
admin.site.site_title = _("Liaison RSA")


def admin_login(request, extra_context=None):
    """The admin site's own login page, replaced: one login for the whole application (lockout,
    second factor, audit), and a signed-in user without the admin role gets the 403 page
    rather than an invitation to sign in again as someone else."""
    if request.user.is_authenticated:
        raise PermissionDenied
    return redirect_to_login(request.GET.get("next", "/admin/"))


admin.site.login = admin_login

urlpatterns = [
    path("", include("accounts.urls")),
    path("beneficiaires/", include("beneficiaries.urls")),
    path("orientations/", include("orientations.urls")),
    path("", include("audit.urls")),
    path("echanges/", include("exchanges.run_urls")),
    path("echanges/", include("exchanges.urls")),
    path("admin/", admin.site.urls),
]
