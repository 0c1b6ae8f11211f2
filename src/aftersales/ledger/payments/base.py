"""What every payment adapter speaks: a refund request, its result, and the error that says
whether trying again can help.

The key (`RefundRequest.key`) is our refund number (Alipay `out_request_no`, WeChat Pay
`out_refund_no`). It is the same on every retry of one refund, so a provider that already
paid it answers with the first result instead of paying again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

PROCESSING = "processing"  # accepted; the result comes by callback or by query
SUCCEEDED = "succeeded"  # the money left
FAILED = "failed"  # refused for good: no money moved


class PaymentError(Exception):
    """The call did not give a result. `retryable=True`: the network or the provider failed
    and the same request may be sent again later (same key: it cannot pay twice)."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class RefundRequest:
    key: str  # our refund number, ≤ 64 characters: the provider's idempotency key
    amount: Decimal  # what goes back now, two places
    total: Decimal  # what the original payment was (WeChat Pay asks for it)
    currency: str  # "CNY"
    order_number: str  # our order number for the payment (out_trade_no)
    payment_reference: str  # the provider's number for the payment (trade_no / transaction_id)
    reason: str = ""
    notify_url: str = ""  # where the provider calls back, when it does


@dataclass(frozen=True)
class RefundResult:
    key: str
    state: str  # PROCESSING | SUCCEEDED | FAILED
    provider_reference: str = ""  # the provider's own refund number
    amount: Decimal | None = None  # what the provider says it refunded
    message: str = ""  # the provider's reason for a failure
    succeeded_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)


class PaymentAdapter(Protocol):
    """One provider account. `refund` and `query` raise PaymentError when there is no answer;
    a definite refusal is a RefundResult with state FAILED."""

    def refund(self, request: RefundRequest) -> RefundResult: ...

    def query(self, key: str, request: RefundRequest | None = None) -> RefundResult: ...

    def parse_callback(self, headers: dict[str, str], body: bytes) -> RefundResult:
        """Verify and read a provider's notification; PaymentError(retryable=False) when the
        signature or the content does not hold."""
        ...
