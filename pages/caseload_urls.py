from django.urls import path

from pages import caseload_views as views

urlpatterns = [
    path("<int:pk>/referent/", views.referent, name="caseload_referent"),
    path("<int:pk>/referent/fin/", views.referent_end, name="caseload_referent_end"),
    path("referents/attribuer/", views.bulk_assign, name="caseload_bulk_assign"),
    path("referents/resultat/", views.bulk_result, name="caseload_bulk_result"),
    path("<int:pk>/notes/", views.note_add, name="caseload_note_add"),
    path("notes/<int:pk>/modifier/", views.note_edit, name="caseload_note_edit"),
    path("cohortes/<slug:cohort>/<int:pk>/traiter/", views.handle, name="caseload_handle"),
    path("cohortes/<slug:cohort>/<int:pk>/remettre/", views.unhandle, name="caseload_unhandle"),
    path("nouveautes/vu/", views.news_seen, name="caseload_news_seen"),
    path("mes-beneficiaires/resume/", views.digest, name="caseload_digest"),
    path("import-csv/", views.csv_upload, name="caseload_csv_upload"),
]
