"""Explicit input and output shapes for the people's API."""

from __future__ import annotations

from rest_framework import serializers

from contactpoint.access.vocabularies import OTHER_REASON_MAX_LENGTH, AccessReason


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        max_length=256, trim_whitespace=False, style={"input_type": "password"}
    )
    code = serializers.RegexField(
        r"^\d{6}$", help_text="The 6-digit code from the authenticator app"
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as 'Authorization: Bearer <token>'; shown once")
    expires_at = serializers.DateTimeField()


class PurposeSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=AccessReason.choices)
    other = serializers.CharField(
        max_length=OTHER_REASON_MAX_LENGTH, required=False, allow_blank=True, default=""
    )


class GateSerializer(serializers.Serializer):
    gate = serializers.CharField()
    title = serializers.CharField()
    passed = serializers.BooleanField()
    message = serializers.CharField()


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    name = serializers.CharField()
    role = serializers.CharField()
    organisation = serializers.CharField()
    capabilities = serializers.ListField(child=serializers.CharField())
    gates = GateSerializer(many=True)
    purpose = serializers.CharField()
    token_expires_at = serializers.DateTimeField()


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
