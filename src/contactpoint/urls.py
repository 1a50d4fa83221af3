"""Root URL configuration: each app owns its own routes."""

from django.urls import include, path

urlpatterns = [
    path("", include("contactpoint.web.urls")),
]
