"""Background entry points (django-tasks) for channel sync: thin wrappers over the services."""

from __future__ import annotations

from django_tasks import task

from aftersales.sync.importing.runs import import_queued


@task()
def run_import(run_id: int) -> str:
    """Import a file staff uploaded in the admin; the run records the counts and problems."""
    return import_queued(run_id=run_id)
