"""Local fakes of Alipay's gateway and WeChat Pay's v3 refund API: they check our signatures,
keep refunds idempotent by our refund number, sign their answers, count the money that left,
and fail on demand. Their protocol code is written apart from the adapters on purpose, so a
mistake in an adapter's signing shows up instead of being mirrored.

    with fake_alipay() as fake:
        adapter = AlipayAdapter(fake.config)
        result = adapter.refund(fake.new_request("R1", Decimal("19.99")))
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import re
import secrets
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from aftersales.ledger.payments.alipay import AlipayConfig
from aftersales.ledger.payments.base import RefundRequest
from aftersales.ledger.payments.wechatpay import WeChatPayConfig
from aftersales.notify.adapters.base import http_call

# What `fail_next` does to the next refund calls (queries are never failed).
HTTP_500 = "http_500"  # a gateway error: nothing happens
REFUSE = "refuse"  # the provider's "balance not enough" to a new refund: nothing paid
SYSTEM_ERROR = "system_error"  # the provider's own "try again": nothing paid
PAY_THEN_500 = "pay_then_500"  # the money leaves, the client sees HTTP 500
PAY_THEN_DROP = "pay_then_drop"  # the money leaves, the connection closes without an answer
FORGED = "forged"  # handled as usual, but the answer is signed with a key not the provider's
PROCESSING = "processing"  # WeChat Pay only: a new refund waits for `complete`

SHANGHAI = timezone(timedelta(hours=8))
CENT = Decimal("0.01")
WECHAT_REFUNDS = "/v3/refund/domestic/refunds"
ALIPAY_REFUND = "alipay.trade.refund"
ALIPAY_QUERY = "alipay.trade.fastpay.refund.query"

_keys: dict[str, tuple[str, str]] = {}
_keys_lock = threading.Lock()


def key_pair(name: str) -> tuple[str, str]:
    """(private PEM, public PEM) called `name`, made once per test session: RSA 2048 is slow."""
    with _keys_lock:
        if name not in _keys:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            private = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            public = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            _keys[name] = (private.decode(), public.decode())
        return _keys[name]


@functools.cache  # loading a private key checks it: ~70 ms each time
def _signer(name: str) -> rsa.RSAPrivateKey:
    return serialization.load_pem_private_key(key_pair(name)[0].encode(), password=None)


def _verifier(name: str) -> rsa.RSAPublicKey:
    return serialization.load_pem_public_key(key_pair(name)[1].encode())


def _rsa_sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def _rsa_holds(key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def _money(amount: Decimal) -> str:
    return str(amount.quantize(CENT))


def _now() -> datetime:
    return datetime.now(SHANGHAI).replace(microsecond=0)


@dataclass(frozen=True)
class Received:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Trade:
    order_number: str
    reference: str  # Alipay trade_no / WeChat Pay transaction_id
    total: Decimal
    refunded: Decimal = Decimal("0.00")  # promised to refunds that are not closed


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # tests open 100 connections at once


class FakeServer:
    """HTTP on 127.0.0.1, port 0, in a daemon thread. Every request is answered under one
    lock, so concurrent retries of one refund see each other."""

    failure_kinds: frozenset[str] = frozenset()
    _reference_prefix = ""  # how the provider's payment numbers start

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.url = ""
        self._received: list[Received] = []
        self._payouts: list[tuple[str, Decimal]] = []
        self._failures: deque[str] = deque()
        self._trades: dict[str, Trade] = {}
        self._httpd: _Server | None = None

    @property
    def calls(self) -> int:
        with self.lock:
            return len(self._received)

    @property
    def received(self) -> list[Received]:
        with self.lock:
            return list(self._received)

    @property
    def payouts(self) -> list[tuple[str, Decimal]]:
        """(refund number, amount) for each time money actually left."""
        with self.lock:
            return list(self._payouts)

    def fail_next(self, kind: str, times: int = 1) -> None:
        if kind not in self.failure_kinds:
            raise ValueError(f"{type(self).__name__} cannot fail with {kind!r}")
        with self.lock:
            self._failures.extend([kind] * times)

    def add_trade(self, order_number: str, total: Decimal, reference: str = "") -> str:
        """A paid order the fake will refund, under the provider's number `reference` (made up
        when empty); returns that number. An order it already knows stays as it was."""
        with self.lock:
            if order_number not in self._trades:
                reference = reference or f"{self._reference_prefix}{len(self._trades) + 1:020d}"
                self._trades[order_number] = Trade(order_number, reference, total)
            return self._trades[order_number].reference

    def new_request(
        self,
        key: str,
        amount: Decimal,
        *,
        total: Decimal = Decimal("100.00"),
        order_number: str = "",
        reason: str = "",
        notify_url: str = "",
    ) -> RefundRequest:
        """A refund request against a trade this fake knows (made here when new)."""
        order_number = order_number or f"O-{key}"
        reference = self.add_trade(order_number, total)
        return RefundRequest(
            key=key,
            amount=amount,
            total=self._trades[order_number].total,
            currency="CNY",
            order_number=order_number,
            payment_reference=reference,
            reason=reason,
            notify_url=notify_url,
        )

    def start(self) -> Self:
        self._httpd = _Server(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _serve(self, request: Received) -> Answer | None:
        with self.lock:
            self._received.append(request)
            return self._answer(request)

    def _answer(self, request: Received) -> Answer | None:
        raise NotImplementedError

    def _take_failure(self) -> str | None:
        return self._failures.popleft() if self._failures else None

    def _find_trade(self, order_number: Any, reference: Any) -> Trade | None:
        trade = self._trades.get(order_number) if order_number else None
        if reference:
            by_reference = next(
                (t for t in self._trades.values() if t.reference == reference), None
            )
            if trade is not None and trade is not by_reference:
                return None
            trade = by_reference
        return trade

    def _pay(self, key: str, amount: Decimal) -> None:
        self._payouts.append((key, amount))


def _handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Received(
                method=self.command,
                path=self.path,
                headers={name.lower(): value for name, value in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            answer = server._serve(request)
            if answer is None:  # the money left; the client never hears of it
                self.close_connection = True
                with contextlib.suppress(OSError):  # the client may have gone already
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_POST = _handle

        def log_message(self, *args) -> None:  # keep test output clean
            pass

    return Handler


def _gateway_error() -> Answer:
    return Answer(500, b"<html><body>500 Internal Server Error</body></html>")


# ---------------------------------------------------------------- Alipay


@dataclass
class AlipayRefund:
    key: str
    order_number: str
    amount: Decimal
    refunded_after: Decimal  # the trade's running total once this one was paid
    paid_at: datetime


class FakeAlipay(FakeServer):
    """alipay.trade.refund and alipay.trade.fastpay.refund.query at `{url}/gateway.do`.
    Refunds pay at once; a repeat of a paid number answers fund_change "N", as Alipay does."""

    failure_kinds = frozenset({HTTP_500, REFUSE, SYSTEM_ERROR, PAY_THEN_500, PAY_THEN_DROP, FORGED})
    _reference_prefix = "2024"

    def __init__(self, app_id: str = "2021000000000001") -> None:
        super().__init__()
        self.app_id = app_id
        self._app_key = _verifier("alipay-app")
        self._alipay_key = _signer("alipay")
        self._forger_key = _signer("forger")
        self._refunds: dict[str, AlipayRefund] = {}

    @property
    def config(self) -> AlipayConfig:
        if not self.url:
            raise RuntimeError("start the fake first")
        return AlipayConfig(
            app_id=self.app_id,
            private_key_pem=key_pair("alipay-app")[0],
            alipay_public_key_pem=key_pair("alipay")[1],
            gateway_url=f"{self.url}/gateway.do",
        )

    def refund_callback(self, key: str) -> tuple[dict[str, str], bytes]:
        """The trade_status_sync notification Alipay posts after refund `key`."""
        with self.lock:
            refund = self._refunds[key]
            trade = self._trades[refund.order_number]
            closed = refund.refunded_after == trade.total
            params = {
                "notify_time": _now().strftime("%Y-%m-%d %H:%M:%S"),
                "notify_type": "trade_status_sync",
                "notify_id": uuid.uuid4().hex,
                "app_id": self.app_id,
                "charset": "utf-8",
                "version": "1.0",
                "sign_type": "RSA2",
                "trade_no": trade.reference,
                "out_trade_no": trade.order_number,
                "out_biz_no": key,
                "trade_status": "TRADE_CLOSED" if closed else "TRADE_SUCCESS",
                "total_amount": _money(trade.total),
                "refund_fee": _money(refund.refunded_after),
                "gmt_refund": refund.paid_at.strftime("%Y-%m-%d %H:%M:%S.000"),
            }
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        return headers, self.signed_form(params)

    def signed_form(self, params: dict[str, str], *, forged: bool = False) -> bytes:
        """`params` form-encoded and signed as Alipay signs a notification: every param but
        sign and sign_type, sorted, k=v joined by &."""
        content = "&".join(
            f"{name}={value}"
            for name, value in sorted(params.items())
            if name not in ("sign", "sign_type")
        )
        key = self._forger_key if forged else self._alipay_key
        return urlencode(dict(params, sign=_rsa_sign(key, content.encode()))).encode()

    def send_callback(self, key: str, url: str) -> int:
        headers, body = self.refund_callback(key)
        status, _ = http_call("POST", url, body=body, headers=headers)
        return status

    def _answer(self, request: Received) -> Answer | None:
        if request.method != "POST" or urlsplit(request.path).path != "/gateway.do":
            return Answer(404, b"Not Found")
        params = dict(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))
        method = params.get("method", "")
        known = method in (ALIPAY_REFUND, ALIPAY_QUERY)
        node_name = method.replace(".", "_") + "_response" if known else "error_response"
        refusal = self._common_refusal(params, known)
        if refusal is not None:
            return self._signed(node_name, refusal)
        failure = self._take_failure() if method == ALIPAY_REFUND else None
        if failure == HTTP_500:
            return _gateway_error()
        biz = json.loads(params["biz_content"])
        node = self._refund(biz, failure) if method == ALIPAY_REFUND else self._query(biz)
        answer = self._signed(node_name, node, forged=failure == FORGED)
        if failure == PAY_THEN_500:
            return _gateway_error()
        return None if failure == PAY_THEN_DROP else answer

    def _common_refusal(self, params: dict[str, str], known: bool) -> dict | None:
        for name in ("app_id", "method", "charset", "sign_type", "sign", "timestamp", "version"):
            if not params.get(name):
                return _alipay_error("40001", f"isv.missing-{name.replace('_', '-')}")
        checks = [
            (params["app_id"] == self.app_id, "isv.invalid-app_id"),
            (known, "isv.invalid-method"),
            (params["sign_type"] == "RSA2", "isv.invalid-signature-type"),
            (params.get("format", "JSON").upper() == "JSON", "isv.invalid-format"),
            (params["charset"].lower() == "utf-8", "isv.invalid-charset"),
            (params["version"] == "1.0", "isv.invalid-version"),
            (_fresh_shanghai(params["timestamp"]), "isv.invalid-timestamp"),
            (self._signature_holds(params), "isv.invalid-signature"),
            (_json_object(params.get("biz_content", "")), "isv.invalid-biz-content"),
        ]
        failed = next((sub_code for ok, sub_code in checks if not ok), None)
        return _alipay_error("40002", failed) if failed else None

    def _signature_holds(self, params: dict[str, str]) -> bool:
        content = "&".join(
            f"{name}={value}" for name, value in sorted(params.items()) if name != "sign" and value
        )
        return _rsa_holds(self._app_key, content.encode(), params["sign"])

    def _signed(self, node_name: str, node: dict, *, forged: bool = False) -> Answer:
        # Alipay's spacing, not ours: the client must verify the exact text, not re-serialise.
        node_text = json.dumps(node, ensure_ascii=False)
        key = self._forger_key if forged else self._alipay_key
        signature = _rsa_sign(key, node_text.encode())
        body = f'{{"{node_name}": {node_text}, "sign": "{signature}"}}'.encode()
        return Answer(200, body, {"Content-Type": "application/json;charset=utf-8"})

    def _refund(self, biz: dict, failure: str | None) -> dict:
        trade = self._find_trade(biz.get("out_trade_no"), biz.get("trade_no"))
        if trade is None:
            return _alipay_refusal("ACQ.TRADE_NOT_EXIST", "交易不存在")
        amount = _price(biz.get("refund_amount"))
        if amount is None:
            return _alipay_refusal("ACQ.INVALID_PARAMETER", "参数无效")
        key = biz.get("out_request_no") or trade.order_number
        existing = self._refunds.get(key)
        if existing is not None:
            if existing.order_number != trade.order_number or existing.amount != amount:
                return _alipay_refusal("ACQ.DISCORDANT_REPEAT_REQUEST", "不一致的请求")
            return self._refund_node(trade, existing, fund_change="N")
        if failure == REFUSE:
            return _alipay_refusal("ACQ.SELLER_BALANCE_NOT_ENOUGH", "卖家余额不足")
        if failure == SYSTEM_ERROR:
            return _alipay_refusal("ACQ.SYSTEM_ERROR", "系统错误")
        if trade.refunded + amount > trade.total:
            return _alipay_refusal("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
        trade.refunded += amount
        refund = AlipayRefund(key, trade.order_number, amount, trade.refunded, _now())
        self._refunds[key] = refund
        self._pay(key, amount)
        return self._refund_node(trade, refund, fund_change="Y")

    def _refund_node(self, trade: Trade, refund: AlipayRefund, *, fund_change: str) -> dict:
        return {
            "code": "10000",
            "msg": "Success",
            "trade_no": trade.reference,
            "out_trade_no": trade.order_number,
            "buyer_logon_id": "159****5620",
            "fund_change": fund_change,
            "refund_fee": _money(trade.refunded),
            "gmt_refund_pay": refund.paid_at.strftime("%Y-%m-%d %H:%M:%S"),
            "buyer_user_id": "2088101117955611",
            "send_back_fee": _money(refund.amount),
        }

    def _query(self, biz: dict) -> dict:
        trade = self._find_trade(biz.get("out_trade_no"), biz.get("trade_no"))
        if trade is None:
            return _alipay_refusal("ACQ.TRADE_NOT_EXIST", "交易不存在")
        key = biz.get("out_request_no") or trade.order_number
        node = {"code": "10000", "msg": "Success", "trade_no": trade.reference}
        node.update(out_trade_no=trade.order_number, out_request_no=key)
        refund = self._refunds.get(key)
        if refund is not None and refund.order_number == trade.order_number:
            node["total_amount"] = _money(trade.total)
            node["refund_amount"] = _money(refund.amount)
            node["refund_status"] = "REFUND_SUCCESS"
            if "gmt_refund_pay" in biz.get("query_options", []):
                node["gmt_refund_pay"] = refund.paid_at.strftime("%Y-%m-%d %H:%M:%S")
        return node


def _alipay_error(code: str, sub_code: str) -> dict:
    message = {"40001": "Missing Required Arguments", "40002": "Invalid Arguments"}[code]
    return {"code": code, "msg": message, "sub_code": sub_code, "sub_msg": sub_code}


def _alipay_refusal(sub_code: str, sub_msg: str) -> dict:
    return {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}


def _fresh_shanghai(text: str) -> bool:
    try:
        sent = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
    except ValueError:
        return False
    return abs(datetime.now(SHANGHAI) - sent) < timedelta(minutes=10)


def _json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _price(text: Any) -> Decimal | None:
    if not isinstance(text, str) or not re.fullmatch(r"\d{1,9}(\.\d{1,2})?", text):
        return None
    amount = Decimal(text)
    return amount if amount > 0 else None


# ---------------------------------------------------------------- WeChat Pay


@dataclass
class WeChatRefund:
    key: str
    refund_id: str
    order_number: str
    fen: int
    total_fen: int
    status: str  # SUCCESS | PROCESSING | ABNORMAL | CLOSED
    created_at: datetime
    notify_url: str = ""
    success_time: datetime | None = None


class FakeWeChatPay(FakeServer):
    """POST /v3/refund/domestic/refunds and GET …/refunds/{out_refund_no}. Refunds succeed at
    once unless `fail_next(PROCESSING)`; then `complete(key)` settles one and notifies."""

    failure_kinds = frozenset(
        {HTTP_500, REFUSE, SYSTEM_ERROR, PAY_THEN_500, PAY_THEN_DROP, FORGED, PROCESSING}
    )
    _reference_prefix = "4200"

    def __init__(self, mch_id: str = "1900000109") -> None:
        super().__init__()
        self.mch_id = mch_id
        self.serial_no = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
        self.platform_serial = "7132D72A03E93CDDF8C03BBD1F37EEDF7B1A8D4F"
        self.api_v3_key = secrets.token_hex(16)  # 32 characters
        self._merchant_key = _verifier("wechatpay-merchant")
        self._platform_key = _signer("wechatpay-platform")
        self._forger_key = _signer("forger")
        self._refunds: dict[str, WeChatRefund] = {}

    @property
    def config(self) -> WeChatPayConfig:
        if not self.url:
            raise RuntimeError("start the fake first")
        return WeChatPayConfig(
            mch_id=self.mch_id,
            serial_no=self.serial_no,
            private_key_pem=key_pair("wechatpay-merchant")[0],
            platform_public_key_pem=key_pair("wechatpay-platform")[1],
            platform_serial=self.platform_serial,
            api_v3_key=self.api_v3_key,
            base_url=self.url,
        )

    def complete(self, key: str, status: str = "SUCCESS", url: str = "") -> int | None:
        """Settle a PROCESSING refund (SUCCESS pays it; CLOSED frees the amount) and post the
        notification to `url`, else to the request's notify_url. The receiver's HTTP status,
        or None when there is nowhere to post."""
        with self.lock:
            refund = self._refunds[key]
            if refund.status != "PROCESSING" or status not in ("SUCCESS", "ABNORMAL", "CLOSED"):
                raise ValueError(f"cannot move {key} from {refund.status} to {status}")
            refund.status = status
            if status == "SUCCESS":
                refund.success_time = _now()
                self._pay(key, _yuan(refund.fen))
            elif status == "CLOSED":
                self._trades[refund.order_number].refunded -= _yuan(refund.fen)
            target = url or refund.notify_url
        return self.send_callback(key, target) if target else None

    def refund_callback(self, key: str) -> tuple[dict[str, str], bytes]:
        """The signed REFUND.<status> notification, its resource encrypted with the APIv3 key."""
        with self.lock:
            refund = self._refunds[key]
            if refund.status == "PROCESSING":
                raise ValueError(f"{key} is still processing: WeChat Pay sends nothing yet")
            resource = self._resource(refund)
        nonce = secrets.token_hex(6)  # 12 characters, as WeChat Pay sends
        ciphertext = AESGCM(self.api_v3_key.encode()).encrypt(
            nonce.encode(), json.dumps(resource, ensure_ascii=False).encode(), b"refund"
        )
        notification = {
            "id": f"EV-{uuid.uuid4().hex}",
            "create_time": _now().isoformat(),
            "resource_type": "encrypt-resource",
            "event_type": f"REFUND.{refund.status}",
            "summary": {"SUCCESS": "退款成功", "ABNORMAL": "退款异常"}.get(
                refund.status, "退款关闭"
            ),
            "resource": {
                "original_type": "refund",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(ciphertext).decode(),
                "associated_data": "refund",
                "nonce": nonce,
            },
        }
        body = json.dumps(notification, ensure_ascii=False).encode()
        return {"Content-Type": "application/json", **self.signed_headers(body)}, body

    def signed_headers(
        self, body: bytes, *, forged: bool = False, timestamp: int | None = None
    ) -> dict[str, str]:
        """Wechatpay-* headers signing `body` as the platform (or a forger) does, now or at
        `timestamp` (Unix seconds)."""
        timestamp = str(int(time.time()) if timestamp is None else timestamp)
        nonce = secrets.token_hex(16).upper()
        message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
        return {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": _rsa_sign(
                self._forger_key if forged else self._platform_key, message
            ),
            "Wechatpay-Serial": self.platform_serial,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }

    def send_callback(self, key: str, url: str) -> int:
        headers, body = self.refund_callback(key)
        status, _ = http_call("POST", url, body=body, headers=headers)
        return status

    def _answer(self, request: Received) -> Answer | None:
        if not self._authorized(request):  # unsigned: WeChat Pay cannot tell who asked
            body = json.dumps({"code": "SIGN_ERROR", "message": "签名错误"}, ensure_ascii=False)
            return Answer(401, body.encode(), {"Content-Type": "application/json"})
        path = urlsplit(request.path).path
        failure = None
        if request.method == "POST" and path == WECHAT_REFUNDS:
            failure = self._take_failure()
            if failure == HTTP_500:
                return _gateway_error()
            status, payload = self._refund(request.body, failure)
        elif request.method == "GET" and path.startswith(WECHAT_REFUNDS + "/"):
            status, payload = self._query(unquote(path[len(WECHAT_REFUNDS) + 1 :]))
        else:
            status, payload = 404, {"code": "NOT_FOUND", "message": "no such API"}
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "Request-ID": uuid.uuid4().hex}
        answer = Answer(status, body, headers | self.signed_headers(body, forged=failure == FORGED))
        if failure == PAY_THEN_500:
            return _gateway_error()
        return None if failure == PAY_THEN_DROP else answer

    def _authorized(self, request: Received) -> bool:
        scheme, _, rest = request.headers.get("authorization", "").partition(" ")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        timestamp = fields.get("timestamp", "")
        if (
            scheme != "WECHATPAY2-SHA256-RSA2048"
            or fields.get("mchid") != self.mch_id
            or fields.get("serial_no") != self.serial_no
            or not timestamp.isdigit()
            or abs(time.time() - int(timestamp)) > 300
        ):
            return False
        head = f"{request.method}\n{request.path}\n{timestamp}\n{fields.get('nonce_str', '')}\n"
        message = head.encode() + request.body + b"\n"
        return _rsa_holds(self._merchant_key, message, fields.get("signature", ""))

    def _refund(self, body: bytes, failure: str | None) -> tuple[int, dict]:
        order = _json_dict(body)
        amount = order.get("amount") if isinstance(order.get("amount"), dict) else {}
        key, fen, total_fen = order.get("out_refund_no"), amount.get("refund"), amount.get("total")
        if not (
            isinstance(key, str)
            and re.fullmatch(r"[0-9A-Za-z_\-|*@]{1,64}", key)
            and _whole(fen)
            and _whole(total_fen)
            and amount.get("currency") == "CNY"
        ):
            return 400, {"code": "PARAM_ERROR", "message": "参数错误"}
        trade = self._find_trade(order.get("out_trade_no"), order.get("transaction_id"))
        if trade is None:
            return 404, {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在"}
        if _yuan(total_fen) != trade.total:
            return 400, {"code": "INVALID_REQUEST", "message": "订单金额与原订单不一致"}
        existing = self._refunds.get(key)
        if existing is not None:
            if existing.order_number != trade.order_number or existing.fen != fen:
                return 400, {"code": "INVALID_REQUEST", "message": "同一退款单号的请求不一致"}
            return 200, self._view(existing)
        if failure == REFUSE:
            return 403, {"code": "NOT_ENOUGH", "message": "基本账户余额不足，请充值后重新发起"}
        if failure == SYSTEM_ERROR:
            return 500, {"code": "SYSTEM_ERROR", "message": "系统繁忙，请稍后重试"}
        if trade.refunded + _yuan(fen) > trade.total:
            return 400, {"code": "INVALID_REQUEST", "message": "申请退款金额超过订单可退金额"}
        trade.refunded += _yuan(fen)
        refund = WeChatRefund(
            key=key,
            refund_id=f"5030{len(self._refunds) + 1:025d}",
            order_number=trade.order_number,
            fen=fen,
            total_fen=total_fen,
            status="PROCESSING" if failure == PROCESSING else "SUCCESS",
            created_at=_now(),
            notify_url=str(order.get("notify_url", "")),
        )
        if refund.status == "SUCCESS":
            refund.success_time = refund.created_at
            self._pay(key, _yuan(fen))
        self._refunds[key] = refund
        return 200, self._view(refund)

    def _query(self, key: str) -> tuple[int, dict]:
        refund = self._refunds.get(key)
        if refund is None:
            return 404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"}
        return 200, self._view(refund)

    def _view(self, refund: WeChatRefund) -> dict:
        view = self._resource(refund)
        view["status"] = view.pop("refund_status")
        del view["mchid"]
        view.update(channel="ORIGINAL", create_time=refund.created_at.isoformat())
        view["amount"].update(currency="CNY", refund_fee=0, discount_refund=0)
        view["amount"]["from"] = []
        return view

    def _resource(self, refund: WeChatRefund) -> dict:
        trade = self._trades[refund.order_number]
        resource = {
            "mchid": self.mch_id,
            "out_trade_no": trade.order_number,
            "transaction_id": trade.reference,
            "out_refund_no": refund.key,
            "refund_id": refund.refund_id,
            "refund_status": refund.status,
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": refund.total_fen,
                "refund": refund.fen,
                "payer_total": refund.total_fen,
                "payer_refund": refund.fen,
            },
        }
        if refund.success_time is not None:
            resource["success_time"] = refund.success_time.isoformat()
        return resource


def _yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(CENT)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _json_dict(body: bytes) -> dict:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# ---------------------------------------------------------------- receivers and shortcuts


class CallbackInbox(FakeServer):
    """Our side of a notification: records each POST in `received`, answers `status` with
    `answer` (Alipay wants the text "success")."""

    def __init__(self, status: int = 200, answer: bytes = b"success") -> None:
        super().__init__()
        self.status, self.answer = status, answer

    def _answer(self, request: Received) -> Answer | None:
        return Answer(self.status, self.answer, {"Content-Type": "text/plain"})


def fake_alipay(**options: Any) -> FakeAlipay:
    """`with fake_alipay() as fake:` — started on entry, stopped on exit."""
    return FakeAlipay(**options)


def fake_wechatpay(**options: Any) -> FakeWeChatPay:
    return FakeWeChatPay(**options)


def callback_inbox(**options: Any) -> CallbackInbox:
    return CallbackInbox(**options)
