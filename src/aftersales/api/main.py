"""The JSON API at /api/v1/: one NinjaAPI with bearer-token auth and one error shape."""

from __future__ import annotations

from ninja import NinjaAPI

from aftersales.api import broadcasts, cases, orders, policies, refunds
from aftersales.api.auth import BearerToken
from aftersales.api.errors import install_error_handlers

api = NinjaAPI(
    title="Aftersales API",
    version="1",
    description=(
        "After-sales cases from every channel. Authenticate with "
        "`Authorization: Bearer <token>` (create one with `aftersales token USER --role ROLE`). "
        'Errors: `{"error": {"code", "message", "fields"}}`.'
    ),
    auth=BearerToken(),
    urls_namespace="api",
)
install_error_handlers(api)
api.add_router("", orders.router)
api.add_router("", cases.router)
api.add_router("", policies.router)
api.add_router("", broadcasts.router)
api.add_router("", refunds.router)
api.add_router("", "aftersales.api.people.router")
api.add_router("", "aftersales.api.ledger.router")
api.add_router("", "aftersales.api.logistics.router")
api.add_router("", "aftersales.api.inbound.router")
api.add_router("", "aftersales.api.imports.router")
