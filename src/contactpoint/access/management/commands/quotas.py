"""`contactpoint quotas`: see a person's usage against their quota, and tidy old counters."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from contactpoint.access.models import User
from contactpoint.access.protective import quotas
from contactpoint.access.protective.quotas import Measure


class Command(BaseCommand):
    help = (
        "Per-person quotas (access.protective.quotas). 'show USERNAME' prints the person's "
        "searches and views, and the distinct children shown to them, in the current minute, "
        "hour, day and week, against their role's soft and hard limits. 'prune' deletes "
        "database counters of windows that ended over two weeks ago (only the database store "
        "needs it; Redis keys expire). Exit status 1 when the quota store cannot be reached."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", metavar="ACTION")
        show = actions.add_parser("show", help="a person's usage against their quota")
        show.add_argument("username")
        actions.add_parser("prune", help="delete old database counters")

    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("action") == "prune":
            removed = quotas.prune_database_counters()
            self.stdout.write(self.style.SUCCESS(f"Removed {removed} old counter rows."))
            return
        if options.get("action") != "show":
            raise CommandError("say what to do: contactpoint quotas show USERNAME | prune")
        person = User.objects.filter(username__iexact=options["username"]).first()
        if person is None:
            raise CommandError(f"there is no account {options['username']!r}")
        quota = quotas.quota_for(person.role)
        if quota is None:
            self.stdout.write(f"{person.username} ({person.role}) may make no lookups at all.")
            return
        try:
            usage = quotas.peek_usage(user_id=person.pk)
        except quotas.QuotaStoreUnavailable as error:
            raise CommandError(str(error)) from error
        store = "Redis" if quotas.redis_url() else "the database"
        self.stdout.write(f"{person.username} ({person.role}), counted in {store}:")
        for measure in Measure:
            for period in quotas.PERIODS:
                limit = quota.limit(measure, period)
                if limit is None:
                    continue
                count = usage.count(measure, period)
                state = (
                    "over hard"
                    if count > limit.hard
                    else "at soft"
                    if count >= limit.soft
                    else "ok"
                )
                self.stdout.write(
                    f"  {measure:<9} this {period:<6} {count:>4}  "
                    f"(soft {limit.soft}, hard {limit.hard})  {state}"
                )
