"""Reads of the ledger: balances per account and the trial balance.

Sums are rounded to the cent: SQLite adds decimals as floating point, so a sum of cents can
come back as 587667.32999999900; every single amount is exact, and so is the rounded sum."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from aftersales.channels.models import Shop
from aftersales.core.money import ZERO, money
from aftersales.ledger.chart import DEBIT_NORMAL
from aftersales.ledger.models import Account, JournalLine


def account_balances(shop: Shop) -> dict[str, Decimal]:
    """Each account's balance on its normal side (debit-normal accounts: debits − credits)."""
    sums = {
        row["account_id"]: (money(row["d"] or ZERO), money(row["c"] or ZERO))
        for row in JournalLine.objects.filter(shop=shop)
        .values("account_id")
        .annotate(d=Sum("debit"), c=Sum("credit"))
    }
    balances = {}
    for account in Account.objects.filter(shop=shop):
        debit, credit = sums.get(account.pk, (ZERO, ZERO))
        balances[account.code] = debit - credit if account.kind in DEBIT_NORMAL else credit - debit
    return balances


def trial_balance(shop: Shop) -> tuple[Decimal, Decimal]:
    """(all debits, all credits): always equal."""
    row = JournalLine.objects.filter(shop=shop).aggregate(d=Sum("debit"), c=Sum("credit"))
    return money(row["d"] or ZERO), money(row["c"] or ZERO)
