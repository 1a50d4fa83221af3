"""`contactpoint generate`: write a deterministic synthetic population into the index."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils import timezone
from tqdm import tqdm

from contactpoint.index.models import Child
from contactpoint.synthetic.selectors import UnknownAuthorities, find_authority_codes
from contactpoint.synthetic.services import MAX_BATCH_SIZE, MAX_CHILDREN, generate_population

OLDEST_AS_OF_YEARS = 7  # the index keeps records to 25; an 18-year-old born then is 25 now


class _OneLineErrorParser(CommandParser):
    """A bad option is one line on stderr and exit status 2, never a usage dump or traceback."""

    def error(self, message: str) -> Any:
        if self.called_from_command_line:
            self.exit(2, f"{self.prog}: error: {message} (see --help)\n")
        raise CommandError(f"Error: {message}")


class Command(BaseCommand):
    help = (
        "Generate a deterministic synthetic population of children (Synthetic England) and "
        "write it straight into the index: households of siblings sharing an address, carers "
        "and GP; schools by age; involvements at plausible rates; about 0.5% of children "
        "shielded. The same --seed, --authorities and --as-of on the same database give the "
        "same children. Schools and GP practices the run needs are created first."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = _OneLineErrorParser  # Django builds the parser itself; keep its setup
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        # Values are parsed in handle() so that every refusal is one readable line.
        parser.add_argument(
            "--children",
            default="10000",
            metavar="N",
            help=f"how many children to generate, 1 to {MAX_CHILDREN:,} (default 10000)",
        )
        parser.add_argument(
            "--seed",
            default="1",
            metavar="N",
            help="a whole number; the same seed gives the same children (default 1)",
        )
        parser.add_argument(
            "--authorities",
            default="pilot",
            metavar="pilot|all|CODES",
            help=(
                "which local authorities: 'pilot' (the 17 North West early adopters), 'all', "
                "or ONS codes separated by commas such as E08000003,E08000001 (default pilot). "
                "Children are shared out in proportion to each LA's approximate child "
                "population."
            ),
        )
        parser.add_argument(
            "--as-of",
            default="",
            metavar="YYYY-MM-DD",
            help=(
                "the date the population is as of: ages, school years and every date are "
                f"relative to it; not in the future nor more than {OLDEST_AS_OF_YEARS} years "
                "ago (default today)"
            ),
        )
        parser.add_argument(
            "--batch-size",
            default="5000",
            metavar="N",
            help=(
                "children written per transaction, 1 to "
                f"{MAX_BATCH_SIZE:,}; bounds memory, does not change the data (default 5000)"
            ),
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing when the index already holds children (for `make demo`)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        children = _whole_number(options["children"], "--children", 1, MAX_CHILDREN)
        seed = _whole_number(options["seed"], "--seed", 0, 2**63 - 1)
        batch_size = _whole_number(options["batch_size"], "--batch-size", 1, MAX_BATCH_SIZE)
        as_of = _as_of(options["as_of"])
        try:
            if options["if_empty"] and Child.objects.exists():
                self.stdout.write("The index already holds children: nothing generated.")
                return
            codes = find_authority_codes(options["authorities"])
        except UnknownAuthorities as error:
            raise CommandError(str(error)) from error
        except DatabaseError as error:
            raise CommandError(
                f"the database is not ready ({str(error).splitlines()[0]}): "
                "run `contactpoint migrate` first"
            ) from error

        with tqdm(
            total=children,
            unit=" children",
            unit_scale=True,
            file=sys.stderr,
            disable=options["verbosity"] == 0,
            desc="Generating",
        ) as bar:
            try:
                summary = generate_population(
                    children=children,
                    seed=seed,
                    authorities=codes,
                    as_of=as_of,
                    batch_size=batch_size,
                    progress=bar.update,
                )
            except ValueError as error:
                raise CommandError(str(error)) from error
        self.stdout.write(
            f"Generated {summary.children:,} children in {summary.households:,} households "
            f"across {summary.authorities} local authorities (seed {seed}, as of "
            f"{as_of.isoformat()}) in {summary.seconds:.1f} s "
            f"({summary.children_per_second:,.0f} children/s); "
            f"{summary.schools_added:,} schools and {summary.practices_added:,} GP practices added."
        )


def _whole_number(raw: str, option: str, lowest: int, highest: int) -> int:
    try:
        value = int(str(raw).replace(",", "").strip())
    except ValueError:
        raise CommandError(f"{option} must be a whole number, not {raw!r}") from None
    if not lowest <= value <= highest:
        raise CommandError(f"{option} must be between {lowest:,} and {highest:,}, not {value:,}")
    return value


def _as_of(raw: str) -> dt.date:
    today = timezone.localdate()
    if not raw:
        return today
    try:
        value = dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise CommandError(f"--as-of must be a date such as 2026-01-31, not {raw!r}") from None
    if value > today:
        raise CommandError(f"--as-of {value.isoformat()} is in the future")
    try:
        oldest = today.replace(year=today.year - OLDEST_AS_OF_YEARS)
    except ValueError:  # 29 February
        oldest = today.replace(year=today.year - OLDEST_AS_OF_YEARS, day=28)
    if value < oldest:
        raise CommandError(
            f"--as-of {value.isoformat()} is more than {OLDEST_AS_OF_YEARS} years ago: its "
            "oldest children would be too old for the index today"
        )
    return value
