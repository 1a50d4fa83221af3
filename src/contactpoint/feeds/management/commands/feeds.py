"""`contactpoint feeds ...`: register source systems, load feed files, write load reports.

A thin wrapper over feeds.services and feeds.loading (CONVENTIONS 7). Exit status: 0 when the
load completed (even with rejected rows: they are in the report), 1 when it could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from contactpoint.access.models import Organisation
from contactpoint.feeds.initial import InitialFile, initial_load
from contactpoint.feeds.loading import LoadRefused, load_file, write_report
from contactpoint.feeds.models import FeedLoad, SourceSystem, SourceSystemKind
from contactpoint.feeds.reading import FeedFormat
from contactpoint.feeds.schema import RecordPart, json_schema
from contactpoint.feeds.services import register_source_system, rotate_credential

SCHEMA_PATH = Path("docs/feed-schema.json")


class Command(BaseCommand):
    help = (
        "Source feeds. Subcommands: load (a CSV or JSON Lines file from a registered source), "
        "initial-load (the first files of several sources into an empty index, clustered), "
        "report (a finished load's report as CSV), register (a new source system), "
        "register-synthetic (the sources of `contactpoint generate_feeds`), rotate-credential, "
        "sources (list them), schema (write the feed JSON Schema). "
        "Run `contactpoint feeds SUBCOMMAND --help` for each."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(
            dest="action", required=True, parser_class=argparse.ArgumentParser
        )

        load = sub.add_parser(
            "load",
            help="load a feed file",
            description=(
                "Validate, match and merge every row of FILE from source NAME. Bad rows are "
                "rejected with a reason in the report and never stop the load. Loading the "
                "same file again changes nothing; if a load was interrupted, running the same "
                "command again resumes it. The report (one line per row: outcome, "
                "ContactPoint ID, match weight, reason) is written to --report."
            ),
        )
        load.add_argument("file", type=Path, help="the feed file (.csv, or .jsonl for JSON Lines)")
        load.add_argument(
            "--source", required=True, help="the source system's code, e.g. nw-health"
        )
        load.add_argument(
            "--format",
            choices=[f.value for f in FeedFormat],
            help="override the format guessed from the file name",
        )
        load.add_argument(
            "--report",
            type=Path,
            help="where to write the load report CSV (default FILE.report.csv)",
        )
        load.add_argument(
            "--batch-size", type=int, default=500, help="rows per transaction (default 500)"
        )
        load.add_argument(
            "--workers",
            type=int,
            default=1,
            help="processes to use (default 1); with 2 or more, rows are validated in the "
            "others while this one matches and writes. Handing rows over costs CPU too: it "
            "pays only when a core is otherwise idle",
        )
        load.add_argument("--quiet", action="store_true", help="no progress bar")

        initial = sub.add_parser(
            "initial-load",
            help="the initial national load: several sources' files into an empty index",
            description=(
                "Load the first file of each source into an empty index: every file is read "
                "and validated, all records are clustered at once through Splink on DuckDB, "
                "clusters nothing is doubtful about are written in bulk, and every other row "
                "(rejected, shielded or resembling a shielded record, in the review band, "
                "two records from one source) goes through the same matching as `feeds load`, "
                "in the order the files are given. Each file gets its own load report. If "
                "interrupted, run the same command again: the rows not yet reported load online."
            ),
        )
        initial.add_argument(
            "files",
            nargs="+",
            metavar="SOURCE=FILE",
            help="a source system's code and its file, e.g. nw-health=health.csv",
        )
        initial.add_argument(
            "--reports-dir",
            type=Path,
            help="where to write each load report CSV (default: beside each file)",
        )
        initial.add_argument(
            "--chunk",
            type=int,
            default=2000,
            help="clusters written per transaction (default 2000)",
        )
        initial.add_argument(
            "--workers",
            type=int,
            default=os.cpu_count() or 1,
            help="processes that validate rows, then check and write clusters (default: one "
            "per core; writing in several needs PostgreSQL)",
        )
        initial.add_argument("--quiet", action="store_true", help="no progress lines")

        report = sub.add_parser(
            "report",
            help="write a load's report",
            description="Write the report of load LOAD_ID as CSV.",
        )
        report.add_argument("load_id", type=int)
        report.add_argument("--output", type=Path, help="file to write (default standard output)")

        register = sub.add_parser(
            "register",
            help="register a source system",
            description="Register a source system and print its credential (shown once only).",
        )
        register.add_argument("code", help="lower-case code, e.g. manchester-education")
        register.add_argument("--name", required=True)
        register.add_argument("--kind", required=True, choices=SourceSystemKind.values)
        register.add_argument(
            "--organisation", required=True, help="the owning organisation's code"
        )
        register.add_argument(
            "--parts",
            default="child,address,carers",
            help=f"comma-separated parts it may supply, from: {', '.join(RecordPart.values)}",
        )

        synthetic = sub.add_parser(
            "register-synthetic",
            help="register the sources described by generate_feeds' sources.json",
            description="Register (if missing) the source systems listed in DIRECTORY/sources.json.",
        )
        synthetic.add_argument("directory", type=Path)
        synthetic.add_argument(
            "--organisation",
            default="",
            help="owning organisation code (default: the national team)",
        )

        rotate = sub.add_parser("rotate-credential", help="issue a new credential for a source")
        rotate.add_argument("code")

        sub.add_parser("sources", help="list registered source systems")

        schema = sub.add_parser("schema", help="write the feed JSON Schema")
        schema.add_argument("--output", type=Path, default=SCHEMA_PATH)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"].replace("-", "_")
        getattr(self, f"_{action}")(options)

    # --- subcommands ---------------------------------------------------------------------------

    def _load(self, options: dict[str, Any]) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file")
        source = self._source(options["source"])
        report_path: Path = options["report"] or path.with_name(path.name + ".report.csv")
        size = path.stat().st_size
        with tqdm(
            total=size,
            unit="B",
            unit_scale=True,
            file=sys.stderr,
            disable=options["verbosity"] == 0 or options["quiet"],
            desc=f"Loading {path.name}",
        ) as bar:

            def progress(line: int, position: int) -> None:
                bar.n = min(size, position)
                bar.set_postfix_str(f"line {line:,}", refresh=True)

            try:
                result = load_file(
                    source=source,
                    path=path,
                    feed_format=FeedFormat(options["format"]) if options["format"] else None,
                    batch_size=max(1, options["batch_size"]),
                    progress=progress,
                    workers=max(1, options["workers"]),
                )
            except LoadRefused as error:
                raise CommandError(str(error)) from error
            bar.n = size
            bar.refresh()
        load = result.load
        with report_path.open("w", newline="", encoding="utf-8") as handle:
            write_report(load, handle)
        if result.resumed_from_line:
            self.stdout.write(
                f"Resumed an interrupted load after line {result.resumed_from_line:,}."
            )
        self.stdout.write(
            f"Load {load.pk} of {path.name} from {source.code}: "
            f"{load.rows_new:,} new, {load.rows_linked:,} linked, {load.rows_review:,} to review, "
            f"{load.rows_unchanged:,} unchanged, {load.rows_rejected:,} rejected."
        )
        self.stdout.write(f"Report: {report_path}")

    def _initial_load(self, options: dict[str, Any]) -> None:
        files: list[InitialFile] = []
        for item in options["files"]:
            code, sep, name = item.partition("=")
            if not sep or not code or not name:
                raise CommandError(f"{item!r}: give each file as SOURCE=FILE")
            files.append(InitialFile(self._source(code), Path(name)))
        quiet = options["verbosity"] == 0 or options["quiet"]
        last: dict[str, float] = {}

        def progress(phase: str, done: int, total: int) -> None:
            now = time.monotonic()
            if quiet or (now - last.get(phase, 0.0) < 2.0 and done != total):
                return
            last[phase] = now
            of = f" of {total:,}" if total else ""
            self.stderr.write(f"{phase}: {done:,}{of}")

        try:
            result = initial_load(
                files,
                chunk=max(1, options["chunk"]),
                progress=progress,
                workers=max(1, options["workers"]),
            )
        except LoadRefused as error:
            raise CommandError(str(error)) from error
        if result.resumed:
            self.stdout.write("Resumed an interrupted initial load: the rest loaded online.")
        else:
            held = ", ".join(f"{n:,} {why}" for why, n in result.held_back.most_common())
            self.stdout.write(
                f"Clustered: {result.bulk_children:,} children from {result.bulk_records:,} "
                f"records written in bulk; {result.online_records:,} rows loaded online "
                f"(clusters held back: {held or 'none'})."
            )
        timing = ", ".join(f"{phase} {seconds:.1f}s" for phase, seconds in result.seconds.items())
        self.stdout.write(f"Time: {timing}.")
        for item, load in zip(files, result.loads, strict=True):
            directory = options["reports_dir"] or item.path.parent
            report_path = directory / (item.path.name + ".report.csv")
            with report_path.open("w", newline="", encoding="utf-8") as handle:
                write_report(load, handle)
            self.stdout.write(
                f"Load {load.pk} of {item.path.name} from {item.source.code}: "
                f"{load.rows_new:,} new, {load.rows_linked:,} linked, "
                f"{load.rows_review:,} to review, {load.rows_unchanged:,} unchanged, "
                f"{load.rows_rejected:,} rejected. Report: {report_path}"
            )

    def _report(self, options: dict[str, Any]) -> None:
        load = FeedLoad.objects.filter(pk=options["load_id"]).first()
        if load is None:
            raise CommandError(f"no load {options['load_id']}")
        if options["output"]:
            with options["output"].open("w", newline="", encoding="utf-8") as handle:
                count = write_report(load, handle)
            self.stdout.write(f"{count:,} rows written to {options['output']}")
        else:
            write_report(load, self.stdout)

    def _register(self, options: dict[str, Any]) -> None:
        organisation = Organisation.objects.filter(code=options["organisation"]).first()
        if organisation is None:
            raise CommandError(f"no organisation with code {options['organisation']}")
        parts = [p.strip() for p in options["parts"].split(",") if p.strip()]
        try:
            issued = register_source_system(
                actor=None,
                code=options["code"],
                name=options["name"],
                kind=options["kind"],
                organisation=organisation,
                allowed_parts=parts,
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(f"Registered {issued.source}.")
        self.stdout.write(
            f"Credential (shown once; give it to the source's operators): {issued.credential}"
        )

    def _register_synthetic(self, options: dict[str, Any]) -> None:
        listing = options["directory"] / "sources.json"
        if not listing.is_file():
            raise CommandError(f"{listing} not found: run `contactpoint generate_feeds` first")
        code = options["organisation"]
        organisation = (
            Organisation.objects.filter(code=code).first()
            if code
            else Organisation.objects.filter(kind="national_team").first()
        )
        if organisation is None:
            raise CommandError("no owning organisation found (pass --organisation CODE)")
        for spec in json.loads(listing.read_text()):
            if SourceSystem.objects.filter(code=spec["code"]).exists():
                self.stdout.write(f"{spec['code']}: already registered")
                continue
            register_source_system(
                actor=None,
                code=spec["code"],
                name=spec["name"],
                kind=spec["kind"],
                organisation=organisation,
                allowed_parts=spec["parts"],
            )
            self.stdout.write(f"{spec['code']}: registered")

    def _rotate_credential(self, options: dict[str, Any]) -> None:
        issued = rotate_credential(actor=None, source=self._source(options["code"]))
        self.stdout.write(
            f"New credential for {issued.source.code} (shown once): {issued.credential}"
        )

    def _sources(self, options: dict[str, Any]) -> None:
        for source in SourceSystem.objects.select_related("organisation"):
            state = "active" if source.is_active else "inactive"
            self.stdout.write(
                f"{source.code:24} {source.get_kind_display():28} {source.organisation.code:20} "
                f"{state:8} {', '.join(source.allowed_parts)}"
            )

    def _schema(self, options: dict[str, Any]) -> None:
        path: Path = options["output"]
        path.write_text(json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n")
        self.stdout.write(f"Wrote {path}")

    def _source(self, code: str) -> SourceSystem:
        source = SourceSystem.objects.filter(code=code).select_related("organisation").first()
        if source is None:
            known = ", ".join(SourceSystem.objects.values_list("code", flat=True)) or "none yet"
            raise CommandError(f"no source system {code!r} (registered: {known})")
        return source
