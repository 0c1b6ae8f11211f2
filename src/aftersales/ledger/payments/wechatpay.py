"""WeChat Pay API v3 domestic refunds: the signed request, the signed answer, the refund query
and the encrypted refund notification. Amounts travel in fen (integers).

A non-retryable PaymentError means no money can have moved under the key: the request was
refused before WeChat Pay looked at the money (our signature, parameters, permissions) or
never left. An answer we cannot trust (bad signature, unknown state) is retryable: the same
key cannot pay twice, and a refund marked failed might be sent again under a new key.

`query` answers FAILED with message "not found" when WeChat Pay has no refund under the key
(404 RESOURCE_NOT_EXISTS): nothing was paid under it, so the same refund may be sent again.
"""

from __future__ import annotations

import base64
import binascii
import functools
import http.client
import json
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit

from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from aftersales.ledger.payments.base import (
    FAILED,
    PROCESSING,
    SUCCEEDED,
    PaymentError,
    RefundRequest,
    RefundResult,
)
from aftersales.notify.adapters.base import HTTP_TIMEOUT

REFUNDS_PATH = "/v3/refund/domestic/refunds"
AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
USER_AGENT = "aftersales-payments/1"  # WeChat Pay refuses requests without one
NOT_FOUND = "not found"
# ABNORMAL: the money left our balance but could not reach the customer's card. It is not a
# failure (refunding anew could pay twice): it stays processing, with the reason, until the
# merchant redirects it in WeChat Pay and it succeeds or closes.
STATES = {"SUCCESS": SUCCEEDED, "PROCESSING": PROCESSING, "ABNORMAL": PROCESSING, "CLOSED": FAILED}
FAILURE_MESSAGES = {
    "ABNORMAL": "ABNORMAL: the refund could not reach the customer's account",
    "CLOSED": "CLOSED: WeChat Pay closed the refund",
}
# "Try again with the same out_refund_no": the refund may even have been paid meanwhile.
RETRY_CODES = {"SYSTEM_ERROR", "FREQUENCY_LIMITED", "BIZ_ERR_NEED_RETRY"}
# Documented as "the refund application failed": no money moved under this key.
REFUSAL_CODES = {"NOT_ENOUGH", "USER_ACCOUNT_ABNORMAL", "INVALID_REQUEST", "RESOURCE_NOT_EXISTS"}
# Any other code (PARAM_ERROR, SIGN_ERROR, NO_AUTH, MCH_NOT_EXISTS, APPID_MCHID_NOT_MATCH, …)
# fails the same way until someone fixes the account or the code: not retryable.
CALLBACK_WINDOW = 300  # seconds a notification's timestamp may be off: refuses old replays
_MAX_ANSWER = 64 * 1024


@dataclass(frozen=True)
class WeChatPayConfig:
    mch_id: str
    serial_no: str  # our API certificate's serial number
    private_key_pem: str = field(repr=False)  # our API certificate's key
    platform_public_key_pem: str  # WeChat Pay's platform key (or platform certificate's key)
    platform_serial: str
    api_v3_key: str = field(repr=False)  # 32 characters, decrypts notifications
    base_url: str = "https://api.mch.weixin.qq.com"


