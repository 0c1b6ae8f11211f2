"""Channel adapters. Each module has `send(message, *, now)`: deliver one outbox row, or raise
DeliveryError (retryable or not). Adapters never write to the outbox themselves."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from aftersales.notify.adapters.base import DeliveryError

if TYPE_CHECKING:
    from aftersales.notify.models import Outbox

__all__ = ["DeliveryError", "Send", "adapter_for"]


class Send(Protocol):
    def __call__(self, message: Outbox, *, now: datetime) -> None: ...


def adapter_for(channel: str) -> Send:
    from aftersales.notify.adapters import email, sms_aliyun, webhook, wechat

    adapters: dict[str, Send] = {
        "email": email.send,
        "sms": sms_aliyun.send,
        "wechat": wechat.send,
        "webhook": webhook.send,
    }
    if channel not in adapters:
        raise DeliveryError(f"no adapter for channel {channel!r}", retryable=False)
    return adapters[channel]
