"""The double-entry ledger: a chart of accounts per shop, and journal entries whose lines
always balance. Entries are never edited nor deleted; a mistake is reversed by another."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class AccountKind(models.TextChoices):
    ASSET = "asset", _("Asset")
    LIABILITY = "liability", _("Liability")
    REVENUE = "revenue", _("Revenue")
    EXPENSE = "expense", _("Expense")
    CONTRA_REVENUE = "contra_revenue", _("Contra revenue")


class Account(models.Model):
    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=16, choices=AccountKind.choices)

    class Meta:
        verbose_name = _("ledger account")
        verbose_name_plural = _("ledger accounts")
        ordering = ["shop_id", "code"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "code"], name="account_shop_code_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Immutable(models.Model):
    """Rows written once: saving an existing row or deleting one is refused."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise RuntimeError(f"{type(self).__name__} rows are never edited; reverse instead")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError(f"{type(self).__name__} rows are never deleted; reverse instead")


class JournalEntry(Immutable):
    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    posted_at = models.DateTimeField(_("posted at"))
    memo = models.CharField(_("memo"), max_length=200)
    case = models.ForeignKey(
        "cases.Case", on_delete=models.PROTECT, null=True, blank=True, related_name="journal"
    )
    order = models.ForeignKey(
        "channels.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # A caller's key for the business event behind the entry: posting it twice posts once.
    key = models.CharField(_("idempotency key"), max_length=120, blank=True)
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    actor_label = models.CharField(_("by"), max_length=150)

    class Meta:
        verbose_name = _("journal entry")
        verbose_name_plural = _("journal entries")
        permissions = [("record_penalty", "Can record a platform penalty")]
        ordering = ["shop_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "key"], condition=~Q(key=""), name="journal_shop_key_uniq"
            )
        ]
        indexes = [
            models.Index(fields=["shop", "posted_at"], name="journal_shop_posted_idx"),
            models.Index(fields=["shop", "case"], name="journal_shop_case_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.memo}"


class JournalLine(Immutable):
    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="lines")
    debit = models.DecimalField(_("debit"), max_digits=14, decimal_places=2, default=0)
    credit = models.DecimalField(_("credit"), max_digits=14, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("journal line")
        verbose_name_plural = _("journal lines")
        ordering = ["entry_id", "id"]
        indexes = [models.Index(fields=["shop", "account"], name="journalline_shop_acct_idx")]
        constraints = [
            # One side only, never negative.
            models.CheckConstraint(
                condition=Q(debit__gt=0, credit=0) | Q(debit=0, credit__gt=0),
                name="journalline_one_side_positive",
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} Dr {self.debit} Cr {self.credit}"


# --------------------------------------------------------------------------- payments


class Provider(models.TextChoices):
    ALIPAY = "alipay", _("Alipay")
    WECHATPAY = "wechatpay", _("WeChat Pay")
    MANUAL = "manual", _("By hand, with proof")
    STORE_CREDIT = "store_credit", _("Store credit")


class PaymentAccount(models.Model):
    """A shop's account with a payment provider: where refunds of its orders leave from."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    provider = models.CharField(_("provider"), max_length=16, choices=Provider.choices)
    name = models.CharField(_("name"), max_length=120)
    active = models.BooleanField(_("active"), default=True)
    # Alipay app_id or WeChat Pay mchid.
    merchant_id = models.CharField(_("app id / merchant id"), max_length=64, blank=True)
    # Our key's certificate serial number (WeChat Pay).
    key_serial = models.CharField(_("key serial number"), max_length=64, blank=True)
    private_key = models.TextField(_("our private key (PEM)"), blank=True)
    # Alipay's public key, or the WeChat Pay platform key, that signs its answers.
    provider_public_key = models.TextField(_("provider public key (PEM)"), blank=True)
    provider_key_serial = models.CharField(_("provider key serial"), max_length=64, blank=True)
    # WeChat Pay's APIv3 key, which encrypts its notifications.
    api_key = models.CharField(_("API v3 key"), max_length=64, blank=True)
    gateway_url = models.URLField(_("gateway URL"), max_length=300, blank=True)
    # Where the provider calls back; our public base URL + /api/v1/payments/…/notify.
    notify_url = models.URLField(_("notification URL"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("payment account")
        verbose_name_plural = _("payment accounts")
        ordering = ["shop_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "provider"],
                condition=Q(active=True),
                name="paymentaccount_active_uniq",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_provider_display()})"


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENDING = "sending", _("Being sent")
    PROCESSING = "processing", _("Accepted, waiting for the provider")
    AWAITING_PROOF = "awaiting_proof", _("Waiting for proof of payment")
    SUCCEEDED = "succeeded", _("Paid")
    FAILED = "failed", _("Failed")


R = RefundStatus
# Who may follow whom. A refund is claimed (sending) by exactly one worker at a time; a
# retryable failure puts it back to pending with the same key, so it can never pay twice.
REFUND_TRANSITIONS: dict[str, frozenset[str]] = {
    # A provider's answer may overtake a resend we scheduled (the first call did go through).
    R.PENDING: frozenset({R.SENDING, R.SUCCEEDED, R.FAILED}),
    R.SENDING: frozenset(
        {R.PENDING, R.SENDING, R.PROCESSING, R.AWAITING_PROOF, R.SUCCEEDED, R.FAILED}
    ),
    R.PROCESSING: frozenset({R.SUCCEEDED, R.FAILED}),
    R.AWAITING_PROOF: frozenset({R.SUCCEEDED, R.FAILED}),
    R.SUCCEEDED: frozenset(),
    R.FAILED: frozenset(),
}


class Refund(models.Model):
    """Money going back to a customer for a case: one row per attempt, paid at most once.

    `key` is our refund number, sent to the provider as its idempotency key: every retry of
    this row sends the same key, and the provider answers a repeat with the first result."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="refunds")
    order = models.ForeignKey(
        "channels.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    key = models.CharField(_("refund number"), max_length=64)
    provider = models.CharField(_("provider"), max_length=16, choices=Provider.choices)
    account = models.ForeignKey(
        PaymentAccount, on_delete=models.PROTECT, null=True, blank=True, related_name="refunds"
    )
    status = models.CharField(
        _("status"), max_length=16, choices=RefundStatus.choices, default=R.PENDING
    )
    # What the provider pays back on the original payment: goods less a restocking fee
    # (amount = goods − fee, never more than was paid). Return postage we bear and interest on
    # funds we delayed go on top as store credit, since a provider refunds no more than the
    # payment: the settlement books all of it in one entry.
    goods_amount = models.DecimalField(_("goods"), max_digits=12, decimal_places=2)
    shipping_amount = models.DecimalField(
        _("return postage"), max_digits=12, decimal_places=2, default=0
    )
    interest = models.DecimalField(_("interest"), max_digits=12, decimal_places=2, default=0)
    restocking_fee = models.DecimalField(
        _("restocking fee"), max_digits=12, decimal_places=2, default=0
    )
    amount = models.DecimalField(_("amount paid"), max_digits=12, decimal_places=2)
    # Where the case goes back to when the refund fails for good.
    from_status = models.CharField(max_length=24)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    provider_reference = models.CharField(_("provider's number"), max_length=64, blank=True)
    failure_reason = models.CharField(_("failure reason"), max_length=300, blank=True)
    proof = models.FileField(_("proof of payment"), upload_to="refund-proof/%Y/%m/", blank=True)
    due_at = models.DateTimeField(_("owed since"))
    created_at = models.DateTimeField(_("created at"))
    confirmed_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    entry = models.OneToOneField(
        JournalEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="refund"
    )

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["shop_id", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "key"], name="refund_shop_key_uniq"),
            # One refund in flight per case: the case is refunding at most once at a time.
            models.UniqueConstraint(
                fields=["shop", "case"],
                condition=Q(status__in=["pending", "sending", "processing", "awaiting_proof"]),
                name="refund_one_live_per_case",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="refund_due_idx"),
            models.Index(fields=["shop", "confirmed_at"], name="refund_shop_paid_idx"),
            models.Index(fields=["shop", "case"], name="refund_shop_case_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.amount} {self.status}"

    @property
    def extras(self):
        """Postage and interest, credited to the customer beside the payout."""
        return self.shipping_amount + self.interest


class CreditKind(models.TextChoices):
    STORE_CREDIT = "store_credit", _("Store credit")
    COUPON = "coupon", _("Coupon")


class CustomerCredit(Immutable):
    """Store credit or a coupon given to a customer; the ledger holds the liability."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        "channels.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=CreditKind.choices)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    case = models.ForeignKey(
        "cases.Case", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    order = models.ForeignKey(
        "channels.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=200)
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="credit")
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("customer credit")
        verbose_name_plural = _("customer credits")
        ordering = ["shop_id", "-id"]
        indexes = [models.Index(fields=["shop", "customer"], name="credit_shop_customer_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


# --------------------------------------------------------------------------- compensation


class CompensationStatus(models.TextChoices):
    GRANTED = "granted", _("Granted")
    AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
    REFUSED = "refused", _("Refused")


class Compensation(models.Model):
    """Goodwill an agent gives a customer, inside the agent's monthly budget or approved."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="compensations")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="compensations"
    )
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    kind = models.CharField(_("given as"), max_length=16, choices=CreditKind.choices)
    note = models.CharField(_("note"), max_length=500)
    month = models.DateField(_("budget month"))  # the first day of the agent's month
    status = models.CharField(_("status"), max_length=20, choices=CompensationStatus.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    credit = models.OneToOneField(
        CustomerCredit, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("compensation")
        verbose_name_plural = _("compensations")
        ordering = ["shop_id", "-id"]
        permissions = [("approve_compensation", "Can approve compensation above a budget")]
        indexes = [
            models.Index(fields=["shop", "agent", "month"], name="comp_shop_agent_month_idx")
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.status}"


class CompensationBudget(models.Model):
    """What an agent may give each month without approval (DESIGN §5: 500). A row without an
    agent is the shop's default; one with an agent overrides it."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    monthly = models.DecimalField(_("per month"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("compensation budget")
        verbose_name_plural = _("compensation budgets")
        constraints = [
            models.UniqueConstraint(fields=["shop", "agent"], name="compbudget_shop_agent_uniq"),
            models.UniqueConstraint(
                fields=["shop"], condition=Q(agent__isnull=True), name="compbudget_shop_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id or '*'}: {self.monthly}"


class BudgetMonth(models.Model):
    """The row an agent's grants of one month lock, so two grants at once cannot both fit
    into what is left of the budget."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    month = models.DateField()
    spent = models.DecimalField(max_digits=12, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "agent", "month"], name="budgetmonth_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} {self.month:%Y-%m}: {self.spent}"
