"""Reads for access control (which shops a user sees, what they may approve) and for
routing (a shop's default team, its shifts)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from aftersales.accounts.models import Membership, Shift, Team
from aftersales.accounts.roles import APPROVAL_LIMITS, ESCALATION_LADDER
from aftersales.channels.models import Shop
from aftersales.core.errors import NotFound


def shop_ids_for(user: AbstractBaseUser) -> list[int]:
    """The shops a user may see, cached on the user object for the request."""
    cached = getattr(user, "_aftersales_shop_ids", None)
    if cached is not None:
        return cached
    if not user.is_active:
        ids: list[int] = []
    elif user.is_superuser:
        ids = list(Shop.objects.values_list("id", flat=True))
    else:
        ids = list(Membership.objects.filter(user=user).values_list("shop_id", flat=True))
    user._aftersales_shop_ids = ids
    return ids


def role_names(user: AbstractBaseUser) -> set[str]:
    cached = getattr(user, "_aftersales_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._aftersales_roles = cached
    return cached


def approval_limit(user: AbstractBaseUser) -> Decimal | None:
    """The most money this user may move without a higher role's approval (None: no limit)."""
    if user.is_superuser:
        return None
    limits = [APPROVAL_LIMITS[r] for r in role_names(user) if r in APPROVAL_LIMITS]
    if not limits:
        return Decimal("0.00")
    if any(limit is None for limit in limits):
        return None
    return max(limits)


def escalation_rank(user: AbstractBaseUser) -> int:
    """Position on the agent → team lead → manager ladder (superusers rank as managers)."""
    if user.is_superuser:
        return len(ESCALATION_LADDER) - 1
    names = role_names(user)
    ranks = [i for i, role in enumerate(ESCALATION_LADDER) if role in names]
    if "admin" in names:
        ranks.append(len(ESCALATION_LADDER) - 1)
    return max(ranks, default=-1)


def team_default(shop_id: int) -> Team | None:
    """The team whose queue takes the shop's cases that name no team."""
    return Team.objects.filter(shop_id=shop_id, is_default=True).first()


def shifts_for_shop(
    shop_id: int,
    *,
    ends_after: datetime | None = None,
    starts_before: datetime | None = None,
    user_id: int | None = None,
) -> QuerySet[Shift]:
    """The shop's shifts, optionally only those overlapping [ends_after, starts_before)."""
    shifts = Shift.objects.filter(shop_id=shop_id).select_related("user", "team")
    if ends_after is not None:
        shifts = shifts.filter(ends_at__gt=ends_after)
    if starts_before is not None:
        shifts = shifts.filter(starts_at__lt=starts_before)
    if user_id is not None:
        shifts = shifts.filter(user_id=user_id)
    return shifts.order_by("starts_at", "id")


def shift_get(*, shop_id: int, shift_id: int) -> Shift:
    """A shift of this shop, else 404 (another shop's shift does not exist here)."""
    shift = Shift.objects.filter(pk=shift_id, shop_id=shop_id).first()
    if shift is None:
        raise NotFound("shift.not_found", _("No such shift."), {"shift_id": str(shift_id)})
    return shift
