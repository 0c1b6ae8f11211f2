"""Shared schema pieces: money, aware datetimes, the error body, keyset pages."""

from __future__ import annotations

from ninja import Schema

# Shared with the domain's own input schemas (channel webhooks and pulls): defined in core.
from aftersales.core.schemas import AwareDatetime, Id, In, Money

__all__ = ["ERRORS", "AwareDatetime", "ErrorBody", "ErrorOut", "Id", "In", "Money"]


class ErrorBody(Schema):
    code: str
    message: str
    fields: dict[str, str]


class ErrorOut(Schema):
    error: ErrorBody


ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
