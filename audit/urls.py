from django.urls import path

from audit import views

urlpatterns = [
    path("audit/", views.audit_search, name="audit_search"),
    path("beneficiaires/<int:pk>/nir/", views.reveal_nir, name="reveal_nir"),
]
