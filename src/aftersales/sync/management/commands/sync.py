"""aftersales sync pull [--channel CODE] [--shop CODE]

Pulls at once what the linked channels changed since their last pull (the reconciliation the
worker runs on its own every few minutes) and prints, per channel, the window read and what
became of each change. Exits 1 when a channel could not be pulled.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.sync.models import ChannelLink
from aftersales.sync.reconcile import pull_now


class Command(BaseCommand):
    help = "Channel sync: pull what the linked channels changed (reconciliation)."

    def add_arguments(self, parser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True)
        pull = commands.add_parser("pull", help="pull the linked channels' changes now")
        pull.add_argument("--channel", default="", help="the channel's code (default: all)")
        pull.add_argument("--shop", default="", help="the shop's code, when codes repeat")

    def handle(self, *args, subcommand: str, **options) -> None:
        links = (
            ChannelLink.objects.filter(active=True)
            .exclude(connector="")
            .select_related("channel", "channel__shop")
            .order_by("pk")
        )
        if options["channel"]:
            links = links.filter(channel__code=options["channel"])
        if options["shop"]:
            links = links.filter(channel__shop__code=options["shop"])
        links = list(links)
        if not links:
            raise CommandError(_("No active channel link with a connector matches."))
        now = timezone.now()
        failed = 0
        for link in links:
            report = pull_now(link, now)
            failed += 1 if report.error else 0
            self.stdout.write(report.describe())
        if failed:
            raise CommandError(
                _("%(failed)d of %(total)d channels could not be pulled.")
                % {"failed": failed, "total": len(links)},
                returncode=1,
            )
