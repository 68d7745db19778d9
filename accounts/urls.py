from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.home, name="home"),
    path("connexion/", views.login, name="login"),
    path("connexion/verification/", views.otp_verify, name="otp_verify"),
    path("compte/double-authentification/", views.otp_setup, name="otp_setup"),
    path("deconnexion/", views.logout, name="logout"),
]
