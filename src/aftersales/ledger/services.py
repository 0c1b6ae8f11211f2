"""Posting to the ledger: every entry balances, is written once, and is only ever undone by a
reversing entry. Amounts are Decimal to the cent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.cases.models import Case
from aftersales.channels.models import Order, Shop
from aftersales.core.errors import Conflict, Invalid
from aftersales.core.money import MONEY_MAX, ZERO, money
from aftersales.ledger.chart import CHART
from aftersales.ledger.models import Account, JournalEntry, JournalLine

_CHART_CODES = frozenset(code for code, _name, _kind in CHART)


@dataclass(frozen=True)
class Posting:
    account: str  # the account's code
    debit: Decimal = ZERO
    credit: Decimal = ZERO


def chart_install(*, shop: Shop) -> list[Account]:
    """Create the standard accounts the shop lacks; idempotent."""
    have = set(Account.objects.filter(shop=shop).values_list("code", flat=True))
    Account.objects.bulk_create(
        [Account(shop=shop, code=c, name=str(n), kind=k) for c, n, k in CHART if c not in have],
        ignore_conflicts=True,
    )
    return list(Account.objects.filter(shop=shop))


def _validate(shop: Shop, postings: list[Posting]) -> tuple[dict[str, Account], dict[str, str]]:
    errors: dict[str, str] = {}
    if len(postings) < 2:
        errors["postings"] = _("An entry needs at least two lines.")
    accounts = {a.code: a for a in Account.objects.filter(shop=shop)}
    if any(p.account not in accounts and p.account in _CHART_CODES for p in postings):
        # A shop from before an account joined the standard chart gets it now.
        accounts = {a.code: a for a in chart_install(shop=shop)}
    debits = credits = ZERO
    for i, p in enumerate(postings):
        debit, credit = money(p.debit), money(p.credit)
        if p.account not in accounts:
            errors[f"postings.{i}.account"] = _("No such account in this shop.")
        if debit < ZERO or credit < ZERO or (debit > ZERO) == (credit > ZERO):
            errors[f"postings.{i}"] = _("A line is either a debit or a credit, above zero.")
        if debit > MONEY_MAX or credit > MONEY_MAX:
            errors[f"postings.{i}"] = _("Amount too large.")
        debits += debit
        credits += credit
    if not errors and debits != credits:
        errors["postings"] = _("Debits %(debits)s and credits %(credits)s differ.") % {
            "debits": debits,
            "credits": credits,
        }
    return accounts, errors


def _same(entry: JournalEntry, postings: list[Posting]) -> bool:
    theirs = sorted(
        (line.account.code, line.debit, line.credit)
        for line in entry.lines.select_related("account")
    )
    ours = sorted((p.account, money(p.debit), money(p.credit)) for p in postings)
    return theirs == ours


def journal_post(
    *,
    shop: Shop,
    postings: list[Posting],
    memo: str,
    actor: AbstractBaseUser | None = None,
    case: Case | None = None,
    order: Order | None = None,
    key: str = "",
    at: datetime | None = None,
    reverses: JournalEntry | None = None,
) -> JournalEntry:
    """Post one balanced entry. With a `key`, posting the same entry again returns the first
    one (a retry); the same key with different lines is refused."""
    accounts, errors = _validate(shop, postings)
    memo = (memo or "").strip()
    if not memo:
        errors["memo"] = _("Required.")
    if errors:
        raise Invalid("ledger.unbalanced", _("The entry does not balance."), errors)
    if key:
        existing = JournalEntry.objects.filter(shop=shop, key=key).first()
        if existing is not None:
            return _replayed(existing, postings)
    try:
        with transaction.atomic():
            entry = JournalEntry.objects.create(
                shop=shop,
                posted_at=at or timezone.now(),
                memo=memo[:200],
                case=case,
                order=order,
                key=key,
                reverses=reverses,
                actor_label=actor.get_username() if actor is not None else "system",
            )
            JournalLine.objects.bulk_create(
                JournalLine(
                    shop=shop,
                    entry=entry,
                    account=accounts[p.account],
                    debit=money(p.debit),
                    credit=money(p.credit),
                )
                for p in postings
            )
    except IntegrityError:  # a concurrent post of the same key won
        existing = JournalEntry.objects.filter(shop=shop, key=key).first() if key else None
        if existing is None:
            raise
        return _replayed(existing, postings)
    return entry


def _replayed(existing: JournalEntry, postings: list[Posting]) -> JournalEntry:
    if not _same(existing, postings):
        raise Conflict(
            "ledger.key_reused",
            _("This key was already posted with other lines."),
            {"key": existing.key},
        )
    return existing


def journal_reverse(
    *, entry: JournalEntry, memo: str, actor: AbstractBaseUser | None = None
) -> JournalEntry:
    """Undo an entry with its mirror image; an entry is reversed at most once."""
    with transaction.atomic():
        locked = JournalEntry.objects.select_for_update().get(pk=entry.pk)
        if JournalEntry.objects.filter(reverses=locked).exists():
            raise Conflict("ledger.already_reversed", _("This entry was reversed already."))
        if locked.reverses_id is not None:
            raise Conflict("ledger.reversal_reversed", _("A reversal is not reversed; post anew."))
        postings = [
            Posting(line.account.code, debit=line.credit, credit=line.debit)
            for line in locked.lines.select_related("account")
        ]
        reversal = journal_post(
            shop=locked.shop,
            postings=postings,
            memo=memo,
            actor=actor,
            case=locked.case,
            order=locked.order,
            reverses=locked,
        )
        return reversal


def penalty_record(
    *,
    shop: Shop,
    actor: AbstractBaseUser | None,
    amount: Decimal,
    note: str,
    case: Case | None = None,
    order: Order | None = None,
    key: str = "",
) -> JournalEntry:
    """A marketplace deducted a penalty (late shipment, a dispute lost): platform penalties
    against what the platform holds for us. The key makes a re-recorded deduction post once."""
    from aftersales.channels.services import require_shop_perm  # it imports us when it runs

    require_shop_perm(actor, "ledger.record_penalty", shop.pk, "shop.not_found")
    errors: dict[str, str] = {}
    if money(amount) <= ZERO:
        errors["amount"] = _("Above zero.")
    for name, linked in (("case_id", case), ("order_id", order)):
        if linked is not None and linked.shop_id != shop.pk:
            errors[name] = _("Not of this shop.")
    if errors:
        raise Invalid("ledger.invalid", _("The penalty is not valid."), errors)
    return journal_post(
        shop=shop,
        postings=[
            Posting("platform_penalties", debit=money(amount)),
            Posting("payment_clearing", credit=money(amount)),
        ],
        memo=note,
        actor=actor,
        case=case,
        order=order or (case.order if case else None),
        key=key,
    )
