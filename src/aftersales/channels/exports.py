"""The orders export: every order the list would show, one row per order line, as CSV or XLSX.

The order's own columns (number, status, customer, times, shipping fee, total) repeat on each of
its lines, so a spreadsheet can filter and sum the lines without a lookup.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import capfirst

from aftersales.channels.models import Channel, Customer, Order, OrderLine
from aftersales.channels.selectors import orders_matching
from aftersales.core.tabular import (
    CHUNK,
    Table,
    column_title,
    export_filename,
    keyset_pages,
    local_time,
)


def orders_table(actor: AbstractBaseUser, *, channel_id: int | None = None) -> Table:
    """The actor's orders under the list's filters, newest first, their lines in order."""
    header = [
        column_title(Order, "external_id"),
        column_title(Channel),
        column_title(Order, "status"),
        column_title(Customer),
        column_title(Customer, "phone"),
        column_title(Order, "placed_at"),
        column_title(Order, "paid_at"),
        column_title(Order, "shipped_at"),
        column_title(Order, "signed_at"),
        column_title(OrderLine, "sku"),
        column_title(OrderLine, "title"),
        column_title(OrderLine, "quantity"),
        column_title(OrderLine, "unit_price"),
        column_title(OrderLine, "discount"),
        column_title(OrderLine, "paid_amount"),
        column_title(Order, "shipping_fee"),
        column_title(Order, "total_paid"),
    ]
    lines = _lines(orders_matching(actor, channel_id=channel_id))
    return Table(
        capfirst(str(Order._meta.verbose_name_plural)),
        header,
        (_order_line_row(line) for line in lines),
    )


def _lines(orders: QuerySet[Order]) -> Iterator[OrderLine]:
    for ids in keyset_pages(orders):
        # A page of orders may hold many lines (up to 500 each): stream those too.
        yield from (
            OrderLine.objects.filter(order_id__in=ids)
            .select_related("order__channel", "order__customer")
            .order_by("-order_id", "id")
            .iterator(chunk_size=CHUNK)
        )


def _order_line_row(line: OrderLine) -> list[Any]:
    order = line.order
    customer = order.customer
    return [
        order.external_id,
        order.channel.code,
        order.status,
        customer.name if customer else "",
        customer.phone if customer else "",
        local_time(order.placed_at),
        local_time(order.paid_at),
        local_time(order.shipped_at),
        local_time(order.signed_at),
        line.sku,
        line.title,
        line.quantity,
        line.unit_price,
        line.discount,
        line.paid_amount,
        order.shipping_fee,
        order.total_paid,
    ]


def orders_filename(format: str) -> str:
    return export_filename("orders", f"{timezone.localtime():%Y%m%d-%H%M%S}", format=format)