class WeChatPayAdapter:
    """One WeChat Pay merchant account. A refund usually answers PROCESSING; the result comes
    by notification or by query."""

    def __init__(self, config: WeChatPayConfig):
        self.config = config
        self._private_key = _private_key(config.private_key_pem)
        self._platform_key = _public_key(config.platform_public_key_pem)
        api_v3_key = config.api_v3_key.encode()
        if len(api_v3_key) != 32:
            raise _permanent("the WeChat Pay APIv3 key must be 32 bytes")
        self._aead = AESGCM(api_v3_key)

    def refund(self, request: RefundRequest) -> RefundResult:
        status, headers, raw = self._call("POST", REFUNDS_PATH, refund_body(request))
        answer = _json(raw)
        if status == 200:
            self._verify(headers, raw)
            return _result(answer, request.key, answer.get("status"))
        code = _failure(status, answer)
        if code in REFUSAL_CODES:
            self._verify(headers, raw)  # only a signed answer may say no money moved
            message = f"{code}: {answer.get('message', '')}"
            return RefundResult(key=request.key, state=FAILED, message=message, raw=answer)
        raise _error(status, answer)

    def query(self, key: str, request: RefundRequest | None = None) -> RefundResult:
        path = f"{REFUNDS_PATH}/{quote(key, safe='')}"
        status, headers, raw = self._call("GET", path, b"")
        answer = _json(raw)
        if status == 200:
            self._verify(headers, raw)
            return _result(answer, key, answer.get("status"))
        if _failure(status, answer) == "RESOURCE_NOT_EXISTS" and status == 404:
            self._verify(headers, raw)
            return RefundResult(key=key, state=FAILED, message=NOT_FOUND, raw=answer)
        raise _error(status, answer)

    def parse_callback(self, headers: dict[str, str], body: bytes) -> RefundResult:
        """REFUND.SUCCESS / ABNORMAL / CLOSED. The receiver answers 200 (or 204) once it has
        recorded the result; anything else makes WeChat Pay send it again."""
        headers = {name.lower(): value for name, value in headers.items()}
        self._verify(headers, body, retryable=False)
        sent_at = headers.get("wechatpay-timestamp", "")
        if not (sent_at.isdigit() and abs(time.time() - int(sent_at)) <= CALLBACK_WINDOW):
            raise _permanent("the WeChat Pay notification is too old")
        resource = _json(body).get("resource")
        if not isinstance(resource, dict) or resource.get("algorithm") != "AEAD_AES_256_GCM":
            raise _permanent("the WeChat Pay notification has no readable resource")
        refund = _json(self._decrypt(resource))
        if refund.get("mchid") != self.config.mch_id:
            raise _permanent("the WeChat Pay notification is for another merchant")
        key, status = refund.get("out_refund_no"), refund.get("refund_status")
        if not key or status not in ("SUCCESS", "ABNORMAL", "CLOSED"):
            raise _permanent("the WeChat Pay notification has no final refund state")
        return _result(refund, key, status)

    def _decrypt(self, resource: dict[str, Any]) -> bytes:
        try:
            return self._aead.decrypt(
                str(resource.get("nonce", "")).encode(),
                base64.b64decode(str(resource.get("ciphertext", "")), validate=True),
                str(resource.get("associated_data", "")).encode(),
            )
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise _permanent("the WeChat Pay notification does not decrypt") from exc

    def _call(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        url = self.config.base_url.rstrip("/") + path
        headers = {
            "Authorization": self._authorization(method, url, body),
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if body:
            headers["Content-Type"] = "application/json"
        status, answer_headers, raw = http_exchange(method, url, body=body or None, headers=headers)
        if status >= 500:
            raise PaymentError(f"WeChat Pay answered HTTP {status}")
        return status, answer_headers, raw

    def _authorization(self, method: str, url: str, body: bytes) -> str:
        """The Authorization header: our signature over method, path, time, nonce and body."""
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16).upper()
        message = f"{method}\n{target}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"
        signature = base64.b64encode(
            self._private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        ).decode()
        return (
            f'{AUTH_SCHEME} mchid="{self.config.mch_id}",nonce_str="{nonce}",'
            f'signature="{signature}",timestamp="{timestamp}",serial_no="{self.config.serial_no}"'
        )

    def _verify(self, headers: dict[str, str], body: bytes, *, retryable: bool = True) -> None:
        """WeChat Pay's signature over "timestamp\\nnonce\\nbody\\n" with the platform key.
        On an answer the failure stays retryable: the money may have moved all the same."""
        if headers.get("wechatpay-serial") != self.config.platform_serial:
            raise PaymentError(
                "WeChat Pay signed with an unknown platform key", retryable=retryable
            )
        timestamp = headers.get("wechatpay-timestamp", "")
        nonce = headers.get("wechatpay-nonce", "")
        message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
        try:
            signature = base64.b64decode(headers.get("wechatpay-signature", ""), validate=True)
            self._platform_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, binascii.Error, ValueError) as exc:
            raise PaymentError("WeChat Pay's signature does not hold", retryable=retryable) from exc


