"""SMS through Alibaba Cloud Dysmsapi `SendSms` (RPC style, signature version 1.0).

The text itself is registered at Aliyun as a template; we send its code and parameters.
OutId carries the delivery id, so a repeat is recognisable in Aliyun's delivery reports.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from urllib.parse import quote

from aftersales.notify.adapters.base import DeliveryError, http_call, json_answer
from aftersales.notify.models import Outbox, SmsAccount

# Codes that will fail the same way next time: the number, the sign or template, the account.
PERMANENT_CODES = {
    "isv.MOBILE_NUMBER_ILLEGAL",
    "isv.MOBILE_COUNT_OVER_LIMIT",
    "isv.SMS_TEMPLATE_ILLEGAL",
    "isv.SMS_SIGNATURE_ILLEGAL",
    "isv.TEMPLATE_MISSING_PARAMETERS",
    "isv.INVALID_PARAMETERS",
    "isv.INVALID_JSON_PARAM",
    "isv.PARAM_LENGTH_LIMIT",
    "isv.BLACK_KEY_CONTROL_LIMIT",
    "isv.ACCOUNT_NOT_EXISTS",
    "isv.ACCOUNT_ABNORMAL",
    "InvalidAccessKeyId.NotFound",
    "SignatureDoesNotMatch",
}


def percent_encode(value: str) -> str:
    """Aliyun's POP encoding: RFC 3986 unreserved characters stay, everything else is %XX
    (space is %20, * is %2A, ~ stays)."""
    return quote(value, safe="~")


def string_to_sign(params: dict[str, str], method: str = "POST") -> str:
    canonical = "&".join(
        f"{percent_encode(key)}={percent_encode(params[key])}" for key in sorted(params)
    )
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def rpc_signature(params: dict[str, str], secret: str, method: str = "POST") -> str:
    digest = hmac.new(
        (secret + "&").encode(), string_to_sign(params, method).encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode()


def request_params(account: SmsAccount, message: Outbox, now: datetime) -> dict[str, str]:
    """Every parameter of the SendSms call, Signature included."""
    params = {
        "AccessKeyId": account.access_key_id,
        "Action": "SendSms",
        "Format": "JSON",
        "OutId": str(message.delivery_id),
        "PhoneNumbers": message.recipient,
        "RegionId": "cn-hangzhou",
        "SignName": account.sign_name,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": uuid.uuid4().hex,
        "SignatureVersion": "1.0",
        "TemplateCode": str(message.payload.get("template_code", "")),
        "TemplateParam": json.dumps(
            message.payload.get("template_param", {}),
            ensure_ascii=False,
            separators=(",", ":"),
            sort_keys=True,  # stable whatever order the database kept the keys in
        ),
        "Timestamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Version": "2017-05-25",
    }
    params["Signature"] = rpc_signature(params, account.access_key_secret)
    return params


def send(message: Outbox, *, now: datetime) -> None:
    account = SmsAccount.objects.filter(shop_id=message.shop_id, active=True).first()
    if account is None:
        raise DeliveryError("the shop has no active SMS account", retryable=False)
    params = request_params(account, message, now)
    body = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in params.items())
    status, raw = http_call(
        "POST",
        account.base_url,
        body=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    answer = json_answer(status, raw, "Aliyun SMS")
    code = str(answer.get("Code", ""))
    if code == "OK":
        return
    raise DeliveryError(
        f"Aliyun SMS {code or status}: {answer.get('Message', '')}",
        retryable=code not in PERMANENT_CODES,
    )
