"""A URL configuration with one route that forgot its access rule (used by test_route_matrix)."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def forgotten(request: HttpRequest) -> HttpResponse:
    return HttpResponse("secret")


urlpatterns = [
    path("forgotten", forgotten, name="forgotten"),
    path("", include("contactpoint.urls")),
]
