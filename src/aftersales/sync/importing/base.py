"""What the order and case importers share: the file's columns mapped onto our fields, the
cell a field reads, and the column a problem is reported under."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.channels.models import Channel
from aftersales.sync.importing.presets import Preset
from aftersales.sync.importing.problems import Counts, Problems

MAX_KEY = 64  # order numbers, request numbers and SKUs, as the tables keep them


def too_long() -> str:
    return _("Too long: at most %(n)s characters.") % {"n": MAX_KEY}


class RowImporter:
    fields: Iterable[str] = ()  # our field names this importer reads

    def __init__(
        self,
        *,
        channel: Channel,
        preset: Preset,
        columns: dict[str, int],
        headers: list[str],
        problems: Problems,
        counts: Counts,
    ) -> None:
        self.channel = channel
        self.shop_id = channel.shop_id
        self.preset = preset
        self.columns = columns
        self.headers = headers
        self.problems = problems
        self.counts = counts
        self.tz = timezone.get_default_timezone()
        # Every field reads a cell: one the file lacks reads the blank cell past the last
        # column, which the reader adds to every row.
        self.at = {name: columns.get(name, len(headers)) for name in self.fields}

    def _cell(self, values: list[str], name: str) -> str:
        return values[self.at[name]]

    def _header(self, name: str) -> str:
        """The column as the file names it (for the report), or our field's name."""
        index = self.columns.get(name)
        return name if index is None else self.headers[index]
