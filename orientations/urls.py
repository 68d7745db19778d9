from django.urls import path

from orientations import views

urlpatterns = [
    path("a-orienter/", views.to_orient, name="orientation_queue"),
    path("a-orienter/enregistrer/", views.bulk_record, name="orientation_bulk_record"),
    path("a-orienter/resultat/", views.bulk_result, name="orientation_bulk_result"),
    path("beneficiaire/<int:pk>/decision/", views.record, name="orientation_record"),
    path("beneficiaire/<int:pk>/historique/", views.history, name="orientation_history"),
    path("decision/<int:pk>/corriger/", views.correct, name="orientation_correct"),
    path("organismes/", views.referent_bodies, name="referent_bodies"),
    path("organismes/nouveau/", views.referent_body_create, name="referent_body_create"),
    path("organismes/<int:pk>/modifier/", views.referent_body_edit, name="referent_body_edit"),
    path("organismes/<int:pk>/activation/", views.referent_body_toggle, name="referent_body_toggle"),
    path(
        "organismes/<int:pk>/correspondants/nouveau/",
        views.correspondent_create,
        name="correspondent_create",
    ),
    path("correspondants/<int:pk>/modifier/", views.correspondent_edit, name="correspondent_edit"),
    path("correspondants/<int:pk>/activation/", views.correspondent_toggle, name="correspondent_toggle"),
    path("correspondants/", views.correspondents, name="orientation_correspondents"),
    path("non-transmises/", views.untransmitted, name="orientation_untransmitted"),
    path("prochain-cgpem/", views.cgpem_preview, name="cgpem_preview"),
    path("cgpem/", views.cgpem_exports, name="cgpem_exports"),
    path("cgpem/<int:pk>/", views.cgpem_export_detail, name="cgpem_export_detail"),
    path("cgpem/<int:pk>/telecharger/", views.cgpem_download, name="cgpem_download"),
]
