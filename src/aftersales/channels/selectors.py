"""Reads of channels and orders, scoped to the actor's shops."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from aftersales.accounts.selectors import shop_ids_for
from aftersales.channels.models import Channel, Order, Shop
from aftersales.core.errors import NotFound


def shop_get_for_actor(actor: AbstractBaseUser, shop_id: int) -> Shop:
    """A shop the actor belongs to, else 404 (as if it did not exist)."""
    shop = Shop.objects.filter(pk=shop_id, pk__in=shop_ids_for(actor)).first()
    if shop is None:
        raise NotFound("shop.not_found", _("No such shop."), {"shop_id": str(shop_id)})
    return shop


def channels_visible(actor: AbstractBaseUser) -> QuerySet[Channel]:
    return Channel.objects.filter(shop_id__in=shop_ids_for(actor))


def channel_get_for_actor(actor: AbstractBaseUser, channel_id: int) -> Channel:
    channel = channels_visible(actor).select_related("shop").filter(pk=channel_id).first()
    if channel is None:
        raise NotFound("channel.not_found", _("No such channel."), {"channel_id": str(channel_id)})
    return channel


def orders_visible(actor: AbstractBaseUser) -> QuerySet[Order]:
    return Order.objects.filter(shop_id__in=shop_ids_for(actor))


def order_get_for_actor(actor: AbstractBaseUser, order_id: int) -> Order:
    order = (
        orders_visible(actor)
        .select_related("channel", "customer")
        .prefetch_related("lines", "shipments")
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        raise NotFound("order.not_found", _("No such order."))
    return order


def order_find_for_actor(actor: AbstractBaseUser, channel_id: int, external_id: str) -> Order:
    """Look an order up by the channel's own number, as staff type it (one query on a hit)."""
    order = (
        orders_visible(actor)
        .select_related("channel", "customer")
        .prefetch_related("lines", "shipments")
        .filter(channel_id=channel_id, external_id=external_id)
        .first()
    )
    if order is None:
        channel_get_for_actor(actor, channel_id)  # an unknown channel is its own 404
        raise NotFound("order.not_found", _("No such order."), {"external_id": external_id})
    return order


def orders_matching(actor: AbstractBaseUser, *, channel_id: int | None) -> QuerySet[Order]:
    """The actor's orders under the list's filters (the list pages them, the export streams)."""
    qs = orders_visible(actor)
    if channel_id is not None:
        qs = qs.filter(channel_id=channel_id)
    return qs


def orders_list(
    actor: AbstractBaseUser, *, channel_id: int | None, before_id: int | None, limit: int
) -> tuple[list[Order], int | None]:
    qs = orders_matching(actor, channel_id=channel_id)
    if before_id is not None:
        qs = qs.filter(pk__lt=before_id)
    rows = list(
        qs.select_related("channel", "customer")
        .prefetch_related("lines", "shipments")
        .order_by("-pk")[: limit + 1]
    )
    next_cursor = rows[limit - 1].pk if len(rows) > limit else None
    return rows[:limit], next_cursor
