"""Shared pytest fixtures: a shop with a channel, users of every role, an API client."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client

from aftersales.tests import factories as f


@pytest.fixture
def shop(db):
    return f.shop("acme")


@pytest.fixture
def other_shop(db):
    return f.shop("other")


@pytest.fixture
def channel(shop):
    return f.channel(shop, code="taobao")


@pytest.fixture
def order(channel):
    return f.order(channel)


@pytest.fixture
def agent(shop):
    return f.user("agent", [shop], "agent1")


@pytest.fixture
def lead(shop):
    return f.user("team_lead", [shop], "lead1")


@pytest.fixture
def manager(shop):
    return f.user("manager", [shop], "manager1")


@pytest.fixture
def warehouse(shop):
    return f.user("warehouse", [shop], "wh1")


class Api:
    """A thin JSON client for /api/v1 with a bearer token."""

    def __init__(self, token: str | None):
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    def _call(self, method: str, path: str, body=None, **extra):
        kwargs = dict(self.headers, **extra)
        if body is not None:
            kwargs["data"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
            kwargs["content_type"] = "application/json"
        return getattr(self.client, method)(f"/api/v1{path}", **kwargs)

    def get(self, path: str, params=None):
        return self.client.get(f"/api/v1{path}", params or {}, **self.headers)

    def post(self, path: str, body=None, **extra):
        return self._call("post", path, body if body is not None else {}, **extra)


@pytest.fixture
def api_for():
    def make(user=None):
        return Api(f.token(user) if user is not None else None)

    return make


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def _english(settings):
    """Tests read English messages; the product defaults to Simplified Chinese."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


_DB_FIXTURES = {"db", "transactional_db", "django_db_setup"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Every test that touched the database leaves the books balanced: all debits equal all
    credits, to the cent (DESIGN §3 item 6), whatever the scenario did."""
    outcome = yield
    uses_db = item.get_closest_marker("django_db") or _DB_FIXTURES & set(item.fixturenames)
    if outcome.excinfo is not None or not uses_db:
        return
    if connection.connection is not None and not connection.is_usable():
        return  # the test closed its own connection (a worker's beat does): nothing to read
    from django.db.models import Sum

    from aftersales.ledger.models import JournalLine

    sums = JournalLine.objects.aggregate(d=Sum("debit"), c=Sum("credit"))
    debits, credits = (f"{sums['d'] or 0:.2f}", f"{sums['c'] or 0:.2f}")
    assert debits == credits, f"the ledger does not balance: debits {debits}, credits {credits}"
