from django.apps import AppConfig


class OrientationsConfig(AppConfig):
    name = "orientations"
    verbose_name = "Orientations"
