from django.urls import path

from contactpoint.web import views

app_name = "web"

urlpatterns = [
    path("", views.start_page, name="start"),
    path("healthz", views.health, name="health"),
]
