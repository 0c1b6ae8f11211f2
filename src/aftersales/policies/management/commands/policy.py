"""`aftersales policy …`: what-if a draft, export, import, install the default policy.

    aftersales policy whatif DRAFT_FILE --shop CODE [--days 90]
    aftersales policy export --shop CODE [--format yaml|json] [--version N]
    aftersales policy import FILE --shop CODE [--publish]
    aftersales policy install-default --shop CODE

--channel CODE and --category CODE narrow the scope (as the API's channel_id/category_id).
Files are JSON or YAML by their suffix (.json; .yaml, .yml or anything else: YAML).
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from aftersales.catalog.models import Category
from aftersales.channels.models import Channel, Shop
from aftersales.core.errors import DomainError
from aftersales.policies.models import PolicyVersion, VersionStatus
from aftersales.policies.portable import FORMATS, YAML, document_dump, document_load, format_for
from aftersales.policies.services import (
    policy_install_default,
    policy_publish,
    policy_save,
)
from aftersales.policies.whatif import report_table, whatif_run

# Replays shorter than this finish before anyone would look at a progress line.
PROGRESS_FROM = 1000


def _failure(exc: DomainError) -> CommandError:
    lines = [exc.message] + [f"  {path}: {problem}" for path, problem in exc.fields.items()]
    return CommandError("\n".join(lines))


class Command(BaseCommand):
    help = "Policies: what-if a draft against past cases, export, import, install the default."

    def add_arguments(self, parser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True)

        def scoped(name: str, help_text: str):
            sub = commands.add_parser(name, help=help_text)
            sub.add_argument("--shop", required=True, help="shop code")
            sub.add_argument("--channel", help="channel code: the policy of that channel")
            sub.add_argument("--category", help="category code: the policy of that category")
            return sub

        whatif = scoped("whatif", "replay recent cases against a draft and the live policy")
        whatif.add_argument("draft_file", help="the draft policy, JSON or YAML")
        whatif.add_argument("--days", type=int, default=90, help="cases filed in the last N days")

        export = scoped("export", "print a policy version (the live one by default)")
        export.add_argument("--format", choices=FORMATS, default=YAML)
        export.add_argument("--version", type=int, help="version number (default: live)")

        load = scoped("import", "save a file as a new draft version")
        load.add_argument("file", help="the policy, JSON or YAML")
        load.add_argument("--publish", action="store_true", help="make it live at once")

        scoped("install-default", "save the default policy (DESIGN §5) and publish it")

    def handle(self, *args, subcommand: str, **options) -> None:
        shop = Shop.objects.filter(code=options["shop"]).first()
        if shop is None:
            raise CommandError(f"unknown shop code {options['shop']!r}")
        channel = category = None
        if options.get("channel"):
            channel = Channel.objects.filter(shop=shop, code=options["channel"]).first()
            if channel is None:
                raise CommandError(f"shop {shop.code} has no channel {options['channel']!r}")
        if options.get("category"):
            category = Category.objects.filter(shop=shop, code=options["category"]).first()
            if category is None:
                raise CommandError(f"shop {shop.code} has no category {options['category']!r}")
        try:
            if subcommand == "whatif":
                self._whatif(shop, channel, category, options["draft_file"], options["days"])
            elif subcommand == "export":
                self._export(shop, channel, category, options["format"], options["version"])
            elif subcommand == "import":
                self._import(shop, channel, category, options["file"], options["publish"])
            elif channel or category:
                raise CommandError("install-default installs the shop-wide policy only")
            else:
                version = policy_install_default(shop=shop)
                self.stdout.write(f"Installed the default policy as version {version.number}.")
        except DomainError as exc:
            raise _failure(exc) from exc

    def _read(self, path: str):
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path} is not UTF-8 text") from exc
        return document_load(text, format=format_for(path))

    def _whatif(self, shop, channel, category, path: str, days: int) -> None:
        document = self._read(path)
        shown = [-1]

        def progress(done: int, expected: int) -> None:
            if expected < PROGRESS_FROM:
                return
            tenth = done * 10 // expected
            if tenth > shown[0]:
                shown[0] = tenth
                self.stderr.write(f"replayed {done:,} of {expected:,} cases ({tenth * 10} %)")

        report = whatif_run(
            shop=shop,
            document=document,
            days=days,
            progress=progress,
            channel=channel,
            category=category,
        )
        self.stdout.write("\n".join(report_table(report)))

    def _export(self, shop, channel, category, fmt: str, number: int | None) -> None:
        versions = PolicyVersion.objects.filter(
            shop=shop, policy__channel=channel, policy__category=category
        )
        if number is not None:
            version = versions.filter(number=number).first()
        else:
            version = (
                versions.filter(status=VersionStatus.LIVE).first()
                or versions.order_by("-number").first()
            )
        if version is None:
            raise CommandError("no such policy version")
        self.stdout.write(document_dump(version.document, format=fmt), ending="")

    def _import(self, shop, channel, category, path: str, publish: bool) -> None:
        document = self._read(path)
        version = policy_save(
            actor=None, shop=shop, document=document, channel=channel, category=category
        )
        if publish:
            version = policy_publish(actor=None, version=version)
        self.stdout.write(
            f"Saved “{version.policy.name}” as version {version.number} ({version.status})."
        )
