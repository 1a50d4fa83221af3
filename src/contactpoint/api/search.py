"""The search and record view endpoints: explicit serializers over access.policy projections.

POST /api/v1/children/search takes the criteria in the body (never in the URL) and answers
with at most the cap of result rows, or "too many matches" with no list at all.
GET /api/v1/children/<ContactPoint ID> answers with the projection the view policy allows.
Each declares its access rule; the same gates as the web pages apply (api.permissions).
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contactpoint.access.client import client_ip
from contactpoint.access.policy import viewer_for
from contactpoint.access.protective.monitoring import LookupRefused, usage_warnings
from contactpoint.access.roles import Capability
from contactpoint.access.rules import requires
from contactpoint.access.selectors import get_request_purpose
from contactpoint.api.serializers import ErrorSerializer
from contactpoint.search.criteria import (
    POSTCODE_MAX_LENGTH,
    CriteriaRefused,
    InvalidCriteria,
    build_criteria,
    parse_birth_date,
)
from contactpoint.search.services import (
    ChildNotFound,
    InvalidChildId,
    SearchUnavailable,
    search_children,
    view_child,
)

UNAVAILABLE = "ContactPoint could not record this request, so nothing was shown. Try again later."
NOT_FOUND = "There is no child with that ContactPoint ID that you can see."


# --- Input -------------------------------------------------------------------------------------


class SearchRequestSerializer(serializers.Serializer):
    """The criteria: family name with a date of birth, or both names with one more detail."""

    family_name = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default=""
    )
    given_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    date_of_birth = serializers.CharField(
        max_length=10,
        required=False,
        allow_blank=True,
        default="",
        help_text="A whole date (2015-03-27), a month (2015-03) or a year (2015)",
    )
    age_from = serializers.IntegerField(
        min_value=0, max_value=25, required=False, allow_null=True, default=None
    )
    age_to = serializers.IntegerField(
        min_value=0, max_value=25, required=False, allow_null=True, default=None
    )
    postcode = serializers.CharField(
        max_length=POSTCODE_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text="A full postcode (M14 5AB) or a district (M14)",
    )
    local_authority = serializers.CharField(
        max_length=9,
        required=False,
        allow_blank=True,
        default="",
        help_text="ONS code, such as E08000003",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Unknown fields are refused, not ignored: the reason for access, for one, is the one
        # stated for the token and can never be supplied (or borrowed) in a request.
        initial = self.initial_data if isinstance(self.initial_data, dict) else {}
        unknown = set(initial) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(
                "Only these fields are accepted: " + ", ".join(self.fields) + "."
            )
        today = timezone.localdate()
        try:
            birth = parse_birth_date(attrs["date_of_birth"], today=today)
        except ValueError as error:
            raise serializers.ValidationError({"date_of_birth": [str(error)]}) from error
        try:
            attrs["criteria"] = build_criteria(
                family_name=attrs["family_name"],
                given_name=attrs["given_name"],
                birth=birth,
                age_from=attrs["age_from"],
                age_to=attrs["age_to"],
                postcode=attrs["postcode"],
                local_authority=attrs["local_authority"],
                today=today,
            )
        except InvalidCriteria as invalid:
            raise serializers.ValidationError(invalid.errors) from invalid
        return attrs


# --- Output ------------------------------------------------------------------------------------


class SearchResultSerializer(serializers.Serializer):
    contactpoint_id = serializers.CharField()
    display_id = serializers.CharField()
    given_names = serializers.CharField()
    family_name = serializers.CharField()
    gender = serializers.CharField()
    date_of_birth = serializers.DateField()
    postcode_district = serializers.CharField(
        allow_null=True, help_text="Null for a shielded child"
    )
    status = serializers.CharField(source="status_label", allow_null=True)
    band = serializers.ChoiceField(choices=["strong", "possible"])


class SearchResponseSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=["matches", "no_matches", "too_many"])
    message = serializers.CharField(allow_blank=True)
    results = SearchResultSerializer(
        many=True, source="rows", help_text="Empty unless outcome is 'matches'"
    )


class IdentitySerializer(serializers.Serializer):
    contactpoint_id = serializers.CharField()
    display_id = serializers.CharField()
    given_names = serializers.CharField()
    family_name = serializers.CharField()
    gender = serializers.CharField()
    date_of_birth = serializers.DateField()


class StatusSerializer(serializers.Serializer):
    status = serializers.CharField()
    whereabouts = serializers.CharField()
    died_on = serializers.DateField(allow_null=True)
    left_england_on = serializers.DateField(allow_null=True)
    intends_to_return = serializers.CharField(allow_blank=True)
    archived_on = serializers.DateField(allow_null=True)
    is_shielded = serializers.BooleanField()


class NameSerializer(serializers.Serializer):
    given_names = serializers.CharField()
    family_name = serializers.CharField()
    kind = serializers.CharField()


class LocalAuthoritySerializer(serializers.Serializer):
    ons_code = serializers.CharField()
    name = serializers.CharField()


class AddressSerializer(serializers.Serializer):
    kind = serializers.CharField()
    line_1 = serializers.CharField()
    line_2 = serializers.CharField(allow_blank=True)
    town = serializers.CharField()
    postcode = serializers.CharField()
    from_date = serializers.DateField(allow_null=True)
    to_date = serializers.DateField(allow_null=True)


class CarerSerializer(serializers.Serializer):
    given_names = serializers.CharField()
    family_name = serializers.CharField()
    relationship = serializers.CharField()
    has_parental_responsibility = serializers.BooleanField()
    lives_with_child = serializers.BooleanField()
    line_1 = serializers.CharField(allow_blank=True)
    line_2 = serializers.CharField(allow_blank=True)
    town = serializers.CharField(allow_blank=True)
    postcode = serializers.CharField(allow_blank=True)
    phones = serializers.ListField(child=serializers.CharField())


class SchoolSerializer(serializers.Serializer):
    urn = serializers.CharField()
    name = serializers.CharField()
    phone = serializers.CharField()
    email = serializers.CharField(allow_blank=True)
    started_on = serializers.DateField()


class GpPracticeSerializer(serializers.Serializer):
    ods_code = serializers.CharField()
    name = serializers.CharField()
    phone = serializers.CharField()
    registered_on = serializers.DateField()


class InvolvementSerializer(serializers.Serializer):
    service_type = serializers.CharField()
    service = serializers.CharField(source="service_label")
    organisation_name = serializers.CharField()
    practitioner_name = serializers.CharField(allow_blank=True)
    practitioner_role = serializers.CharField(allow_blank=True)
    phone = serializers.CharField()
    secure_email = serializers.CharField(allow_blank=True)
    started_on = serializers.DateField()
    ended_on = serializers.DateField(allow_null=True)
    is_lead_professional = serializers.BooleanField()


class AssessmentSerializer(serializers.Serializer):
    exists = serializers.BooleanField()
    assessed_on = serializers.DateField(allow_null=True)
    held_by = serializers.CharField(allow_blank=True)


class TeamContactSerializer(serializers.Serializer):
    name = serializers.CharField()
    email = serializers.CharField(allow_blank=True)


class ContactTeamSerializer(serializers.Serializer):
    name = serializers.CharField()
    contacts = TeamContactSerializer(many=True)


class ShieldedNoticeSerializer(serializers.Serializer):
    message = serializers.CharField()
    team = ContactTeamSerializer()


class ChildSerializer(serializers.Serializer):
    """A child as access.policy projects it for this person; a hidden class of fields is null."""

    view = serializers.CharField(
        source="mode", help_text="'full', or 'restricted' for a shielded child"
    )
    shown = serializers.ListField(
        child=serializers.CharField(), help_text="The classes of fields shown"
    )
    identity = IdentitySerializer()
    status = StatusSerializer(allow_null=True)
    other_names = NameSerializer(many=True, allow_null=True)
    responsible_la = LocalAuthoritySerializer(allow_null=True)
    addresses = AddressSerializer(many=True, allow_null=True)
    carers = CarerSerializer(many=True, allow_null=True)
    school = SchoolSerializer(many=True, allow_null=True)
    gp_practice = GpPracticeSerializer(many=True, allow_null=True)
    involvements = InvolvementSerializer(many=True, allow_null=True)
    assessment_indicator = AssessmentSerializer(allow_null=True)
    sensitive_service_marker = serializers.CharField(allow_null=True)
    sensitive_service_details = InvolvementSerializer(many=True, allow_null=True)
    shielded_notice = ShieldedNoticeSerializer(allow_null=True)


# --- Views -------------------------------------------------------------------------------------


def _no_store(response: Response) -> Response:
    response["Cache-Control"] = "no-store"
    return response


def _stopped(refused: LookupRefused) -> Response:
    """A quota or monitoring rule stopped the lookup (access.protective): say why, show nothing."""
    return Response({"detail": str(refused)}, status=refused.http_status)


def _with_usage_warning(request: Request, response: Response) -> Response:
    """Near a quota, say so in a header: the body's shape is the same as ever."""
    warnings = usage_warnings(request.user)
    if warnings:
        response["ContactPoint-Usage-Warning"] = " ".join(warnings)
    return response


