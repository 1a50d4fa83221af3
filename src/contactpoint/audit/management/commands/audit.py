"""`contactpoint audit verify`: check that the audit log is whole and unaltered."""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from contactpoint.audit.models import AuditEvent
from contactpoint.audit.selectors import verify_chain

EXIT_TAMPERED = 1


class Command(BaseCommand):
    help = (
        "Work with the audit log. 'verify' walks every event in order, recomputes its hash "
        "and its link to the one before, and reports the first event that was modified, "
        "deleted, inserted or reordered. Exit status 0: the chain holds; 1: it does not."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", metavar="ACTION")
        verify = actions.add_parser(
            "verify", help="check the whole chain and report the first break, if any"
        )
        verify.add_argument("--no-progress", action="store_true", help="do not show a progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("action") != "verify":
            raise CommandError("say what to do: contactpoint audit verify")
        show_progress = not options["no_progress"] and sys.stderr.isatty()
        total = AuditEvent.objects.count() if show_progress else None
        with tqdm(total=total, unit="event", disable=not show_progress, file=sys.stderr) as bar:
            result = verify_chain(progress=bar.update)
        if result.ok:
            self.stdout.write(
                self.style.SUCCESS(
                    f"The audit chain holds: {result.events_checked} events, "
                    f"ending at #{result.head_sequence}."
                )
            )
            return
        assert result.problem is not None
        self.stderr.write(
            self.style.ERROR(
                f"The audit chain is broken at #{result.problem.sequence} "
                f"({result.problem.kind}): {result.problem.message}. "
                f"{result.events_checked} events were checked up to that point."
            )
        )
        sys.exit(EXIT_TAMPERED)
