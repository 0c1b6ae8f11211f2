"""Signed webhooks: POST the event's JSON with a timestamp and an HMAC-SHA256 signature.

signature = hex(HMAC-SHA256(secret, f"{timestamp}.{body}")), over the exact body bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

from aftersales.notify.adapters.base import DeliveryError, http_call
from aftersales.notify.models import Outbox, WebhookEndpoint

# Answers that mean "try later"; any other 4xx means the receiver will never accept it.
_RETRY_STATUSES = {408, 409, 425, 429}


def signature(secret: str, timestamp: str, body: bytes) -> str:
    signed = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signed_by(secret: str, timestamp: str, sig: str, body: bytes) -> bool:
    """Whether `sig` is our signature of `body` at `timestamp` with `secret`: the check every
    signed intake makes (courier feeds, channel webhooks). Compared as bytes, in constant time:
    compare_digest refuses non-ASCII text with a TypeError, and header values arrive as
    latin-1 text."""
    expected = signature(secret, timestamp, body).encode()
    return hmac.compare_digest(expected, (sig or "").encode("utf-8", "replace"))


def body_bytes(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def send(message: Outbox, *, now: datetime) -> None:
    endpoint = WebhookEndpoint.objects.filter(
        pk=message.webhook_endpoint_id, shop_id=message.shop_id
    ).first()
    if endpoint is None or not endpoint.active:
        raise DeliveryError("the webhook endpoint was removed or deactivated", retryable=False)
    body = body_bytes(message.payload)
    timestamp = str(int(now.timestamp()))
    status, answer = http_call(
        "POST",
        endpoint.url,
        body=body,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "aftersales-webhooks/1",
            "X-Aftersales-Event": message.event,
            "X-Aftersales-Delivery": str(message.delivery_id),
            "X-Aftersales-Timestamp": timestamp,
            "X-Aftersales-Signature": signature(endpoint.secret, timestamp, body),
        },
    )
    if 200 <= status < 300:
        return
    text = answer[:200].decode("utf-8", errors="replace")
    raise DeliveryError(
        f"webhook answered HTTP {status}: {text}",
        retryable=status >= 500 or status in _RETRY_STATUSES or status < 400,
    )
