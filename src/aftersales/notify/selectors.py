"""Reads for notifications: who a broadcast reaches, and broadcasts as an actor may see them."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext as _

from aftersales.accounts.selectors import shop_ids_for
from aftersales.cases.models import Case
from aftersales.cases.states import OPEN
from aftersales.channels.models import Customer, Order, OrderLine
from aftersales.core.errors import Forbidden, NotFound
from aftersales.notify.models import Broadcast, NotifyChannel

# The customer's address on each channel a broadcast can use.
ADDRESS_FIELDS = {
    NotifyChannel.EMAIL: "email",
    NotifyChannel.SMS: "phone",
    NotifyChannel.WECHAT: "wechat_openid",
}


def broadcast_audience(*, shop_id: int, audience: dict[str, Any], channel: str) -> QuerySet:
    """Customers of the shop reachable on `channel` who match every condition given:
    bought `sku`, ordered on `channel_id`, have an open case with `open_case_reason`."""
    field = ADDRESS_FIELDS[channel]
    customers = Customer.objects.filter(shop_id=shop_id).exclude(**{field: ""})
    if audience.get("sku"):
        customers = customers.filter(
            Exists(
                OrderLine.objects.filter(
                    shop_id=shop_id, order__customer_id=OuterRef("pk"), sku=audience["sku"]
                )
            )
        )
    if audience.get("channel_id"):
        customers = customers.filter(
            Exists(
                Order.objects.filter(
                    shop_id=shop_id, customer_id=OuterRef("pk"), channel_id=audience["channel_id"]
                )
            )
        )
    if audience.get("open_case_reason"):
        customers = customers.filter(
            Exists(
                Case.objects.filter(
                    shop_id=shop_id,
                    customer_id=OuterRef("pk"),
                    reason=audience["open_case_reason"],
                    status__in=OPEN,
                )
            )
        )
    return customers


def broadcast_recipients_count(*, shop_id: int, audience: dict[str, Any], channel: str) -> int:
    """Distinct addresses: two customers sharing a phone get one message."""
    field = ADDRESS_FIELDS[channel]
    customers = broadcast_audience(shop_id=shop_id, audience=audience, channel=channel)
    return customers.values(field).distinct().count()


VIEW_BROADCAST = "notify.view_broadcast"


def _require_view(actor: AbstractBaseUser) -> None:
    if not actor.has_perm(VIEW_BROADCAST):
        raise Forbidden(
            "permission.denied", _("You may not do this."), {"permission": VIEW_BROADCAST}
        )


def broadcast_get_for_actor(actor: AbstractBaseUser, broadcast_id: int) -> Broadcast:
    broadcast = (
        Broadcast.objects.filter(pk=broadcast_id, shop_id__in=shop_ids_for(actor))
        .select_related("created_by")
        .first()
    )
    if broadcast is None:
        raise NotFound("broadcast.not_found", _("No such broadcast."))
    _require_view(actor)
    return broadcast


def broadcasts_list(
    actor: AbstractBaseUser, *, shop_id: int | None, before_id: int | None, limit: int
) -> tuple[list[Broadcast], int | None]:
    _require_view(actor)
    shop_ids = shop_ids_for(actor)
    if shop_id is not None:
        shop_ids = [shop_id] if shop_id in shop_ids else []
    rows = Broadcast.objects.filter(shop_id__in=shop_ids).select_related("created_by")
    if before_id is not None:
        rows = rows.filter(pk__lt=before_id)
    page = list(rows.order_by("-pk")[: limit + 1])
    next_cursor = page[limit - 1].pk if len(page) > limit else None
    return page[:limit], next_cursor
