from django.urls import path

from exchanges import run_views, tracking_views, views
from exchanges.models import ImportRun

urlpatterns = [
    path("imports/", views.import_run_list, name="import_run_list"),
    path("imports/<int:pk>/", views.import_run_detail, name="import_run_detail"),
    path(
        "imports/<int:pk>/progression/",
        run_views.run_progress,
        {"model": ImportRun},
        name="import_run_progress",
    ),
    path("imports/<int:pk>/rejets.csv", views.import_run_rejects_csv, name="import_run_rejects_csv"),
    path("suivi-france-travail.csv", views.followup_export, name="followup_export"),
    path("rapprochements/", views.review_list, name="review_list"),
    path("rapprochements/<int:pk>/", views.review_detail, name="review_detail"),
    path("rapprochements/<int:pk>/decision/", views.review_resolve, name="review_resolve"),
    path("suivi-mensuel/", tracking_views.tracking_overview, name="tracking_overview"),
    path("suivi-mensuel/<int:year>/<int:month>/", tracking_views.tracking_month, name="tracking_month"),
    path(
        "suivi-mensuel/<int:year>/<int:month>/suivi.<str:fmt>",
        tracking_views.tracking_download,
        name="tracking_download",
    ),
    path(
        "suivi-mensuel/<int:year>/<int:month>/anomalies.<str:fmt>",
        tracking_views.anomalies_download,
        name="anomalies_download",
    ),
]
