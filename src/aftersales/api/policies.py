"""Policies: list, read and export versions, save drafts, publish, and what-if a draft.

Reading needs policies.view_policyversion; saving, publishing and what-if need
policies.add_policyversion / change_policyversion (managers and admins). A version of another
shop is a 404, as if it did not exist. Document errors are 422 with the path of each
offending place in the document ("rules.3.when.all.0.op"); a document too big or too deep
to be a policy is refused before it is validated (policy.too_large).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from aftersales.accounts.selectors import shop_ids_for
from aftersales.api.schemas import ERRORS, Id, In
from aftersales.catalog.models import Category
from aftersales.channels.models import Channel, Shop
from aftersales.channels.selectors import shop_get_for_actor
from aftersales.channels.services import require_shop_perm
from aftersales.core.errors import Forbidden, Invalid
from aftersales.policies.models import Policy, PolicyVersion
from aftersales.policies.portable import CONTENT_TYPES, document_dump
from aftersales.policies.services import policy_publish, policy_save, policy_version_get
from aftersales.policies.whatif import MAX_DAYS, whatif_run

router = Router(tags=["policies"])

VIEW, ADD = "policies.view_policyversion", "policies.add_policyversion"


def _require(actor: AbstractBaseUser, perm: str) -> None:
    if not actor.has_perm(perm):
        raise Forbidden("permission.denied", _("You may not do this."), {"permission": perm})


def _version_for(actor: AbstractBaseUser, version_id: int) -> PolicyVersion:
    version = policy_version_get(shop_ids=shop_ids_for(actor), version_id=version_id)
    _require(actor, VIEW)
    return version


def _scope(
    shop: Shop, channel_id: int | None, category_id: int | None
) -> tuple[Channel | None, Category | None]:
    channel = category = None
    errors = {}
    if channel_id is not None:
        channel = Channel.objects.filter(pk=channel_id, shop=shop).first()
        if channel is None:
            errors["channel_id"] = _("Not a channel of this shop.")
    if category_id is not None:
        category = Category.objects.filter(pk=category_id, shop=shop).first()
        if category is None:
            errors["category_id"] = _("Not a category of this shop.")
    if errors:
        raise Invalid("policy.invalid", _("The scope is not valid."), errors)
    return channel, category


# ----------------------------------------------------------------------------- output


class VersionSummaryOut(Schema):
    id: int
    number: int
    status: str
    created_by: str | None
    created_at: datetime
    published_at: datetime | None

    @staticmethod
    def resolve_created_by(version: PolicyVersion) -> str | None:
        return version.created_by.get_username() if version.created_by_id else None


class PolicyOut(Schema):
    id: int
    shop_id: int
    channel_id: int | None
    category_id: int | None
    name: str
    created_at: datetime
    versions: list[VersionSummaryOut]

    @staticmethod
    def resolve_versions(policy: Policy) -> list[PolicyVersion]:
        return list(policy.versions.all())


class VersionOut(VersionSummaryOut):
    policy_id: int
    shop_id: int
    channel_id: int | None
    category_id: int | None
    name: str
    document: dict[str, Any]

    @staticmethod
    def resolve_channel_id(version: PolicyVersion) -> int | None:
        return version.policy.channel_id

    @staticmethod
    def resolve_category_id(version: PolicyVersion) -> int | None:
        return version.policy.category_id

    @staticmethod
    def resolve_name(version: PolicyVersion) -> str:
        return version.policy.name


class FiguresOut(Schema):
    cases: int
    automated: int
    automation_rate: Decimal = Field(description="automated / cases, 0–1")
    workload: int = Field(description="cases routed to a person")
    approvals: int = Field(description="automated decisions still needing a lead or manager")
    refund_total: Decimal
    actions: dict[str, int]


class ChangeOut(Schema):
    case_id: int
    reference: str
    live_rule: str
    live_action: str
    draft_rule: str
    draft_action: str
    refund_amount: Decimal
    live_params: dict[str, Any]
    draft_params: dict[str, Any]
    live_approval: str = Field(description="role that must approve the refund, or empty")
    draft_approval: str


class WhatIfOut(Schema):
    shop_id: int
    days: int
    since: datetime
    until: datetime
    draft_name: str
    cases: int
    live: FiguresOut
    draft: FiguresOut
    changed: int
    transitions: dict[str, int]
    examples: list[ChangeOut]


# ----------------------------------------------------------------------------- read


class PolicyQuery(Schema):
    shop_id: Id | None = None


@router.get("/policies", response={200: list[PolicyOut], **ERRORS})
def policy_list(request: HttpRequest, query: Query[PolicyQuery]):
    """The policies of the shops you see, each with its versions, newest first."""
    _require(request.auth, VIEW)
    shop_ids = shop_ids_for(request.auth)
    if query.shop_id is not None:
        shop_ids = [query.shop_id] if query.shop_id in shop_ids else []
    versions = (
        PolicyVersion.objects.select_related("created_by").defer("document").order_by("-number")
    )
    return list(
        Policy.objects.filter(shop_id__in=shop_ids)
        .prefetch_related(Prefetch("versions", queryset=versions))
        .order_by("shop_id", "id")
    )


@router.get("/policies/versions/{version_id}", response={200: VersionOut, **ERRORS})
def policy_version_detail(request: HttpRequest, version_id: int):
    """One version with its document."""
    return _version_for(request.auth, version_id)


@router.get("/policies/versions/{version_id}/export", response={200: None, **ERRORS})
def policy_version_export(
    request: HttpRequest, version_id: int, format: Literal["json", "yaml"] = "json"
):
    """The document as a JSON or YAML file, ready for `aftersales policy import`."""
    version = _version_for(request.auth, version_id)
    response = HttpResponse(
        document_dump(version.document, format=format),
        content_type=f"{CONTENT_TYPES[format]}; charset=utf-8",
    )
    filename = f"policy-{version.policy_id}-v{version.number}.{format}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# ----------------------------------------------------------------------------- write


class PolicyIn(In):
    shop_id: Id
    channel_id: Id | None = Field(default=None, description="narrow the policy to a channel")
    category_id: Id | None = Field(default=None, description="narrow it to a category")
    document: dict[str, Any] = Field(description='{"name", "rules": [...]}')


@router.post("/policies", response={201: VersionOut, **ERRORS})
def policy_add(request: HttpRequest, payload: PolicyIn):
    """Save the document as a new draft version of the shop's policy for that scope."""
    shop = shop_get_for_actor(request.auth, payload.shop_id)
    require_shop_perm(request.auth, ADD, shop.pk, "shop.not_found")
    channel, category = _scope(shop, payload.channel_id, payload.category_id)
    version = policy_save(
        actor=request.auth,
        shop=shop,
        document=payload.document,
        channel=channel,
        category=category,
    )
    return Status(201, version)


