"""Writes for people and access: users with a role, shop memberships, shifts, API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.accounts.models import ApiToken, Membership, Shift, Team
from aftersales.accounts.roles import ROLE_PERMISSIONS
from aftersales.channels.models import Shop
from aftersales.core.errors import Invalid

TOKEN_PREFIX = "as_"
# last_used_at is refreshed at most this often, so reads do not write on every request.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)
# Longer than this is a typing mistake (a wrong day or month), not a shift.
SHIFT_MAX_LENGTH = timedelta(hours=24)


def token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def user_ensure(
    *, username: str, role: str, shops: list[Shop] | None = None, team: Team | None = None
) -> User:
    """Create the user if needed, put them in the role's group and the given shops."""
    if role not in ROLE_PERMISSIONS:
        raise Invalid(
            "user.unknown_role",
            f"Unknown role {role!r}",
            {"role": "one of " + ", ".join(sorted(ROLE_PERMISSIONS))},
        )
    user, _created = User.objects.get_or_create(username=username)
    user.groups.add(Group.objects.get(name=role))
    if role == "admin" and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    for shop in shops if shops is not None else Shop.objects.all():
        Membership.objects.update_or_create(
            shop=shop, user=user, defaults={"team": team} if team else {}
        )
    return user


@transaction.atomic
def token_create(*, user: User, name: str = "") -> str:
    """Create a token and return its key; the key itself is never stored."""
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, key_prefix=key[:10], key_hash=token_hash(key))
    return key


def token_authenticate(key: str) -> User | None:
    if not key.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=token_hash(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOKEN_TOUCH_INTERVAL:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


@transaction.atomic
def token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


@transaction.atomic
def shift_create(
    *,
    shop: Shop,
    user: User,
    starts_at: datetime,
    ends_at: datetime,
    team: Team | None = None,
) -> Shift:
    """Put a member of the shop on shift, optionally working for one of its teams."""
    errors: dict[str, str] = {}
    if not Membership.objects.filter(shop=shop, user=user).exists():
        errors["user_id"] = _("Not a member of this shop.")
    elif not user.is_active:
        errors["user_id"] = _("This user is deactivated.")
    if team is not None and team.shop_id != shop.pk:
        errors["team_id"] = _("Not a team of this shop.")
    if ends_at <= starts_at:
        errors["ends_at"] = _("A shift ends after it starts.")
    elif ends_at - starts_at > SHIFT_MAX_LENGTH:
        errors["ends_at"] = _("A shift lasts at most %(hours)s hours.") % {
            "hours": int(SHIFT_MAX_LENGTH.total_seconds() // 3600)
        }
    if errors:
        raise Invalid("shift.invalid", _("The shift is not valid."), errors)
    return Shift.objects.create(
        shop=shop, user=user, team=team, starts_at=starts_at, ends_at=ends_at
    )


@transaction.atomic
def shift_delete(*, shift: Shift) -> None:
    Shift.objects.filter(pk=shift.pk).delete()
