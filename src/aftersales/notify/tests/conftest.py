"""Local servers the adapters talk to: an SMTP server (aiosmtpd) and HTTP receivers in
threads that answer like a webhook consumer, Aliyun's SMS API and WeChat's API."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from aiosmtpd.controller import Controller

from aftersales.channels.models import Customer
from aftersales.notify.models import SmsAccount
from aftersales.tests import factories as f


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeServer:
    """An HTTP server on 127.0.0.1 whose answers come from `answer(request)`:
    (status, JSON-able body)."""

    answer: Callable[[Received], tuple[int, object]]
    requests: list[Received] = field(default_factory=list)
    url: str = ""

    def start(self) -> FakeServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = Received(
                    method=self.command,
                    path=parts.path,
                    query=dict(parse_qsl(parts.query)),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                server.requests.append(request)
                status, body = server.answer(request)
                raw = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = _handle

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def fake_server():
    servers: list[FakeServer] = []

    def make(answer: Callable[[Received], tuple[int, object]]) -> FakeServer:
        server = FakeServer(answer).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpRecorder:
    """Keeps every message; refuses recipients listed in `refuse` with 550."""

    def __init__(self) -> None:
        self.envelopes: list = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on localhost; Django's SMTP backend points at it."""
    recorder = SmtpRecorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.DEFAULT_FROM_EMAIL = "service@shop.example"
    yield recorder
    controller.stop()


@pytest.fixture
def customer_order(channel):
    """An order whose customer is reachable on every channel, in English."""
    order = f.order(channel)
    Customer.objects.filter(pk=order.customer_id).update(
        name="Lan",
        phone="13800138000",
        email="lan@example.com",
        wechat_openid="oOPENID-lan",
        language="en",
    )
    order.customer.refresh_from_db()
    return order


def _aliyun_check(params: dict[str, str], secret: str) -> bool:
    """Aliyun's own check, written independently of the adapter."""
    signature = params.pop("Signature")

    def enc(s: str) -> str:
        return quote(s, safe="").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")

    canonical = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params.items()))
    to_sign = "POST&%2F&" + enc(canonical)
    digest = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode() == signature


@pytest.fixture
def aliyun(fake_server, shop):
    codes: dict[str, str] = {}  # phone → error code to answer

    def answer(request):
        params = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        answer.calls.append(dict(params))
        if request.method != "POST" or request.path != "/":
            return 404, {"Code": "InvalidAction.NotFound"}
        if not _aliyun_check(params, "sms-secret"):
            message = "Specified signature is not matched"
            return 400, {"Code": "SignatureDoesNotMatch", "Message": message}
        code = codes.get(params["PhoneNumbers"], "OK")
        return 200, {"Code": code, "Message": code, "RequestId": "R1", "BizId": "B1"}

    answer.calls = []
    server = fake_server(answer)
    SmsAccount.objects.create(
        shop=shop,
        base_url=server.url + "/",
        access_key_id="LTAI5t-test",
        access_key_secret="sms-secret",
        sign_name="阿克米售后",
        template_codes={"approve": "SMS_300", "approve:zh-hans": "SMS_301", "broadcast": "SMS_9"},
    )
    server.calls, server.codes = answer.calls, codes
    return server
