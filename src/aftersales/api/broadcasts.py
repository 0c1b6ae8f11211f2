"""Broadcasts: one message to every customer matching a filter, with counts and progress.

Creating needs notify.add_broadcast, reading notify.view_broadcast (managers and admins). A
broadcast of another shop is a 404. Bad input is a 422 naming each field ("audience.sku",
"messages.vi.body") and writes nothing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from aftersales.api.schemas import ERRORS, Id, In
from aftersales.channels.selectors import shop_get_for_actor
from aftersales.notify.broadcasts import broadcast_create
from aftersales.notify.models import Broadcast
from aftersales.notify.selectors import broadcast_get_for_actor, broadcasts_list

router = Router(tags=["broadcasts"])


class AudienceIn(In):
    sku: str | None = Field(default=None, description="bought this SKU")
    channel_id: Id | None = Field(default=None, description="ordered on this channel")
    open_case_reason: str | None = Field(
        default=None, description="has an open case with this reason"
    )


class MessageIn(In):
    subject: str = Field(default="", description="not used by SMS")
    body: str = Field(description="Django template; {{ customer_name }}, {{ shop_name }}")


class BroadcastIn(In):
    shop_id: Id
    name: str
    channel: str = Field(description="email, sms or wechat")
    audience: AudienceIn = Field(description="every condition given must hold")
    messages: dict[str, MessageIn] = Field(
        description="per language (zh-hans, en, vi); the customer's language picks one"
    )


class BroadcastOut(Schema):
    id: int
    shop_id: int
    name: str
    channel: str
    audience: dict
    messages: dict
    state: str
    total: int = Field(description="recipients (distinct addresses)")
    queued: int = Field(description="messages written to the outbox so far")
    sent: int
    failed: int = Field(description="messages given up on after every retry")
    progress: Decimal = Field(description="(sent + failed) / total, 0–1")
    created_by: str | None
    created_at: datetime
    finished_at: datetime | None

    @staticmethod
    def resolve_progress(broadcast: Broadcast) -> Decimal:
        if broadcast.total == 0:
            return Decimal("1.0000") if broadcast.state == "done" else Decimal("0.0000")
        done = Decimal(broadcast.sent + broadcast.failed) / Decimal(broadcast.total)
        return min(done, Decimal(1)).quantize(Decimal("0.0001"))

    @staticmethod
    def resolve_created_by(broadcast: Broadcast) -> str | None:
        return broadcast.created_by.get_username() if broadcast.created_by_id else None


class BroadcastPage(Schema):
    items: list[BroadcastOut]
    next_cursor: int | None


class BroadcastQuery(Schema):
    shop_id: Id | None = None
    before_id: Id | None = Field(default=None, description="next_cursor of the previous page")
    limit: int = Field(default=50, ge=1, le=200)


@router.post("/broadcasts", response={201: BroadcastOut, **ERRORS})
def broadcast_add(request: HttpRequest, payload: BroadcastIn):
    """Check the broadcast and start it: its messages go out through the outbox."""
    shop = shop_get_for_actor(request.auth, payload.shop_id)
    broadcast = broadcast_create(
        actor=request.auth,
        shop=shop,
        name=payload.name,
        channel=payload.channel,
        audience=payload.audience.model_dump(),
        messages={lang: m.model_dump() for lang, m in payload.messages.items()},
    )
    return Status(201, broadcast)


@router.get("/broadcasts", response={200: BroadcastPage, **ERRORS})
def broadcast_list(request: HttpRequest, query: Query[BroadcastQuery]):
    """Broadcasts of the shops you see, newest first."""
    items, next_cursor = broadcasts_list(
        request.auth, shop_id=query.shop_id, before_id=query.before_id, limit=query.limit
    )
    return {"items": items, "next_cursor": next_cursor}


@router.get("/broadcasts/{broadcast_id}", response={200: BroadcastOut, **ERRORS})
def broadcast_detail(request: HttpRequest, broadcast_id: int):
    """One broadcast with its counts and progress."""
    return broadcast_get_for_actor(request.auth, broadcast_id)
