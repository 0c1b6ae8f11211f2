"""Alipay open-platform refunds: alipay.trade.refund, its query and the refund notification,
all signed RSA2 (RSA-SHA256, PKCS#1 v1.5) both ways.

Alipay's refund answer carries `refund_fee`, the total refunded on the whole trade so far, not
this refund's amount; the notification's `refund_fee` is that same running total. So a paid
refund reports the amount we asked for (Alipay accepted it with fund_change "Y"), the query
reports Alipay's own `refund_amount` for this refund, and a notification reports no amount;
the raw answer keeps `refund_fee` either way.

A non-retryable PaymentError means no money can have moved under the key: Alipay refused the
request before looking at the money (40001/40002/40006: parameters, signature, permission) or
it never left. An answer we cannot trust (bad signature, unsigned, unknown state) and a key
Alipay already knows with other terms stay retryable: the same key cannot pay twice, and a
refund marked failed might be sent again under a new key.

`query` answers FAILED with message "not found" when Alipay has no successful refund under
the key (code 10000 without refund_status, or ACQ.TRADE_NOT_EXIST). Alipay documents that a
query sent within seconds of the refund may not see it yet; sending the same refund again
with the same key is safe, it cannot pay twice.
"""

from __future__ import annotations

import base64
import binascii
import functools
import http.client
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlencode

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from aftersales.ledger.payments.base import (
    FAILED,
    PROCESSING,
    SUCCEEDED,
    PaymentError,
    RefundRequest,
    RefundResult,
)
from aftersales.notify.adapters.base import DeliveryError, http_call

# China has kept one offset without daylight saving since 1991: exact, and needs no tzdata.
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
CENT = Decimal("0.01")

REFUND = "alipay.trade.refund"
REFUND_QUERY = "alipay.trade.fastpay.refund.query"
OK = "10000"
BUSINESS_FAILED = "40004"
NOT_FOUND = "not found"
# "System error, call again with the same parameters".
RETRY_SUB_CODES = {"ACQ.SYSTEM_ERROR"}
# The key already names a refund with other terms: money may have moved under it, so not a
# FAILED; retrying fails the same way until someone looks.
UNSURE_SUB_CODES = {"ACQ.DISCORDANT_REPEAT_REQUEST"}
# 20000 is "service unavailable"; 20001 (an expired app_auth_token) and the 4000x codes
# (missing or invalid parameters, no permission) fail the same way until someone fixes them.
RETRY_CODES = {"20000"}


@dataclass(frozen=True)
class AlipayConfig:
    app_id: str
    private_key_pem: str = field(repr=False)  # our application's key
    alipay_public_key_pem: str  # Alipay's, from the open-platform console
    gateway_url: str = "https://openapi.alipay.com/gateway.do"


