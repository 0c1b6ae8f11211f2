"""Who may see which shop (memberships), agents' teams and shifts, and hashed API tokens."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class Team(models.Model):
    shop = models.ForeignKey("channels.Shop", on_delete=models.PROTECT, related_name="teams")
    name = models.CharField(_("name"), max_length=80)
    # New cases that name no team wait in this team's queue.
    is_default = models.BooleanField(
        _("default queue"),
        default=False,
        help_text=_("Cases that name no team are routed to this team."),
    )

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        constraints = [
            models.UniqueConstraint(fields=["shop", "name"], name="team_shop_name_uniq"),
            models.UniqueConstraint(
                fields=["shop"],
                condition=models.Q(is_default=True),
                name="team_one_default_per_shop",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user belongs to a shop (and optionally a team in it): shops scope what a user sees."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="memberships"
    )
    max_open_cases = models.PositiveSmallIntegerField(
        _("most open cases"),
        default=30,
        help_text=_("Routing gives this member no new case while they hold this many open ones."),
    )
    # Round-robin: the next case goes to the eligible member whose turn is lowest. The turn
    # is a counter per shop rather than a time, so picks made at the same instant still rotate.
    assignment_turn = models.PositiveBigIntegerField(_("assignment turn"), default=0)
    last_assigned_at = models.DateTimeField(_("last routed a case at"), null=True, blank=True)

    class Meta:
        verbose_name = _("shop membership")
        verbose_name_plural = _("shop memberships")
        constraints = [
            models.UniqueConstraint(fields=["shop", "user"], name="membership_shop_user_uniq")
        ]
        permissions = [("deactivate_member", "Can deactivate a departed member")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.shop}"


class Shift(models.Model):
    """A stretch of time a user works for a shop. Who is on shift at a moment is whoever has
    a shift covering it (starts_at <= moment < ends_at). A shift may name the team the user
    works for during it; otherwise they work for their membership's team."""

    shop = models.ForeignKey("channels.Shop", on_delete=models.CASCADE, related_name="shifts")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shifts"
    )
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="shifts"
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))

    class Meta:
        verbose_name = _("shift")
        verbose_name_plural = _("shifts")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="shift_ends_after_start"
            )
        ]
        indexes = [
            models.Index(fields=["shop", "user", "starts_at"], name="shift_shop_user_start_idx"),
            models.Index(fields=["shop", "starts_at"], name="shift_shop_start_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%H:%M}"

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("A shift ends after it starts.")})


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored; the key is shown once when created."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=80, blank=True)
    key_prefix = models.CharField(_("key prefix"), max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.key_prefix}… ({self.user})"
