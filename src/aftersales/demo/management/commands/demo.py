"""`aftersales demo`: load the demo merchant and print how to log in and call the API."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from aftersales.demo.builder import DEMO_SHOP_CODE, demo_exists, demo_load


class Command(BaseCommand):
    help = (
        "Load a believable demo merchant (shop 'demo'): channels, catalog, people, orders "
        "and cases in every state. Prints the demo users and one API token per role."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing (and say so) if the demo shop already exists",
        )
        parser.add_argument("--orders", type=int, default=2000, help="orders to create")
        parser.add_argument("--cases", type=int, default=300, help="cases to create")
        parser.add_argument(
            "--seed", type=int, default=1, help="random seed (same seed, same shop)"
        )

    def handle(self, *args, if_empty: bool, orders: int, cases: int, seed: int, **options):
        if orders < 0 or cases < 0:
            raise CommandError("--orders and --cases cannot be negative.")
        if demo_exists():
            if if_empty:
                self.stdout.write(
                    f"The demo shop ({DEMO_SHOP_CODE}) already exists; nothing loaded."
                )
                return
            raise CommandError(
                f"The demo shop ({DEMO_SHOP_CODE}) already exists. Use a fresh database "
                "(e.g. another AFTERSALES_DATA_DIR), or --if-empty to skip quietly."
            )
        started = time.monotonic()
        summary = demo_load(orders=orders, cases=cases, seed=seed)
        self._report(summary, time.monotonic() - started)

    def _report(self, summary: dict, seconds: float) -> None:
        out = self.stdout.write
        counts = summary["counts"]
        shop = summary["shop"]
        out(
            self.style.SUCCESS(
                f"Demo shop {shop['name']} ({shop['code']}) loaded in {seconds:.1f} s."
            )
        )
        out(
            f"  {counts['channels']} channels, {counts['categories']} categories, "
            f"{counts['products']} products, {counts['parts']} parts"
        )
        out(
            f"  {counts['customers']} customers, {counts['orders']} orders "
            f"({_pairs(summary['orders_by_status'])}), {counts['shipments']} shipments"
        )
        out(
            f"  {counts['cases']} cases, {summary['open_cases']} open, "
            f"{counts['case_events']} timeline events"
        )
        out(f"    by type:   {_pairs(summary['cases_by_type'])}")
        out(f"    by status: {_pairs(summary['cases_by_status'])}")
        out(
            f"  {counts['holidays']} holidays and 调休 days, {counts['shifts']} shifts, "
            f"{summary['timers_fired']} clocks fired by now, {summary['timers_running']} running, "
            f"{counts['outbox']} messages in the outbox"
        )
        out("")
        out("Users:")
        for user in summary["users"]:
            team = f" · {user['team']}" if user["team"] else ""
            out(f"  {user['username']:<14} {user['role']:<12} {user['name']}{team}")
        if summary["admin_password"]:
            out(f"Django admin: /admin/  user admin, password {summary['admin_password']}")
        out("")
        out("API tokens (shown once; send as 'Authorization: Bearer <token>'):")
        for role, (username, key) in summary["tokens"].items():
            out(f"  {role:<12} {username:<14} {key}")
        agent_key = summary["tokens"].get("agent", ("", "<token>"))[1]
        out("")
        out("Try:")
        out(f'  curl -H "Authorization: Bearer {agent_key}" http://127.0.0.1:8000/api/v1/cases')


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.items()) or "none"
