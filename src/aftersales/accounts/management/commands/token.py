"""`aftersales token USER --role ROLE`: create the user if needed and print a new API token."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from aftersales.accounts.roles import ROLE_PERMISSIONS
from aftersales.accounts.services import token_create, user_ensure
from aftersales.channels.models import Shop
from aftersales.core.errors import DomainError


class Command(BaseCommand):
    help = "Create USER (if needed) with ROLE and print a new API token for them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=sorted(ROLE_PERMISSIONS))
        parser.add_argument(
            "--shop",
            action="append",
            dest="shops",
            help="shop code the user may see (repeatable; default: every shop)",
        )
        parser.add_argument("--name", default="cli", help="a label for the token")

    def handle(self, *args, username: str, role: str, shops, name: str, **options) -> None:
        shop_objs = None
        if shops:
            shop_objs = list(Shop.objects.filter(code__in=shops))
            missing = set(shops) - {s.code for s in shop_objs}
            if missing:
                raise CommandError(f"unknown shop code(s): {', '.join(sorted(missing))}")
        try:
            user = user_ensure(username=username, role=role, shops=shop_objs)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(token_create(user=user, name=name))
