"""Reads for access control: which shops a user sees, what they may approve."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser

from aftersales.accounts.models import Membership
from aftersales.accounts.roles import APPROVAL_LIMITS, ESCALATION_LADDER
from aftersales.channels.models import Shop


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
