"""Finance over a small book built through the real services: the journal and refund exports
(CSV and XLSX, to the cent), the refund reconciliation with its discrepancies, the ledger API
and the `finance` command."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from aftersales.cases.models import Case
from aftersales.cases.services import case_approve
from aftersales.channels.models import Order
from aftersales.core.errors import Invalid
from aftersales.ledger.chart import CHART
from aftersales.ledger.compensation import compensation_give
from aftersales.ledger.exports import Period, csv_chunks, journal_table, refunds_table, xlsx_write
from aftersales.ledger.models import JournalEntry, PaymentAccount, Refund
from aftersales.ledger.reconcile import CLEARING, reconciliation_run
from aftersales.ledger.refunds import refund_send
from aftersales.ledger.services import Posting, journal_post
from aftersales.ledger.tests import fakepay
from aftersales.ledger.tests.fakepay import fake_alipay
from aftersales.tests import factories as f

D = Decimal
JOURNAL_HEADER = [
    "Entry", "Posted at", "Memo", "Case", "Order", "Account code", "Account name", "Debit",
    "Credit", "Key", "Reverses",
]  # fmt: skip
REFUNDS_HEADER = [
    "Refund", "Case", "Order", "Provider", "Status", "Goods", "Return postage", "Interest",
    "Restocking fee", "Amount", "Provider reference", "Created at", "Paid at", "Failure reason",
]  # fmt: skip


@dataclass
class Book:
    shop: object
    period: Period
    alipay: fakepay.FakeAlipay
    account: PaymentAccount
    manual: Refund
    paid_by_alipay: Refund
    store_credit: Refund


def _alipay_account(shop, fake) -> PaymentAccount:
    c = fake.config
    return PaymentAccount.objects.create(
        shop=shop,
        provider="alipay",
        name="支付宝",
        merchant_id=c.app_id,
        private_key=c.private_key_pem,
        provider_public_key=c.alipay_public_key_pem,
        gateway_url=c.gateway_url,
    )


def _refunding(channel, agent, *, alipay=None, method="original") -> tuple[Case, Refund]:
    """A refund-only case approved by the agent: it is refunding, with its Refund open."""
    order = f.order(channel)
    if alipay is not None:
        reference = alipay.add_trade(order.external_id, order.total_paid)
        Order.objects.filter(pk=order.pk).update(
            payment_provider="alipay", payment_reference=reference
        )
        order.refresh_from_db()
    case = f.case(order, "refund_only", "not_delivered")
    case_approve(case=case, actor=agent, refund_method=method)
    return case, Refund.objects.get(case=case)


def _paid(refund: Refund) -> Refund:
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    return refund


@pytest.fixture
def book(shop, channel, agent):
    today = timezone.localdate()
    with fake_alipay() as alipay:
        account = _alipay_account(shop, alipay)
        manual_case, _ = _refunding(channel, agent)
        manual = f.refund_settle(manual_case, reference="BANK-7")
        _, by_alipay = _refunding(channel, agent, alipay=alipay)
        assert refund_send(refund_id=by_alipay.pk) == "succeeded"
        credit_case, owed = _refunding(channel, agent, method="store_credit")
        # Return postage we bear: store credit beside the payout, on the same account.
        Refund.objects.filter(pk=owed.pk).update(shipping_amount=D("5.00"))
        store_credit = f.refund_settle(credit_case)
        compensation_give(case=manual_case, actor=agent, amount=D("20.00"), note="致歉")
        assert alipay.payouts == [(by_alipay.key, D("100.00"))]
        yield Book(
            shop=shop,
            period=Period.of(today - timedelta(days=1), today + timedelta(days=2)),
            alipay=alipay,
            account=account,
            manual=_paid(manual),
            paid_by_alipay=_paid(by_alipay),
            store_credit=_paid(store_credit),
        )


def _csv_rows(chunks) -> list[list[str]]:
    text = "".join(chunks)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def _xlsx_rows(data: bytes) -> tuple[list[tuple], object]:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return list(sheet.iter_rows(values_only=True)), sheet


# --------------------------------------------------------------------------- exports


def test_the_journal_exports_every_line_and_a_total_that_balances(book):
    rows = _csv_rows(csv_chunks(journal_table(book.shop, book.period)))
    assert rows[0] == JOURNAL_HEADER
    assert len(rows) == 1 + 9 + 1  # three refunds (one with postage) and the goodwill
    assert rows[-1] == ["TOTAL", "", "", "", "", "", "", "325.00", "325.00", "", ""]
    body = rows[1:-1]
    assert sum(D(r[7]) for r in body) == sum(D(r[8]) for r in body) == D("325.00")
    entry = book.paid_by_alipay.entry
    assert [r[5:10] for r in body if r[0] == str(entry.pk)] == [
        ["sales_returns", "Sales returns and refunds", "100.00", "0.00", entry.key],
        ["payment_clearing", "Payment provider clearing", "0.00", "100.00", entry.key],
    ]
    manual = book.manual.entry
    [first, _] = [r for r in body if r[0] == str(manual.pk)]
    assert first[1:5] == [
        timezone.localtime(manual.posted_at).isoformat(timespec="seconds"),
        f"Refund {book.manual.key} for {book.manual.case.reference}",
        book.manual.case.reference,
        book.manual.order.external_id,
    ]

    out = io.BytesIO()
    xlsx_write(journal_table(book.shop, book.period), out)
    cells, sheet = _xlsx_rows(out.getvalue())
    assert list(cells[0]) == JOURNAL_HEADER
    assert len(cells) == 11
    assert cells[-1][0] == "TOTAL"
    assert (D(str(cells[-1][7])), D(str(cells[-1][8]))) == (D("325.00"), D("325.00"))
    assert (sheet["A1"].font.b, sheet["H11"].font.b) == (True, True)  # header, TOTAL
    assert sheet["H2"].number_format == "0.00"
    assert [list(c) for c in cells[1:-1]] == [
        [int(r[0]), *r[1:7], float(r[7]), float(r[8]), r[9] or None, None] for r in body
    ]


def test_the_refunds_export_has_every_refund_to_the_cent(book):
    rows = _csv_rows(csv_chunks(refunds_table(book.shop, book.period)))
    assert rows[0] == REFUNDS_HEADER
    m, a, s = book.manual, book.paid_by_alipay, book.store_credit
    assert [r[:11] for r in rows[1:-1]] == [
        [m.key, m.case.reference, m.order.external_id, "manual", "succeeded"]
        + ["100.00", "0.00", "0.00", "0.00", "100.00", "BANK-7"],
        [a.key, a.case.reference, a.order.external_id, "alipay", "succeeded"]
        + ["100.00", "0.00", "0.00", "0.00", "100.00", a.order.payment_reference],
        [s.key, s.case.reference, s.order.external_id, "store_credit", "succeeded"]
        + ["100.00", "5.00", "0.00", "0.00", "100.00", ""],
    ]
    assert rows[-1] == [
        "TOTAL", "", "", "", "succeeded", "300.00", "5.00", "0.00", "0.00", "300.00", "", "", "",
        "",
    ]  # fmt: skip
    out = io.BytesIO()
    xlsx_write(refunds_table(book.shop, book.period), out)
    cells, _ = _xlsx_rows(out.getvalue())
    assert (len(cells), list(cells[0])) == (5, REFUNDS_HEADER)
    assert [D(str(v)) for v in cells[-1][5:10]] == [D("300"), D("5"), D("0"), D("0"), D("300")]


def test_text_that_looks_like_a_formula_stays_text(shop, tmp_path):
    sales = Posting("sales_returns", debit=D("1.00"))
    journal_post(shop=shop, postings=[sales, Posting(CLEARING, credit=D("1.00"))], memo="=1+1")
    period = Period.of(timezone.localdate(), timezone.localdate() + timedelta(days=1))
    assert _csv_rows(csv_chunks(journal_table(shop, period)))[1][2] == "'=1+1"
    out = io.BytesIO()
    xlsx_write(journal_table(shop, period), out)
    _, sheet = _xlsx_rows(out.getvalue())
    assert (sheet["C2"].value, sheet["C2"].data_type) == ("=1+1", "s")


def test_a_period_is_one_to_366_days():
    with pytest.raises(Invalid) as backwards:
        Period.of(date(2026, 3, 2), date(2026, 3, 2))
    assert backwards.value.code == "ledger.period_invalid"
    assert set(backwards.value.fields) == {"from", "to"}
    with pytest.raises(Invalid):
        Period.of(date(2025, 1, 1), date(2026, 1, 3))
    assert Period.of(date(2024, 1, 1), date(2025, 1, 1)).slug == "20240101-20250101"


# --------------------------------------------------------------------------- reconciliation


def test_a_clean_book_reconciles(book):
    report = reconciliation_run(shop=book.shop, period=book.period)
    assert [(r.refund_key, r.status) for r in report.rows] == [
        (book.manual.key, "matched"),
        (book.paid_by_alipay.key, "matched"),
        (book.store_credit.key, "matched"),
    ]
    assert report.rows[1].provider_amount == report.rows[1].ledger_amount == D("100.00")
    assert (report.confirmed_by_provider, report.booked_in_ledger, report.difference) == (
        D("300.00"),
        D("300.00"),
        D("0.00"),
    )
    assert report.matched


def test_reconciliation_names_each_discrepancy(book, channel, agent):
    # The provider paid, the answer was lost: we still think it is pending.
    book.alipay.fail_next(fakepay.PAY_THEN_DROP)
    _, lost = _refunding(channel, agent, alipay=book.alipay)
    assert refund_send(refund_id=lost.pk) == "pending"
    # Marked paid by hand without a journal entry.
    case, unbooked = _refunding(channel, agent)
    refund_send(refund_id=unbooked.pk)
    Refund.objects.filter(pk=unbooked.pk).update(status="succeeded", confirmed_at=timezone.now())
    # Our row says less than the ledger paid.
    Refund.objects.filter(pk=book.manual.pk).update(amount=D("90.00"))
    # A refund entry with no refund behind it.
    ghost = [Posting("sales_returns", debit=D("5.00")), Posting(CLEARING, credit=D("5.00"))]
    journal_post(shop=book.shop, postings=ghost, memo="手工退款", key="refund:RF-GHOST")
    entries = JournalEntry.objects.count()

    report = reconciliation_run(shop=book.shop, period=book.period)
    assert [(r.refund_key, r.status, r.ledger_amount, r.provider_amount) for r in report.rows] == [
        (book.manual.key, "amount_mismatch", D("100.00"), D("90.00")),
        (book.paid_by_alipay.key, "matched", D("100.00"), D("100.00")),
        (book.store_credit.key, "matched", D("100.00"), D("100.00")),
        (lost.key, "provider_says_paid", None, D("100.00")),
        (unbooked.key, "missing_in_ledger", None, D("100.00")),
        ("RF-GHOST", "ledger_without_refund", D("5.00"), None),
    ]
    assert (report.confirmed_by_provider, report.booked_in_ledger, report.difference) == (
        D("490.00"),
        D("305.00"),
        D("-185.00"),
    )
    assert not report.matched
    assert JournalEntry.objects.count() == entries  # it only reads
    assert Refund.objects.get(pk=lost.pk).status == "pending"


def test_a_provider_without_the_refund_or_down_is_reported(book):
    with fake_alipay() as amnesiac:  # the same keys, but it never saw our refund
        PaymentAccount.objects.filter(pk=book.account.pk).update(
            gateway_url=amnesiac.config.gateway_url
        )
        report = reconciliation_run(shop=book.shop, period=book.period)
    row = report.rows[1]
    assert (row.status, row.provider_state, row.message) == (
        "not_confirmed_by_provider",
        "failed",
        "not found",
    )
    assert report.difference == D("100.00")

    # Now nobody answers at that address.
    report = reconciliation_run(shop=book.shop, period=book.period)
    assert [r.status for r in report.rows] == ["matched", "provider_unreachable", "matched"]
    assert report.rows[1].provider_state == "unreachable"
    assert (report.confirmed_by_provider, report.difference) == (D("200.00"), D("100.00"))


# --------------------------------------------------------------------------- API


@pytest.fixture
def finance(shop):
    return f.user("finance", [shop], "fin1")


def _q(book: Book) -> dict:
    return {"shop_id": book.shop.pk, "from": str(book.period.start), "to": str(book.period.end)}


def test_api_balances_entries_and_reconciliation_for_finance(api_for, finance, book):
    api = api_for(finance)
    resp = api.get("/ledger/accounts", {"shop_id": book.shop.pk})
    assert resp.status_code == 200, resp.content
    moved = {
        "payment_clearing": "-200.00",
        "store_credit": "105.00",
        "return_shipping": "5.00",
        "sales_returns": "300.00",
        "compensation": "20.00",
        "coupon_liability": "20.00",
    }
    assert resp.json() == [
        {"code": code, "name": str(name), "kind": kind, "balance": moved.get(code, "0.00")}
        for code, name, kind in sorted(CHART, key=lambda row: row[0])
    ]

    with CaptureQueriesContext(connection) as one:
        first = api.get("/ledger/entries", {"shop_id": book.shop.pk, "limit": 1}).json()
    with CaptureQueriesContext(connection) as three:
        page = api.get("/ledger/entries", {"shop_id": book.shop.pk, "limit": 3}).json()
    assert len(one) == len(three)  # no query per entry
    assert [e["id"] for e in page["items"]] == sorted(
        JournalEntry.objects.values_list("pk", flat=True), reverse=True
    )[:3]
    rest = api.get("/ledger/entries", {"shop_id": book.shop.pk, "cursor": page["next_cursor"]})
    assert (len(rest.json()["items"]), rest.json()["next_cursor"]) == (1, None)
    entry = book.paid_by_alipay.entry
    by_case = api.get("/ledger/entries", {"shop_id": book.shop.pk, "case_id": entry.case_id})
    assert by_case.json()["items"] == [
        {
            "id": entry.pk,
            "posted_at": by_case.json()["items"][0]["posted_at"],
            "memo": entry.memo,
            "case_id": entry.case_id,
            "case_reference": entry.case.reference,
            "order_id": entry.order_id,
            "key": entry.key,
            "reverses_id": None,
            "actor_label": "system",
            "lines": [
                {"account_code": "sales_returns", "account_name": "Sales returns and refunds",
                 "debit": "100.00", "credit": "0.00"},
                {"account_code": "payment_clearing", "account_name": "Payment provider clearing",
                 "debit": "0.00", "credit": "100.00"},
            ],
        }
    ]  # fmt: skip
    assert first["next_cursor"] == str(first["items"][0]["id"])

    resp = api.get("/ledger/reconciliation", _q(book))
    assert resp.status_code == 200, resp.content
    body = resp.json()
    rows = body.pop("rows")
    assert body == {
        "shop_id": book.shop.pk,
        "from": str(book.period.start),
        "to": str(book.period.end),
        "matched": True,
        "confirmed_by_provider": "300.00",
        "booked_in_ledger": "300.00",
        "difference": "0.00",
        "counts": {
            "matched": 3, "missing_in_ledger": 0, "amount_mismatch": 0,
            "not_confirmed_by_provider": 0, "provider_says_paid": 0,
            "ledger_without_refund": 0, "provider_unreachable": 0,
        },
    }  # fmt: skip
    a = book.paid_by_alipay
    assert rows[1] == {
        "status": "matched",
        "refund_key": a.key,
        "case_reference": a.case.reference,
        "order_number": a.order.external_id,
        "provider": "alipay",
        "refund_status": "succeeded",
        "amount": "100.00",
        "ledger_amount": "100.00",
        "provider_amount": "100.00",
        "provider_state": "succeeded",
        "entry_id": a.entry_id,
        "message": "",
    }


def test_api_exports_are_files(api_for, finance, book):
    api = api_for(finance)
    resp = api.get("/ledger/exports/journal", {**_q(book), "format": "xlsx"})
    assert resp.status_code == 200
    assert resp["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    name = f"journal-{book.shop.code}-{book.period.slug}.xlsx"
    assert resp["Content-Disposition"] == f'attachment; filename="{name}"'
    cells, _ = _xlsx_rows(b"".join(resp.streaming_content))
    assert (len(cells), cells[-1][0], D(str(cells[-1][8]))) == (11, "TOTAL", D("325.00"))

    resp = api.get("/ledger/exports/refunds", _q(book))
    assert resp["Content-Type"] == "text/csv; charset=utf-8"
    rows = _csv_rows([b"".join(resp.streaming_content).decode("utf-8")])
    assert (len(rows), rows[-1][9]) == (5, "300.00")


def test_api_refuses_other_roles_shops_and_bad_periods(api_for, agent, finance, other_shop, book):
    resp = api_for(agent).get("/ledger/accounts", {"shop_id": book.shop.pk})
    assert (resp.status_code, resp.json()["error"]["code"]) == (403, "permission.denied")
    for path in ("/ledger/entries", "/ledger/reconciliation", "/ledger/exports/journal"):
        resp = api_for(finance).get(path, {**_q(book), "shop_id": other_shop.pk})
        assert (resp.status_code, resp.json()["error"]["code"]) == (404, "shop.not_found")
    api = api_for(finance)
    backwards = api.get("/ledger/reconciliation", {**_q(book), "to": str(book.period.start)})
    too_long = api.get("/ledger/exports/refunds", {**_q(book), "from": "2024-01-01"})
    for resp in (backwards, too_long):
        assert resp.status_code == 422
        assert resp.json()["error"]["code"] == "ledger.period_invalid"
        assert set(resp.json()["error"]["fields"]) == {"from", "to"}
    resp = api.get("/ledger/exports/journal", {**_q(book), "from": "2026-02-30"})
    assert (resp.status_code, list(resp.json()["error"]["fields"])) == (422, ["from"])


# --------------------------------------------------------------------------- command


def _command(book: Book, *args: str) -> str:
    out = io.StringIO()
    period = ["--shop", book.shop.code, "--from", str(book.period.start)]
    call_command("finance", *args, *period, "--to", str(book.period.end), stdout=out)
    return out.getvalue()


def test_command_exports_files_and_reconciles(book, tmp_path):
    said = _command(book, "export", "journal", "--out", str(tmp_path / "j.xlsx"))
    assert said == f"journal: 9 rows and a TOTAL row written to {tmp_path / 'j.xlsx'}\n"
    cells, _ = _xlsx_rows((tmp_path / "j.xlsx").read_bytes())
    assert (len(cells), D(str(cells[-1][7]))) == (11, D("325.00"))
    _command(book, "export", "refunds", "--out", str(tmp_path / "r.csv"))
    rows = _csv_rows([(tmp_path / "r.csv").read_text(encoding="utf-8")])
    assert (len(rows), rows[-1][9]) == (5, "300.00")

    printed = _command(book, "reconcile")
    assert printed.endswith(
        "Confirmed by provider: 300.00\nBooked in ledger: 300.00\nDifference: 0.00\n"
    )
    assert printed.count(" matched ") == 0 and printed.count("\nmatched ") == 3


def test_command_reconcile_exits_1_on_a_discrepancy(book):
    Refund.objects.filter(pk=book.store_credit.pk).update(amount=D("99.99"))
    with pytest.raises(CommandError) as failed:
        _command(book, "reconcile")
    assert failed.value.returncode == 1
    assert str(failed.value) == "1 of 3 rows do not match; difference 0.01."
