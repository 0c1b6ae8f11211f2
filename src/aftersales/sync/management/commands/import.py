"""aftersales import orders|cases FILE --channel CODE [--shop CODE] [--preset NAME]

Imports a channel's CSV or XLSX export, prints a progress bar on long files and a summary, and
writes the error report (row, column, value, message) next to the file when rows were
refused. Exits 1 when the file could not be imported at all, 0 otherwise.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from aftersales.channels.models import Channel
from aftersales.core.errors import DomainError
from aftersales.sync.importing.problems import Counts
from aftersales.sync.importing.report import report_write
from aftersales.sync.importing.runs import import_file
from aftersales.sync.models import ImportKind, ImportStatus

# Below this many bytes a file imports in a moment: no bar.
LONG_FILE_BYTES = 2_000_000


class Command(BaseCommand):
    help = "Import orders or after-sales requests from a channel's CSV or XLSX export."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=ImportKind.values)
        parser.add_argument("file")
        parser.add_argument("--channel", required=True, help="the channel's code")
        parser.add_argument("--shop", default="", help="the shop's code, when codes repeat")
        parser.add_argument("--preset", default="", help="column preset (default: by kind)")
        parser.add_argument("--progress", choices=["auto", "always", "never"], default="auto")

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        channel = self._channel(options["channel"], options["shop"])
        size = path.stat().st_size
        show = options["progress"] == "always" or (
            options["progress"] == "auto" and size >= LONG_FILE_BYTES
        )
        bar = tqdm(total=size, unit="B", unit_scale=True, disable=not show, file=self.stderr)

        def progress(position: int, total: int, counts: Counts) -> None:
            bar.total = total
            bar.n = min(position, total)
            bar.set_postfix(rows=counts.rows, refused=counts.failed, refresh=False)
            bar.refresh()

        with path.open("rb") as stream:
            try:
                run = import_file(
                    actor=None,
                    channel=channel,
                    kind=options["kind"],
                    stream=stream,
                    filename=path.name,
                    preset=options["preset"],
                    progress=progress,
                )
            except DomainError as exc:
                raise CommandError(exc.message) from exc
            finally:
                bar.close()
        seconds = (run.finished_at - run.started_at).total_seconds()
        self.stdout.write(
            f"{run.get_kind_display()} from {path.name} into {channel.code} "
            f"(preset {run.preset}): {run.rows} rows in {seconds:.1f} s; "
            f"created {run.created}, updated {run.updated}, unchanged {run.unchanged}, "
            f"refused rows {run.failed}. Import #{run.pk}."
        )
        problems = run.problems.count()
        if problems:
            report = path.with_name(f"{path.stem}.errors.csv")
            with report.open("wb") as out:
                report_write(run, out)
            self.stdout.write(f"{problems} problems: see {report}")
        if run.status == ImportStatus.FAILED:
            raise CommandError(run.message)

    def _channel(self, code: str, shop: str) -> Channel:
        found = Channel.objects.filter(code=code).select_related("shop")
        if shop:
            found = found.filter(shop__code=shop)
        channels = list(found[:2])
        if not channels:
            raise CommandError(f"No channel with code {code!r}.")
        if len(channels) > 1:
            raise CommandError(f"Several shops have a channel {code!r}: name one with --shop.")
        return channels[0]
