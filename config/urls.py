from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from accounts.views import admin_login
from config import health

admin.site.site_header = _("Liaison RSA — administration")
admin.site.site_title = _("Liaison RSA")
admin.site.login = admin_login

urlpatterns = [
    path("", include("accounts.urls")),
    path("beneficiaires/", include("pages.urls")),
    path("beneficiaires/", include("pages.caseload_urls")),
    path("orientations/", include("orientations.urls")),
    path("", include("rights.audit_urls")),
    path("echanges/", include("exchanges.run_urls")),
    path("echanges/", include("exchanges.urls")),
    path("droits/", include("rights.urls")),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("livez", health.livez, name="livez"),
]
