"""Web routes. Every view carries an access rule (contactpoint.access.rules); the start page
and the health check are public, and a test fails for any route that declares none."""

from django.urls import path

from contactpoint.access.rules import PUBLIC, access_rule
from contactpoint.web import (
    account_views,
    manage_views,
    national_views,
    review_views,
    search_views,
    security_views,
    shielding_views,
    signin_views,
    views,
)

app_name = "web"

urlpatterns = [
    path("", access_rule(PUBLIC)(views.start_page), name="start"),
    path("healthz", access_rule(PUBLIC)(views.health), name="health"),
    # Sign-in and sign-out
    path("sign-in", signin_views.sign_in, name="sign-in"),
    path("sign-in/new-password", signin_views.sign_in_new_password, name="sign-in-new-password"),
    path("sign-in/set-up-authenticator", signin_views.sign_in_enrol, name="sign-in-enrol"),
    path("sign-in/code", signin_views.sign_in_code, name="sign-in-code"),
    path("sign-out", signin_views.sign_out, name="sign-out"),
    # The person's own account
    path("account", account_views.account, name="account"),
    path("account/password", account_views.change_password, name="change-password"),
    path("reason-for-access", account_views.purpose, name="purpose"),
    # Administrators: people of the organisations they administer
    path("people", manage_views.people, name="people"),
    path("people/new", manage_views.person_new, name="person-new"),
    path("people/<int:person_id>", manage_views.person_detail, name="person"),
    path("people/<int:person_id>/vetting", manage_views.person_vetting, name="person-vetting"),
    path("people/<int:person_id>/training", manage_views.person_training, name="person-training"),
    path(
        "people/<int:person_id>/shielding-training",
        manage_views.person_shielding_training,
        name="person-shielding-training",
    ),
    path(
        "people/<int:person_id>/agreement", manage_views.person_agreement, name="person-agreement"
    ),
    path(
        "people/<int:person_id>/authorise", manage_views.person_authorise, name="person-authorise"
    ),
    path("people/<int:person_id>/suspend", manage_views.person_suspend, name="person-suspend"),
    path("people/<int:person_id>/re-enable", manage_views.person_reenable, name="person-reenable"),
    path(
        "people/<int:person_id>/reset-authenticator",
        manage_views.person_reset_authenticator,
        name="person-reset-authenticator",
    ),
    path(
        "people/<int:person_id>/temporary-password",
        manage_views.person_temporary_password,
        name="person-temporary-password",
    ),
    # National team: organisations and go-live
    path("organisations", national_views.organisations, name="organisations"),
    path("organisations/<str:code>", national_views.organisation_detail, name="organisation"),
    # Finding a child and viewing their record (search app); criteria only ever in POST bodies
    path("search", search_views.search, name="search"),
    path("children/<str:contactpoint_id>", search_views.child, name="child"),
    # Data-quality officers: the match review queue (feeds app); <code> is R123 or M45
    path("review", review_views.review_queue, name="review-queue"),
    path("review/<str:code>", review_views.review_item, name="review-item"),
    path("review/merges/<str:code>/unmerge", review_views.review_unmerge, name="review-unmerge"),
    # Shielding (shielding app): officers' pages, asking to shield, brokered contact, break-glass
    path("shielding", shielding_views.shielding_home, name="shielding"),
    path("shielding/reviews", shielding_views.review_queue, name="shielding-reviews"),
    path("shielding/cases", shielding_views.cases, name="shielding-cases"),
    path(
        "shielding/cases/requests/<str:code>",
        shielding_views.shielding_request,
        name="shielding-request",
    ),
    path(
        "shielding/cases/contact/<str:code>",
        shielding_views.contact_case,
        name="shielding-contact",
    ),
    path(
        "children/<str:contactpoint_id>/shielding",
        shielding_views.shielding_record,
        name="shielding-record",
    ),
    path(
        "children/<str:contactpoint_id>/ask-to-shield",
        shielding_views.ask_to_shield,
        name="ask-to-shield",
    ),
    path(
        "children/<str:contactpoint_id>/contact-request",
        shielding_views.contact_request,
        name="contact-request",
    ),
    path(
        "children/<str:contactpoint_id>/break-glass",
        shielding_views.break_glass,
        name="break-glass",
    ),
    path("break-glass/<str:code>", shielding_views.break_glass_view, name="break-glass-view"),
    # Protective monitoring (access.protective): alert queues, audited reports, home address;
    # each route's access rule is declared in security_views.ROUTES
    *security_views.ROUTES,
]
