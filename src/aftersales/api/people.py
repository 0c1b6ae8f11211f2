"""People: a shop's shifts (list, add, remove) and the deactivation of a departed member.

Reading shifts needs accounts.view_shift; adding and removing them accounts.add_shift /
delete_shift; deactivating accounts.deactivate_member (managers and admins). Another shop's
shift or member is a 404, as if it did not exist.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from aftersales.accounts.models import Membership, Shift, Team
from aftersales.accounts.selectors import shift_get, shifts_for_shop, shop_ids_for
from aftersales.accounts.services import shift_create, shift_delete
from aftersales.api.schemas import ERRORS, AwareDatetime, Id, In
from aftersales.cases.assignment import agent_deactivate
from aftersales.channels.selectors import shop_get_for_actor
from aftersales.channels.services import require_shop_perm
from aftersales.core.errors import Conflict, Forbidden, Invalid, NotFound

router = Router(tags=["people"])


class ShiftOut(Schema):
    id: int
    shop_id: int
    user_id: int
    username: str
    team_id: int | None
    starts_at: datetime
    ends_at: datetime

    @staticmethod
    def resolve_username(shift: Shift) -> str:
        return shift.user.get_username()


class ShiftQuery(Schema):
    ends_after: AwareDatetime | None = Field(default=None, description="shifts still running then")
    starts_before: AwareDatetime | None = Field(default=None, description="shifts begun by then")
    user_id: Id | None = None


class ShiftIn(In):
    user_id: Id
    team_id: Id | None = Field(default=None, description="the team worked for; default: theirs")
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class DeactivationOut(Schema):
    user_id: int
    is_active: bool
    returned_case_ids: list[int] = Field(description="open cases sent back to a team queue")
    rerouted: int = Field(description="queued cases assigned to others right after")


@router.get("/shops/{shop_id}/shifts", response={200: list[ShiftOut], **ERRORS})
def shift_list(request: HttpRequest, shop_id: int, query: Query[ShiftQuery]):
    """The shop's shifts in start order; narrow to a window or one person."""
    require_shop_perm(request.auth, "accounts.view_shift", shop_id, "shop.not_found")
    return list(
        shifts_for_shop(
            shop_id,
            ends_after=query.ends_after,
            starts_before=query.starts_before,
            user_id=query.user_id,
        )
    )


@router.post("/shops/{shop_id}/shifts", response={201: ShiftOut, **ERRORS})
def shift_add(request: HttpRequest, shop_id: int, payload: ShiftIn):
    """Put a member on shift. Routing gives new cases only to agents on shift."""
    shop = shop_get_for_actor(request.auth, shop_id)
    require_shop_perm(request.auth, "accounts.add_shift", shop.pk, "shop.not_found")
    errors: dict[str, str] = {}
    user = User.objects.filter(pk=payload.user_id).first()
    if user is None:
        errors["user_id"] = _("Not a member of this shop.")
    team = None
    if payload.team_id is not None:
        team = Team.objects.filter(pk=payload.team_id, shop=shop).first()
        if team is None:
            errors["team_id"] = _("Not a team of this shop.")
    if errors:
        raise Invalid("shift.invalid", _("The shift is not valid."), errors)
    shift = shift_create(
        shop=shop, user=user, team=team, starts_at=payload.starts_at, ends_at=payload.ends_at
    )
    return Status(201, shift)


@router.delete("/shops/{shop_id}/shifts/{shift_id}", response={204: None, **ERRORS})
def shift_remove(request: HttpRequest, shop_id: int, shift_id: int):
    """Remove a shift (a planned one, or one entered by mistake)."""
    require_shop_perm(request.auth, "accounts.delete_shift", shop_id, "shop.not_found")
    shift_delete(shift=shift_get(shop_id=shop_id, shift_id=shift_id))
    return Status(204, None)


@router.post(
    "/shops/{shop_id}/members/{user_id}/actions/deactivate",
    response={200: DeactivationOut, **ERRORS},
)
def member_deactivate(request: HttpRequest, shop_id: int, user_id: int):
    """Deactivate a member who left: they can no longer sign in or use tokens, and every open
    case they hold goes back to its team queue (one timeline entry each) and is routed on."""
    actor = request.auth
    require_shop_perm(actor, "accounts.deactivate_member", shop_id, "shop.not_found")
    member = Membership.objects.select_related("user").filter(shop_id=shop_id, user_id=user_id)
    membership = member.first()
    if membership is None:
        raise NotFound("member.not_found", _("No such member."), {"user_id": str(user_id)})
    user = membership.user
    if user.pk == actor.pk:
        raise Conflict("member.self", _("You cannot deactivate yourself."))
    if user.is_superuser:
        raise Forbidden("permission.denied", _("A superuser is deactivated in the admin."))
    their_shops = set(Membership.objects.filter(user=user).values_list("shop_id", flat=True))
    if not their_shops <= set(shop_ids_for(actor)):
        # Deactivation reaches every shop the person works for, so the actor must see them all.
        raise Forbidden(
            "permission.denied", _("This person also works for shops you do not manage.")
        )
    result = agent_deactivate(user=user, actor=actor, now=timezone.now())
    return DeactivationOut(
        user_id=user.pk,
        is_active=False,
        returned_case_ids=result.returned,
        rerouted=result.rerouted,
    )
