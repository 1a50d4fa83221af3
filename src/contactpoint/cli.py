"""The `contactpoint` console command: Django's management commands with our settings."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    """Run a management command; `contactpoint --help` lists them."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactpoint.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else ["contactpoint", *argv])
    if len(args) == 1 or args[1] in {"-h", "--help"}:
        args = [args[0], "help", *args[2:]]
    execute_from_command_line(args)


if __name__ == "__main__":
    main()
