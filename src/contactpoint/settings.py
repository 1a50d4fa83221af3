"""Django settings for ContactPoint, read from the environment only (see config.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from contactpoint import config
from contactpoint.config import Environment

ENVIRONMENT = config.read_environment()
IS_PRODUCTION = ENVIRONMENT is Environment.PRODUCTION
BASE_DIR = config.PROJECT_ROOT
VAR_DIR = config.VAR_DIR

SECRET_KEY = config.read_secret_key(ENVIRONMENT)
DEBUG = config.read_bool("CONTACTPOINT_DEBUG", default=ENVIRONMENT is Environment.DEMO)
if IS_PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production (unset CONTACTPOINT_DEBUG)")

ALLOWED_HOSTS = config.read_list(
    "CONTACTPOINT_ALLOWED_HOSTS",
    default=[] if IS_PRODUCTION else ["127.0.0.1", "localhost", "testserver"],
)
if IS_PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("CONTACTPOINT_ALLOWED_HOSTS must name the service's host names")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "rest_framework",
    "drf_spectacular",
    # Dependencies point one way: web -> synthetic -> index -> audit (see docs/architecture.md).
    "contactpoint.audit",
    "contactpoint.index",
    "contactpoint.access",
    "contactpoint.shielding",
    "contactpoint.matching",
    "contactpoint.feeds",
    "contactpoint.api",
    "contactpoint.synthetic",
    "contactpoint.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Which TOTP device verified this session (None until the second factor is given).
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Idle (15 min) and absolute (12 h) session limits; needs the user and messages above.
    "contactpoint.access.middleware.SessionTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Lock-out bookkeeping for repeated sign-in failures (docs: keep it late in the list).
    "axes.middleware.AxesMiddleware",
    # Every route declares an access rule; this refuses a request that does not meet it.
    "contactpoint.web.middleware.AccessRuleMiddleware",
]

ROOT_URLCONF = "contactpoint.urls"
WSGI_APPLICATION = "contactpoint.wsgi.application"

TEMPLATES: list[dict[str, Any]] = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "contactpoint.web.context_processors.service",
            ],
        },
    },
]

DATABASE_URL = config.read_str("DATABASE_URL") or config.default_database_url()
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the demo server read while a generator writes; IMMEDIATE avoids lock upgrades.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Key for the keyed hash that replaces NHS numbers on receipt (raw numbers are never stored).
# It must never change once loads have used it, or matching on NHS number breaks.
CONTACTPOINT_NHS_NUMBER_KEY = config.read_str("CONTACTPOINT_NHS_NUMBER_KEY")
if IS_PRODUCTION and len(CONTACTPOINT_NHS_NUMBER_KEY) < 32:
    raise ImproperlyConfigured(
        "CONTACTPOINT_NHS_NUMBER_KEY must be set (32+ characters) in production"
    )

# Search answers with at most this many children (hard maximum 50, enforced in search).
CONTACTPOINT_SEARCH_RESULT_CAP = config.read_int("CONTACTPOINT_SEARCH_RESULT_CAP", default=10)

REDIS_URL = config.read_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "contactpoint",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "contactpoint_cache",
        }
    }

# --- Accounts and sign-in (access app; threat model in docs/security.md) ----------------------
AUTH_USER_MODEL = "access.User"
AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses a locked-out username+address before a password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# NCSC password guidance: length and a deny-list, no composition rules, no forced expiry.
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "contactpoint.access.passwords.MaximumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "contactpoint.access.passwords.ServiceWordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
]
LOGIN_URL = "web:sign-in"
CSRF_FAILURE_VIEW = "contactpoint.web.errors.csrf_failure"

AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
# Keyed on the pair, so one address guessing one account is stopped without letting anyone
# lock a colleague out from elsewhere, or a council's shared address lock out everyone.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The cool-off runs from the lock-out; failures during it do not extend it indefinitely.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Sign-in views render their own lock-out answer (GOV.UK page or JSON) and audit it.
AXES_LOCKOUT_CALLABLE = "contactpoint.access.lockout.keep_view_response"
AXES_VERBOSE = False

SESSION_COOKIE_AGE = 12 * 60 * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_IDLE_TIMEOUT_SECONDS = 15 * 60
SESSION_ABSOLUTE_TIMEOUT_SECONDS = 12 * 60 * 60

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["contactpoint.api.authentication.PersonTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["contactpoint.api.permissions.MeetsAccessRule"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "EXCEPTION_HANDLER": "contactpoint.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ContactPoint API",
    "DESCRIPTION": (
        "People's API: a short-lived token is issued only after password and TOTP; every "
        "endpoint applies the same gates and role checks as the web pages."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
if not IS_PRODUCTION:
    # WhiteNoise warns on every request when its root is missing; production runs collectstatic.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
GOVUK_FRONTEND_DIST = BASE_DIR / "node_modules" / "govuk-frontend" / "dist" / "govuk"
STATICFILES_DIRS = [("govuk", GOVUK_FRONTEND_DIST)] if GOVUK_FRONTEND_DIST.is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if IS_PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if IS_PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = config.read_bool("CONTACTPOINT_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": config.read_str("LOG_LEVEL", default="INFO")},
    # django-axes announces every reset at INFO, which buries the demo accounts' print-out.
    "loggers": {"axes": {"level": "WARNING"}},
}
