"""API routes (version 1). Each view declares its access rule as a class attribute."""

from django.urls import path

from contactpoint.api import feeds, search, views

app_name = "api"

urlpatterns = [
    path("auth/token", views.TokenView.as_view(), name="token"),
    path("auth/token/current", views.CurrentTokenView.as_view(), name="token-current"),
    path("auth/purpose", views.PurposeView.as_view(), name="purpose"),
    path("me", views.MeView.as_view(), name="me"),
    path("schema", views.SchemaView.as_view(), name="schema"),
    # Search and the record view (search app); "search" before the ID pattern it would match
    path("children/search", search.ChildSearchView.as_view(), name="child-search"),
    path("children/<str:contactpoint_id>", search.ChildView.as_view(), name="child"),
    # Source systems (feeds app): their own credential, not a person's token
    path("feeds/loads", feeds.FeedLoadView.as_view(), name="feed-loads"),
    path("feeds/records", feeds.FeedRecordView.as_view(), name="feed-records"),
    path("feeds/loads/<str:code>/report", feeds.FeedReportView.as_view(), name="feed-report"),
]
