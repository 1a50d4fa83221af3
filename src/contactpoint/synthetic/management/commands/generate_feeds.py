"""`contactpoint generate_feeds`: dirty source feeds of a synthetic population, with ground truth."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils import timezone
from tqdm import tqdm

from contactpoint.synthetic.feeds import SOURCES, write_feeds
from contactpoint.synthetic.population import SyntheticHousehold
from contactpoint.synthetic.selectors import (
    UnknownAuthorities,
    find_authority_codes,
    get_authority_profiles,
)
from contactpoint.synthetic.services import ensure_reference_rows, iter_households, plan_settings


class Command(BaseCommand):
    help = (
        "Write dirty feed files about a synthetic population: three sources (health "
        "registration, LA education, child benefit) report the same children with realistic "
        "errors (typing errors, nicknames, surname changes, swapped names, date errors, house "
        "moves, missing fields; twins come from the population). Writes one file per source "
        "in the documented feed schema, ground_truth.csv and sources.json into DIRECTORY. "
        "Creates the schools and GP practices the feeds mention, so they load. Then: "
        "`contactpoint feeds register-synthetic DIRECTORY` and `contactpoint feeds load`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path, help="where to write the files")
        parser.add_argument(
            "--children",
            type=int,
            default=10_000,
            help="children in the population (default 10000)",
        )
        parser.add_argument(
            "--seed", type=int, default=1, help="the same seed gives the same files (default 1)"
        )
        parser.add_argument(
            "--authorities",
            default="pilot",
            help="'pilot', 'all' or ONS codes separated by commas (default pilot)",
        )
        parser.add_argument(
            "--as-of",
            default="",
            metavar="YYYY-MM-DD",
            help="date the population is as of (default today)",
        )
        parser.add_argument(
            "--format", choices=("csv", "jsonl"), default="csv", help="file format (default csv)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        children = options["children"]
        if not 1 <= children <= 20_000_000:
            raise CommandError("--children must be between 1 and 20,000,000")
        try:
            as_of = (
                dt.date.fromisoformat(options["as_of"])
                if options["as_of"]
                else timezone.localdate()
            )
        except ValueError as error:
            raise CommandError("--as-of must be a date such as 2026-09-01") from error
        try:
            codes = find_authority_codes(options["authorities"])
            settings = plan_settings(
                children=children, authorities=codes, profiles=get_authority_profiles()
            )
            ensure_reference_rows(settings)
        except UnknownAuthorities as error:
            raise CommandError(str(error)) from error
        except DatabaseError as error:
            raise CommandError(
                f"the database is not ready: run `contactpoint migrate` ({error})"
            ) from error

        households = iter_households(settings=settings, seed=options["seed"], as_of=as_of)
        with tqdm(
            total=children,
            unit=" children",
            file=sys.stderr,
            disable=options["verbosity"] == 0,
            desc="Writing feeds",
        ) as bar:

            def counted() -> Any:
                household: SyntheticHousehold
                for household in households:
                    yield household
                    bar.update(len(household.children))

            written = write_feeds(
                counted(),
                directory=options["directory"],
                seed=options["seed"],
                as_of=as_of,
                feed_format=options["format"],
            )
        for spec in SOURCES:
            self.stdout.write(f"{written.files[spec.code]}: {written.records[spec.code]:,} records")
        self.stdout.write(
            f"{written.total_records:,} source records about {written.children:,} children; "
            f"ground truth in {written.ground_truth}"
        )
