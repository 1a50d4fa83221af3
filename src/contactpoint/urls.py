"""Root URL configuration: each app owns its own routes."""

from django.conf import settings
from django.urls import include, path, re_path
from django.views.static import serve

urlpatterns = [
    # GOV.UK Frontend's compiled CSS refers to its fonts and images at /assets/.
    re_path(
        r"^assets/(?P<path>.*)$",
        serve,
        {"document_root": settings.GOVUK_FRONTEND_DIST / "assets"},
        name="govuk-assets",
    ),
    path("", include("contactpoint.web.urls")),
]
