"""Shared set-up for the import tests: the catalogue the sample files name, and a runner."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from aftersales.channels.models import Channel, ChannelKind, Shop
from aftersales.sync.importing.runs import import_file
from aftersales.sync.models import ImportRun
from aftersales.tests import factories as f

SAMPLES = Path(__file__).resolve().parents[4] / "docs" / "import" / "samples"

# The SKUs the sample exports sell (the demo shop's catalogue has them too).
CATALOGUE = {
    "QM-PA01": "129.00",
    "QM-PA03": "29.90",
    "QM-DG05": "99.00",
    "QM-HA03": "129.00",
}


def catalogue(shop: Shop) -> None:
    for sku, price in CATALOGUE.items():
        f.product(shop, sku=sku, price=price)


def channel_of(shop: Shop, kind: str = ChannelKind.TAOBAO, code: str = "") -> Channel:
    return f.channel(shop, kind=kind, code=code or kind)


def run_import(channel: Channel, kind: str, name: str, *, preset: str = "") -> ImportRun:
    path = SAMPLES / name if not Path(name).is_absolute() else Path(name)
    with path.open("rb") as stream:
        return import_file(
            actor=None,
            channel=channel,
            kind=kind,
            stream=stream,
            filename=path.name,
            preset=preset,
        )


def problems(run: ImportRun) -> list[tuple[int, str, str, str]]:
    return [(p.row, p.column, p.value, p.message) for p in run.problems.order_by("row", "id")]


def counts(run: ImportRun) -> dict[str, int | str]:
    return {
        "status": run.status,
        "rows": run.rows,
        "created": run.created,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "failed": run.failed,
    }


def D(text: str) -> Decimal:
    return Decimal(text)
