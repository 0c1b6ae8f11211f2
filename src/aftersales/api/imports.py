"""Imports over HTTP, for integrations: upload a channel's export, follow the run, download
its error report. The file is queued to the worker exactly as an admin upload is.

- `POST /imports` (multipart: channel_id, kind orders|cases, preset, file) → 202 with the run,
  `status` "queued";
- `GET /imports/{id}` → the run's status and counts;
- `GET /imports/{id}/errors` → the error report as CSV (row, column, value, message).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import File, Form, Router, Schema, Status, UploadedFile

from aftersales.accounts.selectors import shop_ids_for
from aftersales.api.schemas import ERRORS
from aftersales.channels.selectors import channel_get_for_actor
from aftersales.core.errors import NotFound
from aftersales.core.tabular import table_response
from aftersales.sync.importing.report import report_table
from aftersales.sync.importing.runs import import_queue
from aftersales.sync.models import ImportRun

router = Router(tags=["imports"])


class ImportOut(Schema):
    id: int
    channel_id: int
    kind: str
    preset: str
    filename: str
    status: str
    rows: int
    created: int
    updated: int
    unchanged: int
    failed: int
    message: str
    started_at: datetime
    finished_at: datetime | None
    errors_url: str

    @staticmethod
    def resolve_errors_url(run: ImportRun) -> str:
        return f"/api/v1/imports/{run.pk}/errors"


def _run_for(actor, run_id: int) -> ImportRun:
    run = ImportRun.objects.filter(pk=run_id, shop_id__in=shop_ids_for(actor)).first()
    if run is None:
        raise NotFound("import.not_found", _("No such import."), {"import_id": str(run_id)})
    return run


@router.post("/imports", response={202: ImportOut, **ERRORS})
def import_upload(
    request: HttpRequest,
    channel_id: Form[int],
    kind: Form[Literal["orders", "cases"]],
    file: File[UploadedFile],
    preset: Form[str] = "",
):
    """Queue a channel's CSV or XLSX export for import (see docs/import.md)."""
    channel = channel_get_for_actor(request.auth, channel_id)
    run = import_queue(actor=request.auth, channel=channel, kind=kind, upload=file, preset=preset)
    return Status(202, run)


@router.get("/imports/{import_id}", response={200: ImportOut, **ERRORS})
def import_detail(request: HttpRequest, import_id: int):
    return _run_for(request.auth, import_id)


@router.get("/imports/{import_id}/errors", response={200: None, **ERRORS})
def import_errors(request: HttpRequest, import_id: int):
    """The import's error report: one CSV line per problem (row, column, value, message)."""
    run = _run_for(request.auth, import_id)
    return table_response(report_table(run), format="csv", filename=f"import-{run.pk}-errors.csv")
