"""After-sales cases (售后单), their lines, evidence and the append-only event timeline."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from aftersales.cases.states import CaseStatus, CaseType


class Reason(models.TextChoices):
    NO_REASON = "no_reason", _("No-reason return (7 days)")
    QUALITY_DEFECT = "quality_defect", _("Quality defect")
    DAMAGED_IN_TRANSIT = "damaged_in_transit", _("Damaged in transit")
    WRONG_ITEM = "wrong_item", _("Wrong item sent")
    MISSING_ITEM = "missing_item", _("Missing item or part")
    NOT_AS_DESCRIBED = "not_as_described", _("Not as described")
    LOST_IN_TRANSIT = "lost_in_transit", _("Lost in transit")
    NOT_DELIVERED = "not_delivered", _("Not delivered")
    LATE_SHIPMENT = "late_shipment", _("Late shipment")
    FUNDS_NOT_RECEIVED = "funds_not_received", _("Refund or funds not received")
    UNEXPECTED_CHARGE = "unexpected_charge", _("Unexpected charge or deduction")
    USAGE_QUESTION = "usage_question", _("Usage question")
    POLICY_QUESTION = "policy_question", _("Policy question")
    SERVICE_ATTITUDE = "service_attitude", _("Service attitude")
    OTHER = "other", _("Other")


class Priority(models.IntegerChoices):
    """Lower sorts first. Money, safety and regulator/platform escalations are urgent."""

    URGENT = 1, _("Urgent")
    HIGH = 2, _("High")
    NORMAL = 3, _("Normal")
    LOW = 4, _("Low")


class Emotion(models.TextChoices):
    CALM = "calm", _("Calm")
    ANXIOUS = "anxious", _("Anxious")
    ANGRY = "angry", _("Angry")
    FURIOUS = "furious", _("Furious")


class Escalation(models.TextChoices):
    """Where the customer has taken the matter outside the merchant."""

    NONE = "", _("None")
    PLATFORM = "platform_arbitration", _("Platform arbitration")
    REGULATOR = "regulator_12315", _("Regulator (12315)")


class Outcome(models.TextChoices):
    REFUNDED = "refunded", _("Refunded")
    STORE_CREDIT = "store_credit", _("Store credit")
    EXCHANGED = "exchanged", _("Exchanged")
    REPAIRED = "repaired", _("Repaired")
    REISSUED = "reissued", _("Reissued")
    COMPENSATED = "compensated", _("Compensated")
    EXPLAINED = "explained", _("Explained")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    EXPIRED = "expired", _("Expired")


class RefundMethod(models.TextChoices):
    ORIGINAL = "original", _("Original payment")
    STORE_CREDIT = "store_credit", _("Store credit")


class Grade(models.TextChoices):
    RESELLABLE = "resellable", _("Resellable")
    REFURBISH = "refurbish", _("Needs refurbishing")
    SCRAP = "scrap", _("Scrap")


class Disposition(models.TextChoices):
    RESTOCK = "restock", _("Restock")
    REFURBISH = "refurbish", _("Refurbish")
    SCRAP = "scrap", _("Scrap")
    RETURN_TO_SUPPLIER = "return_to_supplier", _("Return to supplier")
    MISSING = "missing", _("Missing")


class DisputeClass(models.TextChoices):
    AFTER_SALES = "after_sales", _("After-sales")
    PROFIT_SHARE = "profit_share", _("Profit share")
    PAYMENT_TERMS = "payment_terms", _("Payment terms")


class DisputeNature(models.TextChoices):
    BENIGN = "benign", _("Benign")
    MALIGNANT = "malignant", _("Malignant")


class Case(models.Model):
    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="cases")
    type = models.CharField(_("type"), max_length=20, choices=CaseType.choices)
    status = models.CharField(_("status"), max_length=24, choices=CaseStatus.choices)
    reason = models.CharField(_("reason"), max_length=24, choices=Reason.choices)
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices)
    priority_reason = models.CharField(_("why this priority"), max_length=24, blank=True)

    order = models.ForeignKey(
        "channels.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="cases"
    )
    channel = models.ForeignKey(
        "channels.Channel", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    customer = models.ForeignKey(
        "channels.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="cases"
    )
    payment_reference = models.CharField(_("payment reference"), max_length=64, blank=True)

    partner = models.ForeignKey(
        "channels.Channel",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="partner_disputes",
        verbose_name=_("partner"),
    )
    dispute_class = models.CharField(
        _("dispute class"), max_length=16, choices=DisputeClass.choices, blank=True
    )
    dispute_nature = models.CharField(
        _("dispute nature"), max_length=12, choices=DisputeNature.choices, blank=True
    )

    customer_words = models.TextField(_("customer's words"), blank=True)
    emotion = models.CharField(_("emotion"), max_length=12, choices=Emotion.choices, blank=True)
    facts = models.TextField(_("facts"), blank=True)
    expectation = models.TextField(_("what the customer expects"), blank=True)
    safety_issue = models.BooleanField(_("safety issue"), default=False)
    escalated_to = models.CharField(
        _("escalated outside to"), max_length=24, choices=Escalation.choices, blank=True
    )

    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_cases",
    )
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="cases"
    )
    escalation_level = models.PositiveSmallIntegerField(_("escalation level"), default=0)

    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, blank=True)
    channel_status = models.CharField(_("channel's own status"), max_length=40, blank=True)
    # The channel's own number for this request (Taobao refund_id, WeChat aftersale_id …):
    # imports and webhooks find the case by it.
    external_id = models.CharField(_("channel's case number"), max_length=64, blank=True)
    # When the channel's status we hold was true there: an older update changes nothing.
    channel_synced_at = models.DateTimeField(_("channel status as of"), null=True, blank=True)

    refund_amount = models.DecimalField(
        _("refund amount"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    refund_method = models.CharField(
        _("refund method"), max_length=16, choices=RefundMethod.choices, blank=True
    )
    # Kept back from the refund, decided at inspection (off unless the shop charges one).
    restocking_fee = models.DecimalField(
        _("restocking fee"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    # A decision above the actor's limit waits here for a higher role (awaiting_approval).
    pending_action = models.JSONField(_("action awaiting approval"), null=True, blank=True)
    approval_role = models.CharField(_("approval needed from"), max_length=16, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # The status to go back to when the customer answers (awaiting_customer pauses the case).
    resume_status = models.CharField(max_length=24, choices=CaseStatus.choices, blank=True)
    quote_amount = models.DecimalField(
        _("repair quote"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    # Part codes the customer or agent names for a repair (priced from the parts list).
    repair_parts = models.JSONField(_("parts to repair"), default=list, blank=True)
    # The latest policy decision (rule, action, facts, explanation); history in decisions.
    decision = models.JSONField(_("policy decision"), null=True, blank=True)

    return_courier = models.CharField(_("return courier"), max_length=40, blank=True)
    return_tracking_number = models.CharField(
        _("return tracking number"), max_length=64, blank=True
    )
    outbound_courier = models.CharField(_("outbound courier"), max_length=40, blank=True)
    outbound_tracking_number = models.CharField(
        _("outbound tracking number"), max_length=64, blank=True
    )

    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    rejected_at = models.DateTimeField(_("rejected at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("ended at"), null=True, blank=True)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        permissions = [
            ("act_approve", "Can approve cases"),
            ("act_reject", "Can reject cases"),
            ("act_request_info", "Can ask the customer for information"),
            ("act_provide_info", "Can record the customer's answer"),
            ("act_record_return", "Can record a return shipment"),
            ("act_receive", "Can receive and inspect returns"),
            ("act_refund", "Can decide refunds"),
            ("act_process", "Can start repair / replacement"),
            ("act_ship", "Can ship to the customer"),
            ("act_complete", "Can complete cases"),
            ("act_escalate", "Can escalate cases"),
            ("act_appeal", "Can appeal a rejection"),
            ("act_cancel", "Can cancel cases"),
            ("act_close", "Can close cases"),
            ("act_comment", "Can comment on cases"),
            ("act_assign", "Can assign cases"),
            ("act_add_evidence", "Can add evidence to cases"),
            ("act_inspect", "Can inspect returns"),
            ("act_refund_settled", "Can confirm a refund was paid"),
            ("act_refund_failed", "Can record that a refund failed"),
            ("act_intercept", "Can intercept a parcel"),
            ("act_factory_send", "Can send an item to the factory"),
            ("act_factory_receive", "Can receive an item back from the factory"),
            ("act_compensate", "Can give goodwill compensation"),
            ("act_channel_sync", "Can move a case to the channel's own status"),
        ]
        # Keyset pages walk (shop, …, id DESC); every hot index leads with shop_id.
        indexes = [
            models.Index(fields=["shop", "-id"], name="case_shop_id_idx"),
            models.Index(fields=["shop", "status", "-id"], name="case_shop_status_idx"),
            # The workbench's commonest pair; without it deep pages walk the primary key.
            models.Index(
                fields=["shop", "status", "type", "-id"], name="case_shop_status_type_idx"
            ),
            models.Index(fields=["shop", "type", "-id"], name="case_shop_type_idx"),
            models.Index(fields=["shop", "priority", "-id"], name="case_shop_priority_idx"),
            models.Index(fields=["shop", "reason", "-id"], name="case_shop_reason_idx"),
            models.Index(fields=["shop", "channel", "-id"], name="case_shop_channel_idx"),
            models.Index(fields=["shop", "assignee", "-id"], name="case_shop_assignee_idx"),
            models.Index(fields=["shop", "created_at"], name="case_shop_created_idx"),
            models.Index(fields=["shop", "order"], name="case_shop_order_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "channel", "external_id"],
                condition=~models.Q(external_id=""),
                name="case_channel_external_uniq",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return f"AS{self.pk:08d}" if self.pk else "AS(new)"


class CaseLine(models.Model):
    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(
        "channels.OrderLine", on_delete=models.PROTECT, related_name="case_lines"
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    grade = models.CharField(_("grade"), max_length=16, choices=Grade.choices, blank=True)
    disposition = models.CharField(
        _("disposition"), max_length=24, choices=Disposition.choices, blank=True
    )

    class Meta:
        verbose_name = _("case line")
        verbose_name_plural = _("case lines")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "case", "order_line"], name="caseline_case_orderline_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_line_id} × {self.quantity}"


class EvidenceKind(models.TextChoices):
    PHOTO = "photo", _("Photo")
    OUTER_PACKAGE = "outer_package", _("Photo of the outer package")
    DAMAGED_PART = "damaged_part", _("Photo of the damaged part")
    VIDEO = "video", _("Video")
    DOCUMENT = "document", _("Document")


class Evidence(models.Model):
    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="evidence")
    kind = models.CharField(_("kind"), max_length=16, choices=EvidenceKind.choices)
    file = models.FileField(_("file"), upload_to="evidence/%Y/%m/")
    content_type = models.CharField(_("content type"), max_length=64)
    size = models.PositiveIntegerField(_("size (bytes)"))
    original_name = models.CharField(_("original name"), max_length=200, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.original_name}"


class CaseEvent(models.Model):
    """One entry of a case's timeline and of the audit log. Never updated, never deleted."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(_("kind"), max_length=32)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(_("actor"), max_length=80)
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24, blank=True)
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        ordering = ["id"]
        indexes = [models.Index(fields=["shop", "case", "id"], name="caseevent_case_idx")]

    def __str__(self) -> str:
        return f"{self.kind} by {self.actor_label}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("case events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("case events are append-only")