class ChildSearchView(APIView):
    """Search for a child. Every search is audited with its criteria and the IDs returned."""

    access_rule = requires(Capability.SEARCH_CHILDREN)

    @extend_schema(
        request=SearchRequestSerializer,
        responses={
            200: SearchResponseSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            503: ErrorSerializer,
        },
        summary="Search for a child (criteria in the body; at most the cap of results)",
    )
    def post(self, request: Request) -> Response:
        incoming = SearchRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            results = search_children(
                viewer=viewer_for(request.user),
                criteria=incoming.validated_data["criteria"],
                purpose=get_request_purpose(request),
                ip_address=client_ip(request._request),
            )
        except CriteriaRefused as refusal:
            return Response({"detail": str(refusal)}, status=status.HTTP_400_BAD_REQUEST)
        except LookupRefused as refused:
            return _stopped(refused)
        except SearchUnavailable:
            return Response({"detail": UNAVAILABLE}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return _with_usage_warning(
            request, _no_store(Response(SearchResponseSerializer(results).data))
        )


class ChildView(APIView):
    """A child's record as the view policy allows; every view is audited with what was shown."""

    access_rule = requires(Capability.VIEW_CHILD)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "contactpoint_id",
                str,
                OpenApiParameter.PATH,
                description="12 digits, such as 1234-5678-9012",
            )
        ],
        responses={
            200: ChildSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            503: ErrorSerializer,
        },
        summary="View a child's record",
    )
    def get(self, request: Request, contactpoint_id: str) -> Response:
        try:
            projection = view_child(
                viewer=viewer_for(request.user),
                contactpoint_id=contactpoint_id,
                purpose=get_request_purpose(request),
                ip_address=client_ip(request._request),
            )
        except InvalidChildId as invalid:
            return Response({"detail": str(invalid)}, status=status.HTTP_400_BAD_REQUEST)
        except ChildNotFound:
            return Response({"detail": NOT_FOUND}, status=status.HTTP_404_NOT_FOUND)
        except LookupRefused as refused:
            return _stopped(refused)
        except SearchUnavailable:
            return Response({"detail": UNAVAILABLE}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return _with_usage_warning(request, _no_store(Response(ChildSerializer(projection).data)))
