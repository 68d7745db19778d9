from django.urls import path

from rights import audit_views as views

urlpatterns = [
    path("audit/", views.audit_search, name="audit_search"),
    path("beneficiaires/<int:pk>/nir/", views.reveal_nir, name="reveal_nir"),
]
