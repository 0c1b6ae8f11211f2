"""WeChat Official Account template messages. The access token (two hours) is cached on the
account row for every worker; an answer that it expired refreshes it once and resends.
client_msg_id carries the delivery id, so WeChat itself drops a repeat."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

from aftersales.notify.adapters.base import DeliveryError, http_call, json_answer
from aftersales.notify.models import Outbox, WeChatAccount

# Fetch a new token this long before the old one runs out.
TOKEN_MARGIN = timedelta(minutes=5)
TOKEN_EXPIRED = {40001, 40014, 42001}
# The follower, the template or the account is wrong: the next try fails the same way.
PERMANENT_ERRCODES = {40003, 40013, 40037, 40125, 40164, 43004, 43019, 47003}


def _error(service: str, answer: dict) -> DeliveryError:
    errcode = answer.get("errcode", -1)
    return DeliveryError(
        f"WeChat {service} errcode {errcode}: {answer.get('errmsg', '')}",
        retryable=errcode not in PERMANENT_ERRCODES,
    )


def access_token(account: WeChatAccount, now: datetime) -> str:
    """The cached token while it is good, else a new one from /cgi-bin/token."""
    if account.access_token and account.token_expires_at and account.token_expires_at > now:
        return account.access_token
    query = urlencode(
        {"grant_type": "client_credential", "appid": account.app_id, "secret": account.app_secret}
    )
    status, raw = http_call("GET", f"{account.base_url.rstrip('/')}/cgi-bin/token?{query}")
    answer = json_answer(status, raw, "WeChat token")
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise _error("token", answer)
    lifetime = timedelta(seconds=int(answer.get("expires_in", 7200)))
    account.access_token, account.token_expires_at = token, now + lifetime - TOKEN_MARGIN
    WeChatAccount.objects.filter(pk=account.pk).update(
        access_token=token, token_expires_at=account.token_expires_at
    )
    return token


def _token_forget(account: WeChatAccount, token: str) -> None:
    # Only if no other worker has replaced it meanwhile.
    WeChatAccount.objects.filter(pk=account.pk, access_token=token).update(
        access_token="", token_expires_at=None
    )
    account.refresh_from_db(fields=["access_token", "token_expires_at"])


def request_body(message: Outbox) -> bytes:
    payload = message.payload
    return json.dumps(
        {
            "touser": message.recipient,
            "template_id": payload.get("template_id", ""),
            "url": payload.get("url", ""),
            "data": payload.get("data", {}),
            "client_msg_id": str(message.delivery_id),
        },
        ensure_ascii=False,
    ).encode()


def send(message: Outbox, *, now: datetime) -> None:
    account = WeChatAccount.objects.filter(shop_id=message.shop_id, active=True).first()
    if account is None:
        raise DeliveryError("the shop has no active WeChat account", retryable=False)
    body = request_body(message)
    base = account.base_url.rstrip("/")
    for first_try in (True, False):
        token = access_token(account, now)
        status, raw = http_call(
            "POST",
            f"{base}/cgi-bin/message/template/send?access_token={quote(token, safe='')}",
            body=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        answer = json_answer(status, raw, "WeChat template send")
        errcode = answer.get("errcode", -1)
        if errcode == 0:
            return
        if errcode in TOKEN_EXPIRED and first_try:
            _token_forget(account, token)
            continue
        raise _error("template send", answer)