class AlipayAdapter:
    """One Alipay application. Refunds are synchronous: SUCCEEDED or FAILED at once, PROCESSING
    only when Alipay accepts without moving money and the query cannot see the refund yet."""

    def __init__(self, config: AlipayConfig):
        self.config = config
        self._private_key = _private_key(config.private_key_pem)
        self._alipay_key = _public_key(config.alipay_public_key_pem)

    def refund(self, request: RefundRequest) -> RefundResult:
        biz = {
            "out_trade_no": request.order_number,
            "trade_no": request.payment_reference,
            "refund_amount": amount_text(request),
            "out_request_no": request.key,
            "refund_reason": request.reason[:256],
        }
        answer = self._call(REFUND, biz)
        if answer.get("code") != OK:
            return self._refusal(request.key, answer)
        if answer.get("fund_change") == "Y":
            return RefundResult(
                key=request.key,
                state=SUCCEEDED,
                provider_reference=str(answer.get("trade_no", "")),
                amount=request.amount,
                succeeded_at=shanghai_time(answer.get("gmt_refund_pay")),
                raw=answer,
            )
        # "N" is also Alipay's answer to a repeat of a refund it already paid.
        return self._after_no_fund_change(request, answer)

    def query(self, key: str, request: RefundRequest | None = None) -> RefundResult:
        if request is None:
            raise PaymentError(
                "an Alipay refund query needs the payment's numbers", retryable=False
            )
        biz = {
            "out_trade_no": request.order_number,
            "trade_no": request.payment_reference,
            "out_request_no": key,
            "query_options": ["gmt_refund_pay"],
        }
        answer = self._call(REFUND_QUERY, biz)
        code, sub_code = answer.get("code"), answer.get("sub_code")
        if code == BUSINESS_FAILED and sub_code == "ACQ.TRADE_NOT_EXIST":
            return RefundResult(key=key, state=FAILED, message=NOT_FOUND, raw=answer)
        if code != OK:
            raise _error(answer)
        status = answer.get("refund_status")
        if not status:
            return RefundResult(key=key, state=FAILED, message=NOT_FOUND, raw=answer)
        if status != "REFUND_SUCCESS" or answer.get("out_request_no", key) != key:
            raise PaymentError(f"Alipay answered an unknown refund state: {status}")
        return RefundResult(
            key=key,
            state=SUCCEEDED,
            provider_reference=str(answer.get("trade_no", "")),
            amount=_decimal(answer.get("refund_amount")),
            succeeded_at=shanghai_time(answer.get("gmt_refund_pay")),
            raw=answer,
        )

    def parse_callback(self, headers: dict[str, str], body: bytes) -> RefundResult:
        """Alipay's refund notification (form-encoded, to the payment's notify_url). The
        receiver must answer the plain text `success`, or Alipay sends it again."""
        params = _form(body)
        signature = params.pop("sign", "")
        sign_type = params.pop("sign_type", "")
        content = "&".join(f"{name}={value}" for name, value in sorted(params.items()))
        if sign_type != "RSA2" or not _verifies(self._alipay_key, content.encode(), signature):
            raise PaymentError("the Alipay notification's signature does not hold", retryable=False)
        if params.get("app_id") != self.config.app_id:
            raise PaymentError("the Alipay notification is for another app_id", retryable=False)
        key = params.get("out_biz_no") or params.get("out_request_no")
        if not key or not params.get("gmt_refund"):
            raise PaymentError("not an Alipay refund notification", retryable=False)
        return RefundResult(
            key=key,
            state=SUCCEEDED,
            provider_reference=params.get("trade_no", ""),
            succeeded_at=shanghai_time(params["gmt_refund"]),
            raw=params,
        )

    def _after_no_fund_change(self, request: RefundRequest, answer: dict) -> RefundResult:
        found = self.query(request.key, request)
        if found.state == SUCCEEDED:
            return found
        return RefundResult(
            key=request.key,
            state=PROCESSING,
            provider_reference=str(answer.get("trade_no", "")),
            message="Alipay accepted the refund without moving money yet",
            raw=answer,
        )

    def _refusal(self, key: str, answer: dict) -> RefundResult:
        if answer.get("code") != BUSINESS_FAILED or answer.get("sub_code") in (
            RETRY_SUB_CODES | UNSURE_SUB_CODES
        ):
            raise _error(answer)
        return RefundResult(key=key, state=FAILED, message=_detail(answer), raw=answer)

    def _call(self, method: str, biz: dict[str, Any]) -> dict[str, Any]:
        """The verified answer node of one gateway call."""
        params = {
            "app_id": self.config.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": datetime.now(SHANGHAI).strftime(TIME_FORMAT),
            "version": "1.0",
            "biz_content": json.dumps(
                {name: value for name, value in biz.items() if value},
                ensure_ascii=False,
                separators=(",", ":"),
            ),
        }
        params["sign"] = _sign(self._private_key, signing_content(params).encode())
        headers = {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"}
        try:
            status, raw = http_call(
                "POST", self.config.gateway_url, body=urlencode(params).encode(), headers=headers
            )
        except DeliveryError as exc:
            raise PaymentError(f"Alipay: {exc.message}", retryable=exc.retryable) from exc
        except http.client.HTTPException as exc:  # a cut answer: http_call lets these through
            raise PaymentError(f"Alipay: broken answer ({exc!r})") from exc
        if status >= 500:
            raise PaymentError(f"Alipay answered HTTP {status}")
        if status != 200:
            raise PaymentError(f"Alipay answered HTTP {status}", retryable=False)
        return self._verified_node(method, raw)

    def _verified_node(self, method: str, raw: bytes) -> dict[str, Any]:
        try:
            text = raw.decode("utf-8")
            spans = top_level_spans(text)
        except ValueError as exc:  # UnicodeDecodeError is one too
            raise PaymentError("Alipay answered something that is not a JSON object") from exc
        name = method.replace(".", "_") + "_response"
        if name not in spans:
            name = "error_response"
        if name not in spans:
            raise PaymentError(f"Alipay's answer has no {method} response")
        start, end = spans[name]
        node_text = text[start:end]
        node = json.loads(node_text, parse_float=Decimal)
        if not isinstance(node, dict):
            raise PaymentError(f"Alipay's {name} is not an object")
        if "sign" in spans:
            signature = json.loads(text[slice(*spans["sign"])])
            if not _verifies(self._alipay_key, node_text.encode(), signature):
                raise PaymentError("Alipay's answer signature does not hold")
        elif node.get("code") in (OK, BUSINESS_FAILED):
            # Only a signed answer may say what happened to the money.
            raise PaymentError("Alipay's answer is not signed")
        return node


def signing_content(params: dict[str, str]) -> str:
    """What an Alipay request signs: non-empty params but `sign`, sorted, `k=v` joined by &."""
    return "&".join(
        f"{name}={value}" for name, value in sorted(params.items()) if value and name != "sign"
    )


def amount_text(request: RefundRequest) -> str:
    """The amount as Alipay reads it, "12.34"; refuses what cannot go out exactly."""
    amount = request.amount
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise PaymentError(f"refund amount {amount!r} is not a Decimal", retryable=False)
    if amount <= 0 or amount > request.total or amount != amount.quantize(CENT):
        raise PaymentError(
            f"refund amount {amount} must be > 0, ≤ {request.total}, in fen", retryable=False
        )
    if request.currency != "CNY":
        raise PaymentError(f"Alipay refunds CNY, not {request.currency}", retryable=False)
    return str(amount.quantize(CENT))


def shanghai_time(text: Any) -> datetime | None:
    """Alipay's "2024-05-01 12:30:00" (notifications add ".123") in Beijing time."""
    if not isinstance(text, str) or not text:
        return None
    for pattern in (TIME_FORMAT, TIME_FORMAT + ".%f"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=SHANGHAI)
        except ValueError:
            continue
    return None


def top_level_spans(text: str) -> dict[str, tuple[int, int]]:
    """Where each value of a top-level JSON object starts and ends in `text`. Alipay signs the
    exact characters of its response node, so verifying needs them, not a re-serialisation."""
    decoder = json.JSONDecoder()
    spans: dict[str, tuple[int, int]] = {}
    at = _skip_space(text, 0)
    if text[at : at + 1] != "{":
        raise ValueError("not a JSON object")
    at = _skip_space(text, at + 1)
    if text[at : at + 1] == "}":
        return spans
    while True:
        name, at = decoder.raw_decode(text, at)
        at = _skip_space(text, at)
        if not isinstance(name, str) or text[at : at + 1] != ":":
            raise ValueError("not a JSON object")
        start = _skip_space(text, at + 1)
        _, end = decoder.raw_decode(text, start)
        spans[name] = (start, end)
        at = _skip_space(text, end)
        if text[at : at + 1] == "}":
            return spans
        if text[at : at + 1] != ",":
            raise ValueError("not a JSON object")
        at = _skip_space(text, at + 1)


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


def _error(answer: dict) -> PaymentError:
    code, sub_code = answer.get("code"), answer.get("sub_code")
    retryable = code in RETRY_CODES or (
        code == BUSINESS_FAILED and sub_code in RETRY_SUB_CODES | UNSURE_SUB_CODES
    )
    return PaymentError(f"Alipay refused: {_detail(answer)}", retryable=retryable)


def _detail(answer: dict) -> str:
    code, sub_code = answer.get("code", "?"), answer.get("sub_code", "")
    text = answer.get("sub_msg") or answer.get("msg", "")
    return f"{code} {sub_code}: {text}" if sub_code else f"{code}: {text}"


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _form(body: bytes) -> dict[str, str]:
    pairs = parse_qsl(body.decode("ascii", errors="replace"), keep_blank_values=True)
    charset = dict(pairs).get("charset", "utf-8")
    try:  # the notification is encoded in the charset the payment was made with
        return dict(parse_qsl(body.decode("ascii"), keep_blank_values=True, encoding=charset))
    except (LookupError, UnicodeError) as exc:
        raise PaymentError("the Alipay notification is not readable", retryable=False) from exc


@functools.lru_cache(maxsize=32)  # loading checks the key: ~70 ms each time
def _private_key(pem: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise PaymentError("the Alipay application key does not load", retryable=False) from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PaymentError("the Alipay application key is not RSA", retryable=False)
    return key


def _public_key(pem: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise PaymentError("the Alipay public key does not load", retryable=False) from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise PaymentError("the Alipay public key is not RSA", retryable=False)
    return key


def _sign(key: rsa.RSAPrivateKey, content: bytes) -> str:
    return base64.b64encode(key.sign(content, padding.PKCS1v15(), hashes.SHA256())).decode()


def _verifies(key: rsa.RSAPublicKey, content: bytes, signature: Any) -> bool:
    if not isinstance(signature, str) or not signature:
        return False
    try:
        key.verify(
            base64.b64decode(signature, validate=True), content, padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
