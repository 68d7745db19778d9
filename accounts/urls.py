from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.home, name="home"),
    path("connexion/", views.login, name="login"),
    path("deconnexion/", views.logout, name="logout"),
    path("healthz", views.healthz, name="healthz"),
]
