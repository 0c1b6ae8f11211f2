"""A local fake of a marketplace's open API in the Taobao-TOP style: it holds orders and refunds
(after-sales requests), keeps every change to them as an event, serves `GET /changes` page by
page to callers that sign as TOP does, can sign the webhook it would have sent for a change
(which a test may then "lose"), and fails on demand. Its protocol code is written apart from
the connector on purpose, so a mistake in the connector's signing shows up instead of being
mirrored.

    with FakeMarket() as market:
        market.order_put(order_body("T1", paid_at=...), at=...)
        market.refund_put("R1", order_number="T1", status="WAIT_SELLER_AGREE", at=...)
        headers, body = market.webhook("rf-R1-1")
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

SHANGHAI = timezone(timedelta(hours=8))

# What `fail_next` does to the next calls of /changes.
HTTP_500 = "http_500"  # a gateway error page
BAD_JSON = "bad_json"  # HTTP 200 with a body that is not JSON
BAD_SHAPE = "bad_shape"  # HTTP 200, JSON, but not a page of changes
HANG = "hang"  # answers only after `hang_seconds` (the caller should have given up)
FAILURES = frozenset({HTTP_500, BAD_JSON, BAD_SHAPE, HANG})

API_PATH = "/router/rest"
_REQUIRED = ("app_key", "timestamp", "sign_method", "since", "until", "page", "page_size", "sign")


@dataclass(frozen=True)
class Received:
    path: str
    params: dict[str, str]


@dataclass
class MarketChange:
    seq: int
    event_id: str
    type: str
    at: datetime
    data: dict[str, Any]

    def wire(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "type": self.type,
            "occurred_at": self.at.astimezone(SHANGHAI).isoformat(),
            "data": self.data,
        }


@dataclass
class _Failure:
    kind: str
    skip: int  # calls to let through first


@dataclass
class FakeMarket:
    app_key: str = "12345678"
    app_secret: str = "market-app-secret-5d1c"
    webhook_secret: str = "market-webhook-secret-9b7e"
    max_page_size: int = 100
    hang_seconds: float = 1.0
    url: str = ""
    lock: threading.RLock = field(default_factory=threading.RLock)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    _changes: list[MarketChange] = field(default_factory=list)
    _versions: dict[str, int] = field(default_factory=dict)
    _received: list[Received] = field(default_factory=list)
    _failures: deque[_Failure] = field(default_factory=deque)
    _httpd: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------ the marketplace's own data

    def order_put(self, body: dict[str, Any], *, at: datetime) -> str:
        """Create or change an order (the body of our order upsert, without channel_id);
        returns the id of the change."""
        with self.lock:
            number = body["external_id"]
            self.orders[number] = json.loads(json.dumps(body))
            return self._record(f"ord-{number}", "order.updated", at, self.orders[number])

    def refund_put(
        self,
        refund_id: str,
        *,
        status: str,
        at: datetime,
        order_number: str | None = None,
        case_type: str = "refund_only",
        reason: str = "quality_defect",
        refund_amount: str | None = None,
        customer_words: str = "",
        lines: list[tuple[str, int]] | None = None,
    ) -> str:
        """Open a refund on an order this market holds, or move it to `status`; returns the id
        of the change."""
        with self.lock:
            refund = self.refunds.get(refund_id)
            if refund is None:
                if order_number not in self.orders:
                    raise ValueError(f"the market holds no order {order_number!r}")
                refund = {
                    "external_id": refund_id,
                    "order_number": order_number,
                    "type": case_type,
                    "reason": reason,
                    "customer_words": customer_words,
                    "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines or []],
                }
                if refund_amount is not None:
                    refund["refund_amount"] = refund_amount
                self.refunds[refund_id] = refund
            refund["status"] = status
            return self._record(f"rf-{refund_id}", "case.updated", at, dict(refund))

    def change(self, event_id: str) -> MarketChange:
        with self.lock:
            return next(c for c in self._changes if c.event_id == event_id)

    def webhook(self, event_id: str, *, timestamp: int | None = None) -> tuple[dict, bytes]:
        """The signed webhook the market sends for a change: (Django test-client headers,
        body). Sending it is the test's choice — a lost webhook is one never sent."""
        body = json.dumps(self.change(event_id).wire(), ensure_ascii=False).encode()
        ts = str(int(time.time()) if timestamp is None else timestamp)
        mac = hmac.new(self.webhook_secret.encode(), ts.encode() + b"." + body, hashlib.sha256)
        headers = {
            "HTTP_X_AFTERSALES_TIMESTAMP": ts,
            "HTTP_X_AFTERSALES_SIGNATURE": mac.hexdigest(),
        }
        return headers, body

    def _record(self, key: str, kind: str, at: datetime, data: dict[str, Any]) -> str:
        version = self._versions.get(key, 0) + 1
        self._versions[key] = version
        event_id = f"{key}-{version}"
        self._changes.append(MarketChange(len(self._changes) + 1, event_id, kind, at, data))
        return event_id

    # ------------------------------------------------------------ failures and what was asked

    def fail_next(self, kind: str, times: int = 1, *, skip: int = 0) -> None:
        """Fail the next `times` calls of /changes with `kind`, after letting `skip` through."""
        if kind not in FAILURES:
            raise ValueError(f"FakeMarket cannot fail with {kind!r}")
        with self.lock:
            self._failures.append(_Failure(kind, skip))
            self._failures.extend(_Failure(kind, 0) for _ in range(times - 1))

    @property
    def received(self) -> list[Received]:
        with self.lock:
            return list(self._received)

    def _take_failure(self) -> str | None:
        if not self._failures:
            return None
        head = self._failures[0]
        if head.skip:
            head.skip -= 1
            return None
        return self._failures.popleft().kind

    # ------------------------------------------------------------ the open API

    def _answer(self, method: str, target: str) -> tuple[int, bytes]:
        parts = urlsplit(target)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        with self.lock:
            self._received.append(Received(parts.path, params))
            if method != "GET" or parts.path != f"{API_PATH}/changes":
                return 404, b"Not Found"
            refusal = self._refusal(params)
            if refusal is not None:
                return 200, _json({"error_response": refusal})
            failure = self._take_failure()
            if failure == HTTP_500:
                return 500, b"<html><body>502 Bad Gateway</body></html>"
            if failure == BAD_JSON:
                return 200, b'{"changes": [{"event_id": '
            if failure == BAD_SHAPE:
                return 200, _json({"changes": "none today", "has_next": "no"})
            page = self._page(params)
        if failure == HANG:
            time.sleep(self.hang_seconds)
        return 200, _json(page)

    def _refusal(self, params: dict[str, str]) -> dict[str, Any] | None:
        missing = [name for name in _REQUIRED if not params.get(name)]
        if missing:
            return _error(40, f"Missing required arguments:{missing[0]}")
        if params["app_key"] != self.app_key:
            return _error(29, "Invalid app Key")
        if params["sign_method"] != "hmac-sha256":
            return _error(25, "Invalid signature", "isv.invalid-sign-method")
        try:
            sent = datetime.strptime(params["timestamp"], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return _error(31, "Invalid timestamp")
        if abs(time.time() - sent.replace(tzinfo=SHANGHAI).timestamp()) > 300:
            return _error(31, "Invalid timestamp")
        signed = "".join(name + params[name] for name in sorted(params) if name != "sign")
        expected = hmac.new(self.app_secret.encode(), signed.encode(), hashlib.sha256)
        if not hmac.compare_digest(expected.hexdigest().upper(), params["sign"]):
            return _error(25, "Invalid signature")
        try:
            _utc(params["since"]), _utc(params["until"])
            page, size = int(params["page"]), int(params["page_size"])
        except ValueError:
            return _error(41, "Invalid arguments", "isv.invalid-parameter")
        if page < 1 or not 1 <= size <= 100:
            return _error(41, "Invalid arguments", "isv.invalid-parameter")
        return None

    def _page(self, params: dict[str, str]) -> dict[str, Any]:
        since, until = _utc(params["since"]), _utc(params["until"])
        page = int(params["page"])
        size = min(int(params["page_size"]), self.max_page_size)
        window = sorted(
            (c for c in self._changes if since <= c.at < until), key=lambda c: (c.at, c.seq)
        )
        rows = window[(page - 1) * size : page * size]
        return {
            "changes": [c.wire() for c in rows],
            "page": page,
            "has_next": page * size < len(window),
            "total_results": len(window),
        }

    # ------------------------------------------------------------ the server

    def start(self) -> Self:
        market = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                status, body = market._answer("GET", self.path)
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the caller gave up waiting (HANG)
                    self.wfile.write(body)

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._httpd = server
        # The API lives under a path, as TOP's does: the connector must keep it.
        self.url = f"http://127.0.0.1:{server.server_address[1]}{API_PATH}"
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
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


def _error(code: int, msg: str, sub_code: str = "") -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "msg": msg, "request_id": "fake"}
    if sub_code:
        error["sub_code"] = sub_code
    return error


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _utc(text: str) -> datetime:
    if not text.endswith("Z"):
        raise ValueError("not UTC")
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def order_body(
    number: str,
    lines: list[tuple[str, int, str]],
    *,
    paid_at: datetime,
    shipped_at: datetime | None = None,
    signed_at: datetime | None = None,
    shipping_fee: str = "0.00",
) -> dict[str, Any]:
    """An order as the market (and our API) writes it: lines are (SKU, quantity, unit price)."""
    body: dict[str, Any] = {
        "external_id": number,
        "customer": {"name": "李四", "phone": "13900000001"},
        "lines": [{"sku": sku, "quantity": qty, "unit_price": price} for sku, qty, price in lines],
        "shipping_fee": shipping_fee,
        "paid_at": paid_at.isoformat(),
    }
    if shipped_at is not None:
        body["shipped_at"] = shipped_at.isoformat()
    if signed_at is not None:
        body["signed_at"] = signed_at.isoformat()
    return body
