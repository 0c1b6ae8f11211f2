"""The `aftersales` command: Django's management commands under one name.

aftersales serve [--demo] [--host H] [--port P]
aftersales migrate | demo | token USER --role ROLE | <any manage.py command>
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aftersales.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv[1:] if argv is None else argv)
    execute_from_command_line(["aftersales", *(args or ["help"])])


if __name__ == "__main__":
    main()