@router.post("/policies/versions/{version_id}/publish", response={200: VersionOut, **ERRORS})
def policy_version_publish(request: HttpRequest, version_id: int):
    """Make this version live; the version live before it retires."""
    version = policy_version_get(shop_ids=shop_ids_for(request.auth), version_id=version_id)
    return policy_publish(actor=request.auth, version=version)


class WhatIfIn(In):
    shop_id: Id
    document: dict[str, Any] = Field(description="the draft policy document")
    days: int = Field(default=90, ge=1, le=MAX_DAYS)
    channel_id: Id | None = Field(default=None, description="the draft's scope, as when saved")
    category_id: Id | None = None


@router.post("/policies/whatif", response={200: WhatIfOut, **ERRORS})
def policy_whatif(request: HttpRequest, payload: WhatIfIn):
    """Replay the cases filed in the last `days` days under the draft and the live policy."""
    shop = shop_get_for_actor(request.auth, payload.shop_id)
    # What-if is the editor's tool, and it reads every recent case: writers only.
    require_shop_perm(request.auth, ADD, shop.pk, "shop.not_found")
    channel, category = _scope(shop, payload.channel_id, payload.category_id)
    return whatif_run(
        shop=shop,
        document=payload.document,
        days=payload.days,
        channel=channel,
        category=category,
    )
