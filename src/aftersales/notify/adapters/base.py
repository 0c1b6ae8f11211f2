"""What every adapter shares: the delivery error, and plain HTTP over urllib with timeouts."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

HTTP_TIMEOUT = 10  # seconds, per request
_MAX_ANSWER = 64 * 1024


class DeliveryError(Exception):
    """The message did not go out. `retryable=False`: trying again cannot help (a refused
    address, a missing account); the row goes dead at once."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A receiver that moved must be reconfigured; a POST is never replayed elsewhere.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def http_call(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = HTTP_TIMEOUT,
    max_answer: int = _MAX_ANSWER,
) -> tuple[int, bytes]:
    """(status, body) of one HTTP request. Network failures raise a retryable DeliveryError;
    any HTTP status comes back for the adapter to judge. At most `max_answer` bytes of the
    answer are read (a longer one comes back cut: a caller that reads whole documents asks
    for one byte more than it accepts)."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise DeliveryError(f"not an http(s) URL: {url}", retryable=False)
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with _opener.open(request, timeout=timeout) as response:
            return response.status, response.read(max_answer)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read(max_answer)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"{method} {urlsplit(url).netloc}: {reason}") from exc


def json_answer(status: int, raw: bytes, service: str) -> dict[str, Any]:
    try:
        answer = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        answer = None
    if not isinstance(answer, dict):
        raise DeliveryError(f"{service} answered HTTP {status} without a JSON object")
    return answer
