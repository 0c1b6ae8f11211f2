"""One error shape for the whole API: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

import logging

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from aftersales.core.errors import DomainError

log = logging.getLogger(__name__)

_LOCATIONS = {"body", "query", "path", "form", "file", "header", "cookie"}
# Names the views give their schema parameters (`payload` for bodies, `query` for filters).
SCHEMA_PARAMS = {"payload", "query"}


def error_response(
    status: int, code: str, message: str, fields: dict[str, str] | None = None
) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": code, "message": message, "fields": fields or {}}}, status=status
    )


def _field_path(loc: list | tuple) -> str:
    parts = list(loc)
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
        if parts and parts[0] in SCHEMA_PARAMS:
            parts = parts[1:]
    return ".".join(str(p) for p in parts) or "body"


def install_error_handlers(api: NinjaAPI) -> None:
    @api.exception_handler(DomainError)
    def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
        return error_response(exc.status, exc.code, exc.message, exc.fields)

    @api.exception_handler(ValidationError)
    def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        fields: dict[str, str] = {}
        for err in exc.errors:
            fields.setdefault(_field_path(err.get("loc", ())), str(err.get("msg", "")))
        return error_response(422, "request.invalid", _("Some fields are not valid."), fields)

    @api.exception_handler(AuthenticationError)
    def auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return error_response(
            401, "auth.required", _("Send a valid API token: Authorization: Bearer <token>.")
        )

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return error_response(404, "not_found", _("Not found."))

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if exc.status_code == 400:  # ninja could not parse the body
            return error_response(
                400,
                "request.malformed",
                _("The body is not valid JSON."),
                {"body": _("Not valid JSON.")},
            )
        return error_response(exc.status_code, f"http.{exc.status_code}", str(exc))

    @api.exception_handler(Exception)
    def unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "internal", _("Something went wrong on our side."))


class ApiErrorShapeMiddleware:
    """Answers under /api/ that Django or ninja produced as HTML (unknown path, the API root,
    a wrong HTTP method) get the API's JSON error shape too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith("/api/") or response.status_code not in (404, 405):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        if response.status_code == 405:
            allowed = response.get("Allow", "")
            shaped = error_response(
                405,
                "request.method_not_allowed",
                _("This endpoint does not take %(method)s.") % {"method": request.method},
                {"method": allowed},
            )
            shaped["Allow"] = allowed
            return shaped
        return error_response(404, "not_found", _("No such API endpoint."))
