"""One import, start to end: read the file's header, map its columns through the preset, let
the orders or cases importer stream the rows, and record the counts and every problem on the
run. Good rows land batch by batch while bad ones are reported, so a run is not one
transaction; a file that cannot be read at all (empty, missing a column, not CSV or XLSX)
lands nothing and fails the run."""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.channels.models import Channel
from aftersales.channels.services import require_shop_perm
from aftersales.core.errors import DomainError, Invalid
from aftersales.sync.importing.cases import CaseImporter
from aftersales.sync.importing.orders import OrderImporter
from aftersales.sync.importing.presets import (
    CASE_REQUIRED,
    ORDER_PRICE,
    ORDER_REQUIRED,
    PRESETS,
    Columns,
    Preset,
    preset_for,
)
from aftersales.sync.importing.problems import Counts, Problems
from aftersales.sync.importing.reader import FileProblem, open_table
from aftersales.sync.models import ImportKind, ImportRun, ImportStatus

Progress = Callable[[int, int, Counts], None]

_PERMS = {
    ImportKind.ORDERS: ("channels.add_order", "channels.change_order"),
    ImportKind.CASES: ("cases.add_case",),
}


def import_check(
    *, actor: AbstractBaseUser | None, channel: Channel, kind: str, preset: str = ""
) -> Preset:
    """Refuse what cannot start: an unknown kind or preset, or an actor who may not."""
    if kind not in ImportKind.values:
        raise Invalid("import.invalid", _("Import orders or cases."), {"kind": kind})
    for perm in _PERMS[kind]:
        require_shop_perm(actor, perm, channel.shop_id, "channel.not_found")
    chosen = preset_for(channel.kind, preset)
    if chosen is None:
        raise Invalid(
            "import.unknown_preset",
            _("Unknown column preset %(preset)s.") % {"preset": preset},
            {"preset": ", ".join(sorted(PRESETS))},
        )
    return chosen


def import_file(
    *,
    actor: AbstractBaseUser | None,
    channel: Channel,
    kind: str,
    stream: BinaryIO,
    filename: str,
    preset: str = "",
    progress: Progress | None = None,
    run: ImportRun | None = None,
) -> ImportRun:
    now = timezone.now()
    try:
        chosen = import_check(actor=actor, channel=channel, kind=kind, preset=preset)
    except DomainError as exc:
        if run is None:  # nothing started: the caller hears why
            raise
        # A queued upload whose uploader lost the right meanwhile, say: the run says so.
        run.status, run.message, run.finished_at = ImportStatus.FAILED, exc.message, now
        run.save(update_fields=["status", "message", "finished_at"])
        return run
    if run is None:
        run = ImportRun.objects.create(
            shop_id=channel.shop_id,
            channel=channel,
            kind=kind,
            preset=chosen.code,
            filename=filename[:200],
            by=actor if actor is not None and actor.is_authenticated else None,
            started_at=now,
        )
    else:
        run.status, run.started_at = ImportStatus.RUNNING, now
        run.save(update_fields=["status", "started_at"])
    problems, counts = Problems(run), Counts()
    status, message = ImportStatus.DONE, ""
    try:
        table = open_table(stream)
        columns, missing = _columns(table.headers, chosen, kind)
        if missing:
            for header in missing:
                problems.add(1, header, "", _("Required column missing."))
            status, message = ImportStatus.FAILED, _("Required columns are missing.")
        else:
            importer_class = OrderImporter if kind == ImportKind.ORDERS else CaseImporter
            importer = importer_class(
                channel=channel,
                preset=chosen,
                columns=columns,
                problems=problems,
                counts=counts,
                headers=table.headers,
            )

            def tick() -> None:
                _save(run, counts)
                if progress is not None:
                    progress(table.position(), table.size, counts)

            importer.run(table, tick)
    except FileProblem as exc:
        problems.add(exc.row, exc.column, "", exc.message)
        status, message = ImportStatus.FAILED, exc.message
    except Exception as exc:
        # Whatever else stopped it, the run must not stay "running": it failed, and says so
        # (the batches before it landed), and the error goes on to the log or the worker.
        run.status, run.finished_at = ImportStatus.FAILED, timezone.now()
        run.message = _("The import stopped after %(rows)s rows: %(error)s") % {
            "rows": counts.rows,
            "error": type(exc).__name__,
        }
        _save(run, counts, final=True)
        raise
    problems.flush()
    run.status, run.message, run.finished_at = status, message, timezone.now()
    _save(run, counts, final=True)
    return run


def _columns(headers: list[str], preset: Preset, kind: str) -> tuple[dict[str, int], list[str]]:
    """Our field → the file's column index; and the headers of required columns not found."""
    wanted: Columns = preset.orders if kind == ImportKind.ORDERS else preset.cases
    where = {}
    for index, header in enumerate(headers):
        where.setdefault(header.strip().lower(), index)
    columns = {}
    for name, names in wanted.items():
        for header in names:
            if header.lower() in where:
                columns[name] = where[header.lower()]
                break
    required = ORDER_REQUIRED if kind == ImportKind.ORDERS else CASE_REQUIRED
    missing = [wanted[name][0] for name in required if name not in columns]
    if kind == ImportKind.ORDERS and not any(name in columns for name in ORDER_PRICE):
        missing.append(" / ".join(wanted[name][0] for name in ORDER_PRICE if name in wanted))
    return columns, missing


def _save(run: ImportRun, counts: Counts, *, final: bool = False) -> None:
    run.rows, run.created, run.updated = counts.rows, counts.created, counts.updated
    run.unchanged, run.failed = counts.unchanged, counts.failed
    fields = ["rows", "created", "updated", "unchanged", "failed"]
    if final:
        fields += ["status", "message", "finished_at"]
    run.save(update_fields=fields)


def import_queue(
    *,
    actor: AbstractBaseUser,
    channel: Channel,
    kind: str,
    upload: UploadedFile,
    preset: str = "",
) -> ImportRun:
    """Keep an uploaded export and leave it to the worker (a big file takes a while); the run
    shows it queued until then."""
    chosen = import_check(actor=actor, channel=channel, kind=kind, preset=preset)
    filename = (upload.name or "upload")[:200]
    with transaction.atomic():
        run = ImportRun(
            shop_id=channel.shop_id,
            channel=channel,
            kind=kind,
            preset=chosen.code,
            filename=filename,
            status=ImportStatus.QUEUED,
            by=actor,
            started_at=timezone.now(),
        )
        run.source.save(filename, upload, save=False)
        run.save()
        transaction.on_commit(lambda: _enqueue(run.pk), robust=True)
    return run


def _enqueue(run_id: int) -> None:
    from aftersales.sync.tasks import run_import  # the task module imports this one

    run_import.enqueue(run_id)


def import_queued(*, run_id: int) -> str:
    """The worker's half of an upload. A run already taken (a retried task) is left alone."""
    taken = ImportRun.objects.filter(pk=run_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING
    )
    if not taken:
        return "skipped"
    run = ImportRun.objects.select_related("channel", "by").get(pk=run_id)
    with run.source.open("rb") as stream:
        run = import_file(
            actor=run.by,
            channel=run.channel,
            kind=run.kind,
            stream=stream,
            filename=run.filename,
            preset=run.preset,
            run=run,
        )
    return run.status
