from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "contactpoint.api"
    label = "api"
    verbose_name = "REST API for people"

    def ready(self) -> None:
        # Registers the token scheme with drf-spectacular (extensions register on import).
        from contactpoint.api import schema  # noqa: F401
