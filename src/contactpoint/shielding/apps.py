from django.apps import AppConfig


class ShieldingConfig(AppConfig):
    name = "contactpoint.shielding"
    label = "shielding"
    verbose_name = "Shielding"
