"""The `contactpoint` console command: Django's management commands with our settings."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    """Run a management command; `contactpoint --help` lists them."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactpoint.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else ["contactpoint", *argv])
    if len(args) == 1 or args[1] in {"-h", "--help"}:
        args = [args[0], "help", *args[2:]]
    try:
        execute_from_command_line(args)
    except ImproperlyConfigured as error:
        # A configuration mistake is the operator's to fix: say what, not where in Django.
        sys.exit(f"contactpoint: configuration error: {error}")


if __name__ == "__main__":
    main()
