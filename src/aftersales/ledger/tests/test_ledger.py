"""The ledger: balanced entries only, written once, undone only by a reversal; keys make
retries post once."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftersales.channels.services import shop_create
from aftersales.core.errors import Conflict, Invalid
from aftersales.ledger.chart import CHART, DEBIT_NORMAL
from aftersales.ledger.models import Account, JournalEntry, JournalLine
from aftersales.ledger.selectors import account_balances, trial_balance
from aftersales.ledger.services import Posting, chart_install, journal_post, journal_reverse

D = Decimal
REFUND = [
    Posting("sales_returns", debit=D("88.80")),
    Posting("refunds_payable", credit=D("88.80")),
]


@pytest.fixture(autouse=True)
def _chart(request):
    if "shop" in request.fixturenames:
        chart_install(shop=request.getfixturevalue("shop"))


def _count() -> tuple[int, int]:
    return JournalEntry.objects.count(), JournalLine.objects.count()


@pytest.mark.django_db
def test_a_new_shop_has_the_standard_chart_and_installing_again_adds_nothing():
    shop = shop_create(code="books", name="账本店")
    codes = sorted(Account.objects.filter(shop=shop).values_list("code", flat=True))
    assert codes == sorted(code for code, _n, _k in CHART)
    chart_install(shop=shop)
    assert Account.objects.filter(shop=shop).count() == len(CHART)


@pytest.mark.django_db
def test_a_refund_and_its_payment_balance_to_the_cent(shop, order):
    journal_post(shop=shop, postings=REFUND, memo="退款 AS1", order=order)
    journal_post(
        shop=shop,
        postings=[
            Posting("refunds_payable", debit=D("88.80")),
            Posting("payment_clearing", credit=D("88.80")),
        ],
        memo="支付宝退款成功",
    )
    balances = account_balances(shop)
    assert balances["sales_returns"] == D("88.80")
    assert balances["refunds_payable"] == D("0.00")
    assert balances["payment_clearing"] == D("-88.80")
    assert trial_balance(shop) == (D("177.60"), D("177.60"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("postings", "field"),
    [
        ([Posting("sales_returns", debit=D("10.00"))], "postings"),
        (
            [
                Posting("sales_returns", debit=D("10.00")),
                Posting("refunds_payable", credit=D("9.99")),
            ],
            "postings",
        ),
        (
            [Posting("sales_returns", debit=D("10.00")), Posting("nope", credit=D("10.00"))],
            "postings.1.account",
        ),
        (
            [
                Posting("sales_returns", debit=D("-5.00")),
                Posting("refunds_payable", credit=D("-5.00")),
            ],
            "postings.0",
        ),
        (
            [
                Posting("sales_returns", debit=D("5.00"), credit=D("5.00")),
                Posting("refunds_payable", credit=D("0.00")),
            ],
            "postings.0",
        ),
    ],
)
def test_an_unbalanced_or_malformed_entry_is_refused_and_nothing_is_written(shop, postings, field):
    with pytest.raises(Invalid) as refused:
        journal_post(shop=shop, postings=postings, memo="x")
    assert refused.value.code == "ledger.unbalanced"
    assert field in refused.value.fields
    assert _count() == (0, 0)


@pytest.mark.django_db
def test_another_shops_account_cannot_be_posted_to(shop, other_shop):
    with pytest.raises(Invalid) as refused:
        journal_post(
            shop=other_shop, postings=REFUND[:1] + [Posting("x", credit=D("88.80"))], memo="x"
        )
    assert "postings.1.account" in refused.value.fields
    assert _count() == (0, 0)


@pytest.mark.django_db
def test_a_key_posts_once_and_refuses_other_lines(shop):
    first = journal_post(shop=shop, postings=REFUND, memo="退款", key="refund:AS1")
    again = journal_post(shop=shop, postings=list(reversed(REFUND)), memo="退款", key="refund:AS1")
    assert again.pk == first.pk
    assert _count() == (1, 2)
    other = [
        Posting("sales_returns", debit=D("1.00")),
        Posting("refunds_payable", credit=D("1.00")),
    ]
    with pytest.raises(Conflict) as refused:
        journal_post(shop=shop, postings=other, memo="退款", key="refund:AS1")
    assert refused.value.code == "ledger.key_reused"
    assert _count() == (1, 2)


@pytest.mark.django_db
def test_a_reversal_nets_to_zero_once_and_entries_are_never_edited(shop):
    entry = journal_post(shop=shop, postings=REFUND, memo="退款")
    reversal = journal_reverse(entry=entry, memo="冲销：金额错误")
    assert reversal.reverses_id == entry.pk
    assert all(v == D("0.00") for v in account_balances(shop).values())
    assert trial_balance(shop) == (D("177.60"), D("177.60"))
    with pytest.raises(Conflict, match="reversed already"):
        journal_reverse(entry=entry, memo="again")
    with pytest.raises(Conflict) as refused:
        journal_reverse(entry=reversal, memo="undo the undo")
    assert refused.value.code == "ledger.reversal_reversed"
    assert _count() == (2, 4)
    entry.memo = "changed"
    with pytest.raises(RuntimeError, match="never edited"):
        entry.save()
    with pytest.raises(RuntimeError, match="never deleted"):
        entry.lines.first().delete()


amounts = st.decimals(min_value=D("0.01"), max_value=D("99999.99"), places=2)
codes = st.sampled_from([code for code, _n, _k in CHART])


@pytest.mark.django_db
# Examples share the test's transaction: the books must stay balanced as they accumulate.
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(codes, codes, amounts), min_size=1, max_size=8))
def test_any_sequence_of_balanced_entries_keeps_the_books_balanced(shop, moves):
    for debit_code, credit_code, amount in moves:
        journal_post(
            shop=shop,
            postings=[Posting(debit_code, debit=amount), Posting(credit_code, credit=amount)],
            memo="move",
        )
    debits, credits = trial_balance(shop)
    assert debits == credits
    # Debit-normal balances equal credit-normal balances: the accounting equation.
    normal = account_balances(shop)
    debit_side = sum((normal[code] for code, _n, kind in CHART if kind in DEBIT_NORMAL), D(0))
    credit_side = sum((normal[code] for code, _n, kind in CHART if kind not in DEBIT_NORMAL), D(0))
    assert debit_side == credit_side


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_of_one_key_post_once(shop):
    barrier = threading.Barrier(8)
    ids: list[int] = []

    def post() -> None:
        try:
            barrier.wait()
            ids.append(journal_post(shop=shop, postings=REFUND, memo="退款", key="refund:AS9").pk)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 8 and len(set(ids)) == 1
    assert _count() == (1, 2)
