"""Source systems' API: deliver a feed file, or one record, and fetch the load report.

Source systems are not people: they authenticate with the credential issued when the national
team registered them (`Authorization: Source cpsrc_...`), never with a person's token, and
people's gates do not apply to them. So these views declare the PUBLIC people-rule and check
the source credential themselves; a person or anonymous caller gets 401 on POST and 404 on GET.

POST /api/v1/feeds/loads            a whole file: text/csv or application/x-ndjson body
POST /api/v1/feeds/records          one record: a JSON object in the feed schema
GET  /api/v1/feeds/loads/<L123>/report   the load report (CSV), for the source that sent it
"""

from __future__ import annotations

import json
import tempfile
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contactpoint.access.rules import PUBLIC
from contactpoint.api.permissions import MeetsAccessRule
from contactpoint.feeds.loading import (
    REPORT_COLUMNS,
    LoadRefused,
    load_stream,
    report_rows,
)
from contactpoint.feeds.models import FeedLoad, LoadChannel, SourceSystem
from contactpoint.feeds.reading import FeedFormat
from contactpoint.feeds.services import authenticate_source

KEYWORD = b"source"
MAX_BODY_BYTES = 2 * 1024**3  # the 2 GB file; larger deliveries are split
LOAD_PREFIX = "L"
_CHUNK = 1 << 20


class SourceCredentialAuthentication(BaseAuthentication):
    """`Authorization: Source cpsrc_...`: an active registered source system."""

    def authenticate(self, request: Request) -> tuple[Any, SourceSystem] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Send: Authorization: Source <credential>.")
        source = authenticate_source(parts[1].decode("ascii", errors="replace"))
        if source is None:
            raise exceptions.AuthenticationFailed("That source credential is not valid.")
        from django.contrib.auth.models import AnonymousUser

        return AnonymousUser(), source

    def authenticate_header(self, request: Request) -> str:
        return 'Source realm="ContactPoint feeds"'


class SourceCredentialScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes the source credential (registered on import)."""

    target_class = "contactpoint.api.feeds.SourceCredentialAuthentication"
    name = "sourceCredential"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Source cpsrc_… credential issued when the source was registered",
        }


class IsSourceSystem(BasePermission):
    """POSTs need a source credential; other methods fall through to 405 or the view's 404."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method != "POST":
            return True
        if not isinstance(request.auth, SourceSystem):
            raise exceptions.NotAuthenticated("Send the source system's credential.")
        return True


class _SourceView(APIView):
    access_rule = PUBLIC  # people's gates do not apply: the source credential does (see above)
    authentication_classes = [SourceCredentialAuthentication]
    permission_classes = [MeetsAccessRule, IsSourceSystem]
    parser_classes: list[Any] = []  # bodies are read as streams, never parsed whole

    def _summary(self, load: FeedLoad, resumed: int) -> dict[str, Any]:
        return {
            "load": f"{LOAD_PREFIX}{load.pk}",
            "status": load.status,
            "resumed_after_line": resumed,
            "new": load.rows_new,
            "linked": load.rows_linked,
            "review": load.rows_review,
            "unchanged": load.rows_unchanged,
            "rejected": load.rows_rejected,
            "report": f"/api/v1/feeds/loads/{LOAD_PREFIX}{load.pk}/report",
        }


def _spool(request: Request) -> Any:
    """The request body in a temporary file, read in blocks (never held in memory whole)."""
    spooled = tempfile.SpooledTemporaryFile(max_size=8 * _CHUNK)  # noqa: SIM115 (returned)
    size = 0
    while block := request._request.read(_CHUNK):
        size += len(block)
        if size > MAX_BODY_BYTES:
            spooled.close()
            raise exceptions.ValidationError("The file is larger than 2 GB: split it.")
        spooled.write(block)
    spooled.seek(0)
    return spooled


class FeedLoadView(_SourceView):
    """Deliver a feed file; the answer is the load's outcome counts and where its report is."""

    @extend_schema(
        request={"text/csv": bytes, "application/x-ndjson": bytes},
        responses={200: dict, 401: dict},
        summary="Deliver a feed file (CSV or JSON Lines) from a registered source system",
    )
    def post(self, request: Request) -> Response:
        source = request.auth
        assert isinstance(source, SourceSystem)
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        if content_type in {"application/x-ndjson", "application/jsonl", "application/json"}:
            feed_format = FeedFormat.JSONL
        elif content_type in {"text/csv", "application/csv", ""}:
            feed_format = FeedFormat.CSV
        else:
            return Response(
                {"detail": "Send text/csv or application/x-ndjson."},
                status=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            )
        name = request.headers.get("X-File-Name", "")[:200] or f"api-upload.{feed_format}"
        with _spool(request) as body:
            try:
                result = load_stream(
                    source=source,
                    handle=body,
                    file_name=name,
                    feed_format=feed_format,
                    channel=LoadChannel.API,
                )
            except LoadRefused as error:
                raise exceptions.PermissionDenied(str(error)) from error
        return Response(self._summary(result.load, result.resumed_from_line))


class FeedRecordView(_SourceView):
    """Deliver one record (a single update): the same validation, matching and report."""

    @extend_schema(request=dict, responses={200: dict}, summary="Deliver one record")
    def post(self, request: Request) -> Response:
        source = request.auth
        assert isinstance(source, SourceSystem)
        raw = request._request.read(_CHUNK + 1)
        if len(raw) > _CHUNK:
            raise exceptions.ValidationError("One record is at most 1 MiB.")
        try:
            item = json.loads(raw or b"null")
        except json.JSONDecodeError as error:
            raise exceptions.ParseError(f"Not valid JSON: {error.msg}") from error
        if not isinstance(item, dict):
            raise exceptions.ValidationError("Send one JSON object in the feed schema.")
        line = json.dumps(item, ensure_ascii=False).encode("utf-8") + b"\n"
        with tempfile.TemporaryFile() as body:
            body.write(line)
            body.seek(0)
            result = load_stream(
                source=source,
                handle=body,
                file_name=f"api-record-{str(item.get('source_record_id', ''))[:64]}",
                feed_format=FeedFormat.JSONL,
                channel=LoadChannel.API,
            )
        row = result.load.rows.get()
        return Response(
            {
                **self._summary(result.load, result.resumed_from_line),
                "outcome": row.outcome,
                "contactpoint_id": row.contactpoint_id,
                "match_weight": row.match_weight,
                "reason": row.reason,
            }
        )


class FeedReportView(_SourceView):
    """The load report as CSV, for the source system that delivered the load only."""

    @extend_schema(responses={(200, "text/csv"): bytes}, summary="A load's report (CSV)")
    def get(self, request: Request, code: str) -> StreamingHttpResponse:
        source = request.auth
        load = None
        if isinstance(source, SourceSystem) and code.upper().startswith(LOAD_PREFIX):
            number = code[len(LOAD_PREFIX) :]
            if number.isdigit():
                load = FeedLoad.objects.filter(pk=int(number), source=source).first()
        if load is None:
            # Not "forbidden": a caller who is not that source learns nothing, not even that
            # the load exists.
            raise exceptions.NotFound("No such load for this source.")

        def lines() -> Any:
            import csv
            import io

            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(REPORT_COLUMNS)
            for row in report_rows(load):
                writer.writerow(row)
                if buffer.tell() > 64_000:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
            yield buffer.getvalue()

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="load-{load.pk}-report.csv"'
        return response
