"""`contactpoint audit verify`: check that the audit log is whole and unaltered.

`checkpoint`, `prune` and `keygen` manage the signed checkpoints kept outside the database
(audit.checkpoints), which `verify` checks as well.
"""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from contactpoint.audit import checkpoints
from contactpoint.audit.models import AuditEvent
from contactpoint.audit.selectors import verify_chain

EXIT_TAMPERED = 1


class Command(BaseCommand):
    help = (
        "Work with the audit log. 'verify' walks every event in order, recomputes its hash "
        "and its link to the one before, and reports the first event that was modified, "
        "deleted, inserted or reordered, then checks the signed checkpoints kept outside the "
        "database, which show truncation or rebuilding. Exit status 0: the chain holds; 1: it "
        "does not. 'checkpoint' appends a signed checkpoint (run it periodically); 'prune' "
        "removes events past the retention period behind a signed marker; 'keygen' prints a "
        "new signing key."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", metavar="ACTION")
        verify = actions.add_parser(
            "verify", help="check the whole chain and report the first break, if any"
        )
        verify.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
        actions.add_parser(
            "checkpoint",
            help="append a signed checkpoint (event count and head hash) outside the database",
        )
        prune = actions.add_parser(
            "prune", help="remove events older than the retention period (six years by default)"
        )
        prune.add_argument(
            "--days",
            type=int,
            default=None,
            help="retention in days (default CONTACTPOINT_AUDIT_RETENTION_DAYS, or six years)",
        )
        actions.add_parser(
            "keygen", help="print a new Ed25519 signing key and its public key for the environment"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options.get("action")
        if action in {"checkpoint", "prune", "keygen"}:
            getattr(self, f"handle_{action}")(**options)
            return
        if action != "verify":
            raise CommandError("say what to do: contactpoint audit verify|checkpoint|prune|keygen")
        # Checkpoints first: after pruning they say where the chain in the database begins.
        signed = checkpoints.verify_checkpoints()
        show_progress = not options["no_progress"] and sys.stderr.isatty()
        total = AuditEvent.objects.count() if show_progress else None
        with tqdm(total=total, unit="event", disable=not show_progress, file=sys.stderr) as bar:
            result = verify_chain(
                progress=bar.update,
                start_sequence=signed.start_sequence,
                start_hash=signed.start_hash,
            )
        self.report_checkpoints(signed)
        if result.ok and signed.ok:
            self.stdout.write(
                self.style.SUCCESS(
                    f"The audit chain holds: {result.events_checked} events, "
                    f"ending at #{result.head_sequence}."
                )
            )
            return
        if result.ok:
            sys.exit(EXIT_TAMPERED)
        assert result.problem is not None
        self.stderr.write(
            self.style.ERROR(
                f"The audit chain is broken at #{result.problem.sequence} "
                f"({result.problem.kind}): {result.problem.message}. "
                f"{result.events_checked} events were checked up to that point."
            )
        )
        sys.exit(EXIT_TAMPERED)

    def report_checkpoints(self, signed: checkpoints.CheckpointVerification) -> None:
        for warning in signed.warnings:
            self.stderr.write(self.style.WARNING(f"Warning: {warning}."))
        for problem in signed.problems:
            self.stderr.write(self.style.ERROR(f"Checkpoints: {problem}."))
        if signed.checkpoints:
            self.stdout.write(
                f"{signed.checkpoints} signed checkpoints and {signed.prune_markers} prune "
                f"markers checked; the chain in the database starts at #{signed.start_sequence}."
            )

    def handle_checkpoint(self, **options: Any) -> None:
        try:
            record = checkpoints.write_checkpoint()
        except checkpoints.CheckpointError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Checkpoint written to {checkpoints.checkpoint_path()}: "
                f"#{record['sequence']} ({record['events']} events), head {record['hash'][:12]}…"
            )
        )

    def handle_prune(self, **options: Any) -> None:
        pruned = checkpoints.prune_expired(days=options.get("days"))
        if not pruned.removed:
            self.stdout.write(f"Nothing older than {pruned.cutoff:%d %B %Y} to remove.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Removed {pruned.removed} events up to #{pruned.through_sequence}, all older "
                f"than {pruned.cutoff:%d %B %Y}, behind a signed prune marker."
            )
        )

    def handle_keygen(self, **options: Any) -> None:
        private = checkpoints.new_key_hex()
        self.stdout.write(f"CONTACTPOINT_AUDIT_SIGNING_KEY={private}")
        self.stdout.write(f"CONTACTPOINT_AUDIT_VERIFY_KEY={checkpoints.public_key_hex(private)}")
