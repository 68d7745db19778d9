from django.urls import path

from rights import views

urlpatterns = [
    path("", views.rights_home, name="rights_home"),
    path("<int:pk>/limitation/", views.restrict_person, name="restrict_person"),
    path("<int:pk>/rectification/", views.rectify_person, name="rectify_person"),
    path("<int:pk>/effacement/", views.erase_person, name="erase_person"),
]