def refund_body(request: RefundRequest) -> bytes:
    """The exact bytes we sign and send."""
    refund, total = _fen(request.amount), _fen(request.total)
    if refund > total:
        raise _permanent(f"refund {request.amount} exceeds the payment {request.total}")
    body: dict[str, Any] = (
        {"transaction_id": request.payment_reference}
        if request.payment_reference
        else {"out_trade_no": request.order_number}
    )
    body["out_refund_no"] = request.key
    if request.reason:
        body["reason"] = request.reason[:80]  # WeChat Pay's limit; it only shows it to the buyer
    if request.notify_url:
        body["notify_url"] = request.notify_url
    body["amount"] = {
        "refund": refund,
        "total": total,
        "currency": request.currency,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def yuan_to_fen(amount: Decimal) -> int:
    """Exact: 19.99 → 1999. Refuses floats and anything finer than a fen."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValueError(f"{amount!r} is not a finite Decimal")
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"{amount} is finer than a fen")
    return int(fen)


def fen_to_yuan(fen: int) -> Decimal:
    """Exact: 1999 → Decimal("19.99"), always two places."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise ValueError(f"{fen!r} is not a whole number of fen")
    return Decimal(fen).scaleb(-2)


def http_exchange(
    method: str, url: str, *, body: bytes | None, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """(status, lower-cased headers, body). Like notify's http_call (no redirects, a timeout,
    a bounded read), but WeChat Pay signs its answers in headers, which http_call drops."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise _permanent(f"not an http(s) URL: {url}")
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with _opener.open(request, timeout=HTTP_TIMEOUT) as response:
            return response.status, _lower(response.headers), response.read(_MAX_ANSWER)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, _lower(exc.headers), exc.read(_MAX_ANSWER)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or repr(exc)
        raise PaymentError(f"WeChat Pay {method} {urlsplit(url).netloc}: {reason}") from exc


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A payment API that moved must be reconfigured; a POST is never replayed elsewhere.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _result(answer: dict[str, Any], key: str, status: Any) -> RefundResult:
    state = STATES.get(status) if isinstance(status, str) else None
    if state is None:
        raise PaymentError(f"WeChat Pay answered an unknown refund state: {status}")
    if answer.get("out_refund_no") != key:
        raise PaymentError("WeChat Pay answered about another refund")
    fen = (answer.get("amount") or {}).get("refund")
    succeeded_at = answer.get("success_time") if state == SUCCEEDED else None
    return RefundResult(
        key=key,
        state=state,
        provider_reference=str(answer.get("refund_id", "")),
        amount=fen_to_yuan(fen) if isinstance(fen, int) else None,
        message=FAILURE_MESSAGES.get(status, ""),
        succeeded_at=datetime.fromisoformat(succeeded_at) if succeeded_at else None,
        raw=answer,
    )


def _permanent(message: str) -> PaymentError:
    return PaymentError(message, retryable=False)


def _failure(status: int, answer: dict[str, Any]) -> str:
    code = answer.get("code")
    return code if isinstance(code, str) else f"HTTP {status}"


def _error(status: int, answer: dict[str, Any]) -> PaymentError:
    code = _failure(status, answer)
    return PaymentError(
        f"WeChat Pay refused: {code}: {answer.get('message', '')}",
        retryable=code in RETRY_CODES or status == 429,
    )


def _json(raw: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(raw.decode("utf-8"), parse_float=Decimal) if raw else {}
    except ValueError:
        answer = None
    return answer if isinstance(answer, dict) else {}


def _fen(amount: Decimal) -> int:
    try:
        fen = yuan_to_fen(amount)
    except ValueError as exc:
        raise _permanent(f"refund amount: {exc}") from exc
    if fen <= 0:
        raise _permanent(f"refund amount {amount} must be more than 0")
    return fen


def _lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()} if headers else {}


@functools.lru_cache(maxsize=32)  # loading checks the key: ~70 ms each time
def _private_key(pem: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise _permanent("the WeChat Pay merchant key does not load") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise _permanent("the WeChat Pay merchant key must be an RSA private key")
    return key


def _public_key(pem: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise _permanent("the WeChat Pay platform key does not load") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise _permanent("the WeChat Pay platform key must be an RSA key")
    return key
