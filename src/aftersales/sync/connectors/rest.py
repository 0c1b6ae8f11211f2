"""The marketplace open-API connector: a signed REST call in the Taobao-TOP style that lists
the changes a channel made in a time window, page by page.

Request (one per page):

    GET {base_url}/changes?app_key=K&timestamp=T&sign_method=hmac-sha256
                          &since=S&until=U&page=N&page_size=M&sign=X

- timestamp: the call's time, "YYYY-MM-DD HH:MM:SS" in China time (GMT+8), as TOP sends it;
  the marketplace refuses one more than five minutes off;
- since, until: the window, ISO 8601 in UTC ("2026-11-20T02:00:00Z"); a change belongs to it
  when since <= occurred_at < until;
- page: from 1; page_size: at most 100;
- sign: uppercase hex HMAC-SHA256(app_secret, k1v1k2v2…) over every other parameter sorted by
  name, each name followed by its value as sent (before URL encoding).

Answer, HTTP 200:

    {"changes": [{"event_id", "type", "occurred_at", "data"}, …], "page": N, "has_next": bool}

each change in the shape of our webhook body (sync/payloads.py), with the marketplace's id of
the change as the event id — the id its webhook carries, so a change both delivered and pulled
is applied once. A refusal is TOP's {"error_response": {"code", "msg", "sub_code",
"sub_msg"}}. A timeout, a network error, HTTP 4xx/5xx, a body that is not JSON or not this
shape, and an error_response all raise ConnectorError.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from http.client import HTTPException
from typing import Any
from urllib.parse import urlencode

from django.utils import timezone as dj_timezone
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from pydantic import ValidationError as PayloadInvalid

from aftersales.notify.adapters.base import HTTP_TIMEOUT, DeliveryError, http_call
from aftersales.sync.connectors.base import Change, ConnectorError
from aftersales.sync.models import ChannelLink
from aftersales.sync.payloads import EVENT_ID_PATTERN, EventTime

CHINA = timezone(timedelta(hours=8))
PAGE_SIZE = 100
MAX_PAGES = 1000  # 100,000 changes in one window: something is wrong, not busy
MAX_PAGE_BYTES = 8 * 1024 * 1024
SIGN_METHOD = "hmac-sha256"


def sign(app_secret: str, params: dict[str, str]) -> str:
    """TOP's HMAC signature: every parameter but `sign`, sorted, name and value run together."""
    message = "".join(f"{name}{params[name]}" for name in sorted(params) if name != "sign")
    digest = hmac.new(app_secret.encode(), message.encode(), hashlib.sha256)
    return digest.hexdigest().upper()


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _ChangeIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_id: str = Field(pattern=EVENT_ID_PATTERN)
    type: str = Field(pattern=r"^[a-z][a-z._]{0,39}$")
    occurred_at: EventTime
    data: dict[str, Any]


class _PageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    changes: list[_ChangeIn]
    has_next: StrictBool
    page: int | None = None


class RestConnector:
    def __init__(
        self,
        *,
        base_url: str,
        app_key: str,
        app_secret: str,
        page_size: int = PAGE_SIZE,
        timeout: float = HTTP_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_key = app_key
        self.app_secret = app_secret
        self.page_size = page_size
        self.timeout = timeout

    @classmethod
    def for_link(cls, link: ChannelLink) -> RestConnector:
        missing = [
            name for name in ("base_url", "app_key", "app_secret") if not getattr(link, name)
        ]
        if missing:
            raise ConnectorError(f"the channel link has no {', '.join(missing)}")
        return cls(base_url=link.base_url, app_key=link.app_key, app_secret=link.app_secret)

    def changes(self, since: datetime, until: datetime) -> Iterator[Change]:
        for number in range(1, MAX_PAGES + 1):
            page = self._page(since, until, number)
            for change in page.changes:
                yield Change(
                    event_id=change.event_id,
                    kind=change.type,
                    occurred_at=change.occurred_at,
                    payload=change.data,
                )
            if not page.has_next:
                return
        raise ConnectorError(f"more than {MAX_PAGES} pages of changes in one window")

    def _url(self, since: datetime, until: datetime, page: int) -> str:
        params = {
            "app_key": self.app_key,
            "timestamp": dj_timezone.now().astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
            "sign_method": SIGN_METHOD,
            "since": _utc(since),
            "until": _utc(until),
            "page": str(page),
            "page_size": str(self.page_size),
        }
        params["sign"] = sign(self.app_secret, params)
        return f"{self.base_url}/changes?{urlencode(params)}"

    def _page(self, since: datetime, until: datetime, number: int) -> _PageIn:
        where = f"page {number}"
        try:
            status, raw = http_call(
                "GET",
                self._url(since, until, number),
                headers={"Accept": "application/json", "User-Agent": "aftersales-sync/1"},
                timeout=self.timeout,
                max_answer=MAX_PAGE_BYTES + 1,
            )
        except DeliveryError as exc:
            raise ConnectorError(f"{where}: {exc.message}") from exc
        except HTTPException as exc:  # the answer broke off half-way
            raise ConnectorError(f"{where}: {type(exc).__name__}") from exc
        if status != 200:
            text = raw[:200].decode("utf-8", errors="replace")
            raise ConnectorError(f"{where}: HTTP {status}: {text}")
        if len(raw) > MAX_PAGE_BYTES:
            raise ConnectorError(f"{where}: the answer is larger than {MAX_PAGE_BYTES} bytes")
        answer = _json(raw, where)
        refusal = answer.get("error_response")
        if refusal is not None:
            raise ConnectorError(f"{where}: the marketplace refused: {_refusal_text(refusal)}")
        try:
            page = _PageIn.model_validate(answer)
        except PayloadInvalid as exc:
            first = exc.errors()[0]
            path = ".".join(str(part) for part in first["loc"]) or "answer"
            raise ConnectorError(f"{where}: unexpected answer at {path}: {first['msg']}") from exc
        if page.page is not None and page.page != number:
            raise ConnectorError(f"{where}: the answer is page {page.page}")
        return page


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json(raw: bytes, where: str) -> dict[str, Any]:
    try:
        answer = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ConnectorError(f"{where}: the answer is not JSON") from exc
    if not isinstance(answer, dict):
        raise ConnectorError(f"{where}: the answer is not a JSON object")
    return answer


def _refusal_text(refusal: Any) -> str:
    if not isinstance(refusal, dict):
        return str(refusal)[:200]
    parts = [str(refusal.get(key)) for key in ("code", "msg", "sub_code", "sub_msg")]
    return " ".join(part for part in parts if part and part != "None")[:300]
