"""Every audit action the access app writes, declared once (audit.action holds 40 characters)."""

from __future__ import annotations

from enum import StrEnum


class AccessAction(StrEnum):
    SIGN_IN = "access.sign_in"
    SIGN_IN_FAILED = "access.sign_in_failed"
    LOCKED_OUT = "access.locked_out"
    PASSWORD_ACCEPTED = "access.password_accepted"
    SECOND_FACTOR_FAILED = "access.second_factor_failed"
    SECOND_FACTOR_ENROLLED = "access.second_factor_enrolled"
    SIGN_OUT = "access.sign_out"
    SESSION_EXPIRED = "access.session_expired"
    PASSWORD_CHANGED = "access.password_changed"
    PURPOSE_STATED = "access.purpose_stated"
    REFUSED = "access.refused"
    CSRF_REFUSED = "access.csrf_refused"
    ACCOUNT_CREATED = "access.account_created"
    VETTING_RECORDED = "access.vetting_recorded"
    TRAINING_RECORDED = "access.training_recorded"
    SHIELDING_TRAINING_RECORDED = "access.shielding_training_recorded"
    AGREEMENT_RECORDED = "access.agreement_recorded"
    ACCOUNT_AUTHORISED = "access.account_authorised"
    ACCOUNT_SUSPENDED = "access.account_suspended"
    ACCOUNT_REENABLED = "access.account_reenabled"
    SECOND_FACTOR_RESET = "access.second_factor_reset"
    TEMPORARY_PASSWORD_SET = "access.temporary_password_set"
    ORGANISATION_STATUS_CHANGED = "access.organisation_status_changed"
    API_TOKEN_ISSUED = "access.api_token_issued"
    API_TOKEN_REVOKED = "access.api_token_revoked"


class Outcome(StrEnum):
    OK = "ok"
    REFUSED = "refused"
    FAILED = "failed"
