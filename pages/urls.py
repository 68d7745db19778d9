from django.urls import path

from pages import views

urlpatterns = [
    path("", views.beneficiary_list, name="beneficiary_list"),
    path("export.csv", views.beneficiary_export, name="beneficiary_export"),
    path("mes-beneficiaires/", views.caseload, name="caseload"),
    path("mes-beneficiaires/export.csv", views.caseload_export, name="caseload_export"),
    path("<int:pk>/", views.beneficiary_detail, name="beneficiary_detail"),
    path("cohortes/", views.cohort_index, name="cohort_index"),
    path("cohortes/<slug:cohort>/", views.cohort_detail, name="cohort_detail"),
    path("cohortes/<slug:cohort>/export.csv", views.cohort_export, name="cohort_export"),
    path("tableau-de-bord/", views.dashboard, name="dashboard"),
]
