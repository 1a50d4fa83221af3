"""Root URL configuration: each app owns its own routes.

Every route must declare an access rule (contactpoint.access.rules); the web middleware and
the API's permission class refuse anything that does not meet it, and a test walks this
configuration to fail on any route without one.
"""

from django.conf import settings
from django.urls import include, path, re_path
from django.views.static import serve

from contactpoint.access.rules import PUBLIC, access_rule

urlpatterns = [
    # GOV.UK Frontend's compiled CSS refers to its fonts and images at /assets/.
    re_path(
        r"^assets/(?P<path>.*)$",
        access_rule(PUBLIC)(serve),
        {"document_root": settings.GOVUK_FRONTEND_DIST / "assets"},
        name="govuk-assets",
    ),
    path("api/v1/", include("contactpoint.api.urls")),
    path("", include("contactpoint.web.urls")),
]

handler403 = "contactpoint.web.errors.permission_denied"
handler404 = "contactpoint.web.errors.page_not_found"
handler500 = "contactpoint.web.errors.server_error"
