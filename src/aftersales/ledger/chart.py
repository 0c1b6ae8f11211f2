"""The chart of accounts every shop starts with (DESIGN §3 item 6, issue 5)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from aftersales.ledger.models import AccountKind as K

# code, name, kind. Debit-normal: assets, expenses, contra revenue; the rest credit-normal.
CHART = [
    ("payment_clearing", _("Payment provider clearing"), K.ASSET),
    ("supplier_recoverable", _("Supplier recoverable"), K.ASSET),
    ("refunds_payable", _("Refunds payable"), K.LIABILITY),
    ("store_credit", _("Store credit liability"), K.LIABILITY),
    ("coupon_liability", _("Coupons issued"), K.LIABILITY),
    ("sales_returns", _("Sales returns and refunds"), K.CONTRA_REVENUE),
    ("return_shipping", _("Return shipping cost"), K.EXPENSE),
    ("intercept_fees", _("Intercept and lost-parcel fees"), K.EXPENSE),
    ("compensation", _("Compensation expense"), K.EXPENSE),
    ("platform_penalties", _("Platform penalties"), K.EXPENSE),
    ("repair_revenue", _("Repair revenue"), K.REVENUE),
    ("restocking_revenue", _("Restocking-fee revenue"), K.REVENUE),
    ("supplier_recoveries", _("Supplier warranty recoveries"), K.REVENUE),
]

DEBIT_NORMAL = frozenset({K.ASSET, K.EXPENSE, K.CONTRA_REVENUE})
