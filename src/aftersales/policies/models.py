"""Policies as versioned data, and the record of every decision they made."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Policy(models.Model):
    """A named policy of a shop, optionally narrowed to one channel and/or one category.

    The most specific live policy decides a case: channel+category, channel, category, shop.
    """

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="policies")
    channel = models.ForeignKey(
        "channels.Channel", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    category = models.ForeignKey(
        "catalog.Category", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    name = models.CharField(_("name"), max_length=120)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("policy")
        verbose_name_plural = _("policies")
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "channel", "category"],
                name="policy_scope_uniq",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return self.name


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    LIVE = "live", _("Live")
    RETIRED = "retired", _("Retired")


class PolicyVersion(models.Model):
    """One immutable text of a policy. Editing makes a new version; publishing retires the old."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    status = models.CharField(
        _("status"), max_length=8, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    document = models.JSONField(_("rules"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)

    class Meta:
        verbose_name = _("policy version")
        verbose_name_plural = _("policy versions")
        ordering = ["policy_id", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "policy", "number"], name="policyversion_number_uniq"
            ),
            models.UniqueConstraint(
                fields=["shop", "policy"],
                condition=Q(status="live"),
                name="policyversion_one_live",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy} v{self.number} ({self.status})"


class PolicyDecision(models.Model):
    """What the policy decided for a case at one moment, on which facts, by which rule."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="decisions")
    version = models.ForeignKey(
        PolicyVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="decisions"
    )
    trigger = models.CharField(_("trigger"), max_length=24)
    rule = models.CharField(_("rule"), max_length=64)
    action = models.CharField(_("action"), max_length=24)
    params = models.JSONField(default=dict)
    modifiers = models.JSONField(default=list)
    facts = models.JSONField(default=dict)
    all_facts = models.JSONField(default=dict)  # every fact at the time: what-if replays these
    explanation = models.JSONField(default=dict)
    applied = models.CharField(_("applied as"), max_length=32, blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("policy decision")
        verbose_name_plural = _("policy decisions")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["shop", "case", "id"], name="decision_case_idx"),
            models.Index(fields=["shop", "created_at"], name="decision_shop_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} → {self.action}"
