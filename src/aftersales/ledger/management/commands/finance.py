"""`aftersales finance …`: journal and refund exports, and the refund reconciliation.

    aftersales finance export journal|refunds --shop CODE --from YYYY-MM-DD --to YYYY-MM-DD
                                              [--format csv|xlsx] [--out FILE]
    aftersales finance reconcile --shop CODE --from YYYY-MM-DD --to YYYY-MM-DD

Periods are [from, to) in whole days. Without --out a CSV goes to standard output; the format
defaults to the --out file's suffix. `reconcile` exits with 1 when anything does not match.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from aftersales.channels.models import Shop
from aftersales.core.errors import DomainError
from aftersales.ledger.exports import FORMATS, TABLES, Period, csv_chunks, xlsx_write
from aftersales.ledger.reconcile import MATCHED, Reconciliation, reconciliation_run

# status, refund, case, provider, ours, amount, ledger, provider's amount, provider state
_LAYOUT = "{:<26} {:<18} {:<11} {:<12} {:<14} {:>10} {:>10} {:>10}  {}"


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def _amount(value) -> str:
    return "-" if value is None else str(value)


class Command(BaseCommand):
    help = "Finance: export the journal or the refunds of a period; reconcile the refunds."

    def add_arguments(self, parser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True)

        def periodic(name: str, help_text: str):
            sub = commands.add_parser(name, help=help_text)
            sub.add_argument("--shop", required=True, help="shop code")
            sub.add_argument("--from", dest="start", required=True, type=_day, metavar="YYYY-MM-DD")
            sub.add_argument("--to", dest="end", required=True, type=_day, metavar="YYYY-MM-DD")
            return sub

        export = periodic("export", "write the journal or the refunds of a period")
        export.add_argument("table", choices=sorted(TABLES))
        export.add_argument("--format", choices=FORMATS, help="default: by --out, else csv")
        export.add_argument("--out", help="file to write (default: standard output, CSV only)")

        periodic("reconcile", "compare refunds, the ledger and the payment providers")

    def handle(self, *args, subcommand: str, **options) -> None:
        shop = Shop.objects.filter(code=options["shop"]).first()
        if shop is None:
            raise CommandError(f"unknown shop code {options['shop']!r}")
        try:
            period = Period.of(options["start"], options["end"])
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if subcommand == "export":
            self._export(shop, period, options["table"], options["format"], options["out"])
        else:
            self._reconcile(shop, period)

    def _export(self, shop: Shop, period: Period, kind: str, format: str | None, out: str | None):
        format = format or ("xlsx" if out and out.lower().endswith(".xlsx") else "csv")
        table = TABLES[kind](shop, period)
        if out is None:
            if format != "csv":
                raise CommandError("an XLSX export needs --out FILE")
            for chunk in csv_chunks(table, bom=False):
                self.stdout.write(chunk, ending="")
            return
        path = Path(out)
        try:
            if format == "csv":
                with path.open("w", encoding="utf-8", newline="") as file:
                    file.writelines(csv_chunks(table))
            else:
                with path.open("wb") as file:
                    xlsx_write(table, file)
        except OSError as exc:
            raise CommandError(f"cannot write {out}: {exc.strerror}") from exc
        self.stdout.write(f"{kind}: {table.count} rows and a TOTAL row written to {path}")

    def _reconcile(self, shop: Shop, period: Period) -> None:
        report = reconciliation_run(shop=shop, period=period)
        self.stdout.write(report_text(report))
        if not report.matched:
            unmatched = sum(1 for row in report.rows if row.status != MATCHED)
            raise CommandError(
                _("%(count)d of %(total)d rows do not match; difference %(difference)s.")
                % {
                    "count": unmatched,
                    "total": len(report.rows),
                    "difference": report.difference,
                },
                returncode=1,
            )


def report_text(report: Reconciliation) -> str:
    lines = [
        _("Refund reconciliation of %(shop)s, %(start)s to %(end)s (end excluded)")
        % {"shop": report.shop.code, "start": report.period.start, "end": report.period.end},
        "",
        _LAYOUT.format(
            _("status"),
            _("refund"),
            _("case"),
            _("provider"),
            _("our status"),
            _("amount"),
            _("ledger"),
            _("confirmed"),
            _("provider says"),
        ),
    ]
    for row in report.rows:
        said = f"{row.provider_state} {row.message}".strip()
        lines.append(
            _LAYOUT.format(
                row.status,
                row.refund_key,
                row.case_reference,
                row.provider,
                row.refund_status,
                _amount(row.amount),
                _amount(row.ledger_amount),
                _amount(row.provider_amount),
                said,
            )
        )
    if not report.rows:
        lines.append(_("No refunds in this period."))
    lines += [
        "",
        _("Confirmed by provider: %(amount)s") % {"amount": report.confirmed_by_provider},
        _("Booked in ledger: %(amount)s") % {"amount": report.booked_in_ledger},
        _("Difference: %(amount)s") % {"amount": report.difference},
    ]
    return "\n".join(lines)
