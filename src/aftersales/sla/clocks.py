"""The marketplace clocks of DESIGN §5 as data: which status starts each, how long it runs on
each kind of channel, and what the system does when it runs out — before the platform does.

Lengths are calendar time (the platforms count that way). A shop may set its own length per
channel, or for all its channels, in `ClockSetting`; otherwise the channel kind's default here
applies.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from aftersales.cases.models import Case
from aftersales.cases.states import ORDER_TYPES, RETURN_TYPES, CaseStatus, CaseType
from aftersales.channels.models import Channel, Order
from aftersales.sla.models import ClockSetting, TimerKind

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)

# We act this long before a platform's own automatic action, so the shop's policy decides
# rather than the platform's default.
ACT_AHEAD = HOUR

# Channel kinds that count like Taobao: 2 days to answer before shipment, 5 days after.
TAOBAO_STYLE = frozenset({"taobao", "tmall"})


@dataclass(frozen=True)
class Clock:
    kind: str
    status: str
    types: frozenset[str]
    default: dt.timedelta
    platform_acts: bool  # the platform acts itself at the deadline: we act ACT_AHEAD earlier


CASE_CLOCKS: tuple[Clock, ...] = (
    Clock(TimerKind.MERCHANT_ANSWER, CaseStatus.AWAITING_MERCHANT, ORDER_TYPES, 48 * HOUR, True),
    # The customer's own deadline: closing early would take the last hour from the customer.
    Clock(TimerKind.CUSTOMER_SHIP_RETURN, CaseStatus.AWAITING_RETURN, RETURN_TYPES, 7 * DAY, False),
    Clock(
        TimerKind.MERCHANT_CONFIRM_RECEIPT,
        CaseStatus.RETURN_IN_TRANSIT,
        RETURN_TYPES,
        10 * DAY,
        True,
    ),
    Clock(
        TimerKind.MERCHANT_REFUND,
        CaseStatus.INSPECTING,
        frozenset({CaseType.RETURN_REFUND}),
        7 * DAY,
        True,
    ),
    Clock(
        TimerKind.CUSTOMER_DISPUTE,
        CaseStatus.REJECTED,
        frozenset(CaseType.values),
        7 * DAY,
        False,
    ),
)
CLOCK_BY_KIND = {clock.kind: clock for clock in CASE_CLOCKS}

MERCHANT_SHIP_DEFAULT = 48 * HOUR
# Internal escalation while the merchant has not answered: the first rung (team lead) at 24 h,
# the second (manager) half-way between it and the moment we must act.
ESCALATION_FIRST = 24 * HOUR


def clock_for(case: Case) -> Clock | None:
    """The marketplace clock the case's status starts, or None."""
    for clock in CASE_CLOCKS:
        applies = case.status == clock.status and case.type in clock.types
        if applies and (clock.kind == TimerKind.CUSTOMER_DISPUTE or case.order_id):
            return clock
    return None


def _kind_default(kind: str, channel_kind: str, order: Order | None) -> dt.timedelta:
    if kind == TimerKind.MERCHANT_ANSWER and channel_kind in TAOBAO_STYLE:
        shipped = order is not None and order.shipped_at is not None
        return 5 * DAY if shipped else 2 * DAY
    if kind == TimerKind.MERCHANT_SHIP:
        return MERCHANT_SHIP_DEFAULT
    if kind == TimerKind.ESCALATION:
        return ESCALATION_FIRST
    return CLOCK_BY_KIND[kind].default


def clock_length(
    *, shop_id: int, channel: Channel | None, kind: str, order: Order | None = None
) -> dt.timedelta:
    """How long `kind` runs for this channel: the shop's setting for the channel, else its
    setting for every channel, else the channel kind's default."""
    settings = {
        (s.channel_id, s.kind): s.hours
        for s in ClockSetting.objects.filter(shop_id=shop_id, kind=kind)
    }
    if channel is not None and (channel.pk, kind) in settings:
        return settings[(channel.pk, kind)] * HOUR
    if (None, kind) in settings:
        return settings[(None, kind)] * HOUR
    return _kind_default(kind, channel.kind if channel is not None else "", order)


def length_text(length: dt.timedelta) -> str:
    """ "48 h", or whole days from 72 h on ("7 days")."""
    hours = int(length.total_seconds() // 3600)
    if hours < 72 or hours % 24:
        return _("%(hours)s h") % {"hours": hours}
    days = hours // 24
    return ngettext("%(days)s day", "%(days)s days", days) % {"days": days}
