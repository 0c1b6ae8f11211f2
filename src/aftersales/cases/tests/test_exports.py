"""The cases export through the API: one row per case the list shows under the same filters,
codes rather than labels, money to the cent, headers in the user's language, other shops'
cases never, text that looks like a formula kept as text, XLSX with the same values."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from decimal import Decimal

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from aftersales.cases.models import Case
from aftersales.cases.services import case_approve, case_assign, case_close
from aftersales.core import tabular
from aftersales.tests import factories as f
from aftersales.tests.contract import assert_error

D = Decimal
TZ = timezone.get_fixed_timezone(8 * 60)
HEADER = [
    "Case", "Type", "Status", "Channel", "Channel's own status", "Order number", "Reason",
    "Priority", "Refund amount", "Outcome", "Assignee", "Created at", "Ended at",
]  # fmt: skip
FORMULA = "=SUM(A1:A9)"


@pytest.fixture(autouse=True)
def _shanghai(settings):
    settings.TIME_ZONE = "Asia/Shanghai"


@pytest.fixture
def cases(shop, channel, other_shop, agent, lead):
    """Four cases of the shop, filed on Nov 1 … 4, and one of another shop:
    1. refund only on a taobao order, approved: refunding 33.32;
    2. a complaint without an order, its channel status looking like a formula;
    3. an exchange on a jd order, assigned to the agent;
    4. a return on a taobao order, closed as withdrawn on Nov 5.
    """
    cup = f.product(shop, sku="CUP")
    jd = f.channel(shop, kind="jd", code="jd")
    refund = f.case(
        f.order(channel, [(cup, 1, "33.33", "0.01")], external_id="TB-1"),
        "refund_only",
        "not_delivered",
        channel_status="WAIT_SELLER_AGREE",
    )
    case_approve(case=refund, actor=agent)
    complaint = f.case(None, "complaint", "service_attitude", shop=shop, channel_status=FORMULA)
    exchange = f.case(f.order(jd, external_id="JD-3"), "exchange", "wrong_item")
    case_assign(case=exchange, actor=None, assignee=agent)
    withdrawn = f.case(f.order(channel, external_id="TB-4"), "return_refund", "quality_defect")
    case_close(case=withdrawn, actor=lead, outcome="withdrawn")
    numbered = [refund, complaint, exchange, withdrawn]
    for day, case in enumerate(numbered, start=1):
        Case.objects.filter(pk=case.pk).update(created_at=datetime(2026, 11, day, 10, tzinfo=TZ))
    Case.objects.filter(pk=withdrawn.pk).update(closed_at=datetime(2026, 11, 5, 18, tzinfo=TZ))
    foreign = f.case(f.order(f.channel(other_shop, code="taobao"), external_id="OTHER-1"))
    return [Case.objects.get(pk=case.pk) for case in numbered], foreign


def _rows(cases: list[Case]) -> dict[int, list[str]]:
    """Each case's row as the CSV writes it, by its number in the fixture."""
    refund, complaint, exchange, withdrawn = (case.reference for case in cases)
    return {
        1: [refund, "refund_only", "refunding", "taobao", "WAIT_SELLER_AGREE", "TB-1"]
        + ["not_delivered", "3", "33.32", "", "", "2026-11-01T10:00:00+08:00", ""],
        2: [complaint, "complaint", "awaiting_merchant", "", "'" + FORMULA, ""]
        + ["service_attitude", "2", "", "", "", "2026-11-02T10:00:00+08:00", ""],
        3: [exchange, "exchange", "awaiting_merchant", "jd", "", "JD-3"]
        + ["wrong_item", "3", "", "", "agent1", "2026-11-03T10:00:00+08:00", ""],
        4: [withdrawn, "return_refund", "closed", "taobao", "", "TB-4"]
        + ["quality_defect", "3", "", "withdrawn", "", "2026-11-04T10:00:00+08:00"]
        + ["2026-11-05T18:00:00+08:00"],
    }


