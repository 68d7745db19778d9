from django.urls import path

from exchanges import run_views
from exchanges.runs import ExchangeRun

urlpatterns = [
    path("", run_views.exchange_runs, name="exchange_runs"),
    path("lancer/", run_views.exchange_run_start, name="exchange_run_start"),
    path("<int:pk>/", run_views.exchange_run_detail, name="exchange_run_detail"),
    path(
        "<int:pk>/progression/", run_views.run_progress, {"model": ExchangeRun}, name="exchange_run_progress"
    ),
    path("<int:pk>/fichier/", run_views.exchange_run_file, name="exchange_run_file"),
]
