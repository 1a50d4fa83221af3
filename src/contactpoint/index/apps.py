from django.apps import AppConfig


class IndexConfig(AppConfig):
    name = "contactpoint.index"
    label = "index"
    verbose_name = "Child index"