def _csv_rows(resp) -> list[list[str]]:
    assert resp.status_code == 200, resp.content
    assert resp.streaming
    text = b"".join(resp.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def _as_csv_text(cell) -> str:
    """An XLSX cell read back, written the way the CSV writes it: money (a number shown with
    two places) to the cent, the rest as it is."""
    if cell.value is None:
        return ""
    if cell.number_format == "0.00":
        return f"{D(str(cell.value)):.2f}"
    return str(cell.value)


def test_every_visible_case_newest_first(api_for, agent, cases):
    numbered, foreign = cases
    resp = api_for(agent).get("/cases/export")
    assert resp["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="cases-\d{8}-\d{6}\.csv"', resp["Content-Disposition"]
    )
    rows = _rows(numbered)
    exported = _csv_rows(resp)
    assert exported == [HEADER, rows[4], rows[3], rows[2], rows[1]]
    assert foreign.reference not in [row[0] for row in exported]


@pytest.mark.parametrize(
    "params,numbers",
    [
        ({"status": "awaiting_merchant"}, [3, 2]),
        ({"status": ["refunding", "closed"]}, [4, 1]),
        ({"type": "exchange"}, [3]),
        ({"channel_id": "jd"}, [3]),
        ({"priority": 2}, [2]),
        ({"reason": "quality_defect"}, [4]),
        ({"assignee_id": "agent"}, [3]),
        ({"unassigned": "true"}, [4, 2, 1]),
        ({"created_from": "2026-11-02T00:00:00+08:00", "created_to": "2026-11-04"}, [3, 2]),
        ({"status": "awaiting_merchant", "channel_id": "taobao"}, []),
    ],
)
def test_the_list_filters_narrow_the_export(api_for, agent, cases, params, numbers):
    numbered, _ = cases
    ids = {"jd": numbered[2].channel_id, "taobao": numbered[0].channel_id, "agent": agent.pk}
    query = {
        key: ids[value] if key in ("channel_id", "assignee_id") else value
        for key, value in params.items()
    }
    api = api_for(agent)
    rows = _rows(numbered)
    assert _csv_rows(api.get("/cases/export", query)) == [HEADER, *(rows[n] for n in numbers)]
    # The same cases the list shows under the same filters.
    listed = api.get("/cases", query).json()["items"]
    assert [item["reference"] for item in listed] == [rows[n][0] for n in numbers]


def test_another_shops_cases_never_appear(api_for, agent, cases, other_shop):
    numbered, foreign = cases
    mine = _csv_rows(api_for(agent).get("/cases/export", {"shop_id": other_shop.pk}))
    assert mine == [HEADER]
    stranger = f.user("agent", [other_shop], "stranger")
    theirs = _csv_rows(api_for(stranger).get("/cases/export"))
    assert [row[0] for row in theirs[1:]] == [foreign.reference]


def test_xlsx_holds_the_same_values(api_for, agent, cases):
    numbered, _ = cases
    resp = api_for(agent).get("/cases/export", {"format": "xlsx"})
    assert resp.status_code == 200, resp.content
    assert resp["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert re.fullmatch(
        r'attachment; filename="cases-\d{8}-\d{6}\.xlsx"', resp["Content-Disposition"]
    )
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(resp.streaming_content))).active
    assert sheet.title == "Cases"
    rows = _rows(numbered)
    rows[2][4] = FORMULA  # text in a cell needs no escaping: it is never run
    cells = [[_as_csv_text(cell) for cell in row] for row in sheet.iter_rows()]
    assert cells == [HEADER, rows[4], rows[3], rows[2], rows[1]]
    refund = sheet["I5"]
    assert (refund.value, refund.number_format, refund.data_type) == (33.32, "0.00", "n")
    assert (sheet["E4"].value, sheet["E4"].data_type) == (FORMULA, "s")
    assert sheet["H4"].value == 2  # priority: its code, a number


def test_headers_follow_the_users_language(api_for, agent, cases):
    api = api_for(agent)
    resp = api.client.get("/api/v1/cases/export", HTTP_ACCEPT_LANGUAGE="zh-hans", **api.headers)
    rows = _csv_rows(resp)
    assert rows[0][:3] == ["售后单", "售后类型", "状态"]
    assert rows[0][8] == "退款金额"
    statuses = [row[2] for row in rows[1:]]  # the codes, not their labels
    assert statuses == ["closed", "awaiting_merchant", "awaiting_merchant", "refunding"]


def test_every_case_comes_out_across_many_pages(api_for, agent, cases, monkeypatch):
    numbered, _ = cases
    monkeypatch.setattr(tabular, "KEYSET_PAGE", 3)
    rows = _rows(numbered)
    assert _csv_rows(api_for(agent).get("/cases/export")) == [
        HEADER,
        *(rows[n] for n in (4, 3, 2, 1)),
    ]


def test_queries_do_not_grow_with_the_cases(api_for, agent, cases, channel):
    api = api_for(agent)
    api.get("/cases")  # first use of the token records last_used_at

    def export() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            rows = _csv_rows(api.get("/cases/export"))
        return len(rows), len(queries)

    # token lookup, the user's shops, a page of ids, those cases with their joins
    assert export() == (1 + 4, 4)
    for _ in range(6):
        case_assign(case=f.case(f.order(channel)), actor=None, assignee=agent)
    assert export() == (1 + 10, 4)


def test_a_bad_format_or_filter_is_the_standard_error(api_for, agent, cases):
    api = api_for(agent)
    assert_error(api.get("/cases/export", {"format": "pdf"}), 422, "request.invalid", ["format"])
    bad_status = api.get("/cases/export", {"status": "lost"})
    assert_error(bad_status, 422, "request.invalid", ["status.0"])
    bad_date = api.get("/cases/export", {"created_from": "2026-02-30"})
    assert_error(bad_date, 422, "request.invalid", ["created_from"])
    assert_error(api_for(None).get("/cases/export"), 401, "auth.required", [])
