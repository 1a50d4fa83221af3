"""Writes Synthetic England into the index: reference rows first, then children in batches.

Memory stays bounded: households are drawn one at a time, reported, and written in batches of
`batch_size` children through index.bulk (COPY on PostgreSQL, batched inserts on SQLite).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from contactpoint.index.bulk import BulkIndexWriter, NumberedChild, next_child_id
from contactpoint.index.contactpoint_id import permuted_id
from contactpoint.index.models import GpPractice, LocalAuthority, School
from contactpoint.index.records import ChildRecord
from contactpoint.synthetic.population import (
    HouseholdFactory,
    LocalSetting,
    PopulationRates,
    SyntheticHousehold,
)
from contactpoint.synthetic.reference import (
    PHASE_PLANS,
    AuthorityProfile,
    apportion,
    authority_weights,
    practice,
    school,
)
from contactpoint.synthetic.reporting import received_at, report_child
from contactpoint.synthetic.selectors import get_authority_profiles

# ContactPoint IDs of synthetic children are permuted_id(child id, seed=ID_SEED). The seed is
# fixed rather than the run's seed because two different affine permutations can collide,
# whereas one permutation of distinct child ids (primary keys) never does, so runs with
# different seeds can share a database.
ID_SEED = 2008
MAX_CHILDREN = 20_000_000
MAX_BATCH_SIZE = 100_000


@dataclass(frozen=True, slots=True)
class GenerationSummary:
    """What a run wrote."""

    children: int
    households: int
    authorities: int
    schools_added: int
    practices_added: int
    first_child_id: int
    seconds: float

    @property
    def children_per_second(self) -> float:
        return self.children / self.seconds if self.seconds > 0 else 0.0


def plan_settings(
    *, children: int, authorities: Sequence[str], profiles: dict[str, AuthorityProfile]
) -> list[LocalSetting]:
    """Share the children between the chosen LAs in proportion to their child populations.

    See reference.authority_weights: Kent gets about 40 times Rutland's share, the City of
    London almost none.
    """
    shares = apportion(children, authority_weights(profiles[code] for code in authorities))
    settings = []
    for code in sorted(authorities):
        elsewhere = tuple(p for c, p in sorted(profiles.items()) if c != code and p.districts)
        settings.append(LocalSetting(profiles[code], shares[code], elsewhere))
    return settings


def iter_households(
    *,
    settings: Sequence[LocalSetting],
    seed: int,
    as_of: dt.date,
    rates: PopulationRates | None = None,
) -> Iterator[SyntheticHousehold]:
    """The true population, LA by LA in ONS-code order, one household at a time."""
    for setting in settings:
        if setting.children:
            factory = HouseholdFactory(seed=seed, as_of=as_of, setting=setting, rates=rates)
            yield from factory.households(setting.children)


def iter_reports(
    households: Iterator[SyntheticHousehold], *, as_of: dt.date
) -> Iterator[ChildRecord]:
    """The perfect report of every child of the given households."""
    arrived = received_at(as_of)
    for household in households:
        for child in household.children:
            yield report_child(household, child, arrived=arrived)


@transaction.atomic
def ensure_reference_rows(settings: Sequence[LocalSetting]) -> tuple[int, int]:
    """Create the schools and GP practices the run needs; returns (schools, practices) added.

    Rows that an earlier run created are left alone: each is a pure function of (LA, number),
    so what exists is already what this run would write.
    """
    la_ids = dict(LocalAuthority.objects.values_list("ons_code", "id"))
    schools: list[School] = []
    practices: list[GpPractice] = []
    for setting in settings:
        profile, la_id = setting.profile, la_ids[setting.profile.ons_code]
        for phase in PHASE_PLANS:
            for number in range(setting.schools(phase)):
                synthetic = school(profile, phase, number)
                schools.append(
                    School(
                        urn=synthetic.urn,
                        name=synthetic.name,
                        phase=synthetic.phase,
                        local_authority_id=la_id,
                        postcode=synthetic.postcode,
                        phone=synthetic.phone,
                        email=synthetic.email,
                    )
                )
        for number in range(setting.practices()):
            synthetic_practice = practice(profile, number)
            practices.append(
                GpPractice(
                    ods_code=synthetic_practice.ods_code,
                    name=synthetic_practice.name,
                    local_authority_id=la_id,
                    postcode=synthetic_practice.postcode,
                    phone=synthetic_practice.phone,
                )
            )
    schools_before, practices_before = School.objects.count(), GpPractice.objects.count()
    School.objects.bulk_create(schools, batch_size=1000, ignore_conflicts=True)
    GpPractice.objects.bulk_create(practices, batch_size=1000, ignore_conflicts=True)
    return (
        School.objects.count() - schools_before,
        GpPractice.objects.count() - practices_before,
    )


def generate_population(
    *,
    children: int,
    seed: int,
    authorities: Sequence[str],
    as_of: dt.date | None = None,
    batch_size: int = 5_000,
    progress: Callable[[int], object] | None = None,
    rates: PopulationRates | None = None,
) -> GenerationSummary:
    """Generate `children` synthetic children across the given LAs (ONS codes) into the index.

    The same seed, authorities, as-of date and starting database give the same rows, whatever
    the batch size. Raises ValueError for arguments outside the documented ranges.
    """
    today = timezone.localdate()
    as_of = as_of or today
    if not 1 <= children <= MAX_CHILDREN:
        raise ValueError(f"the number of children must be between 1 and {MAX_CHILDREN:,}")
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"the batch size must be between 1 and {MAX_BATCH_SIZE:,}")
    if as_of > today:
        raise ValueError("the as-of date cannot be in the future")
    if seed < 0:
        raise ValueError("the seed must be zero or a positive whole number")
    started = time.perf_counter()
    profiles = get_authority_profiles()
    unknown = [code for code in authorities if code not in profiles]
    if unknown:
        raise ValueError(f"unknown local authority code: {', '.join(unknown)}")
    settings = plan_settings(children=children, authorities=authorities, profiles=profiles)
    schools_added, practices_added = ensure_reference_rows(settings)

    writer = BulkIndexWriter()
    first_id = next_child_id()
    households = 0

    def counted(stream: Iterator[SyntheticHousehold]) -> Iterator[SyntheticHousehold]:
        nonlocal households
        for household in stream:
            households += 1
            yield household

    def batches() -> Iterator[list[NumberedChild]]:
        stream = iter_households(settings=settings, seed=seed, as_of=as_of, rates=rates)
        batch: list[NumberedChild] = []
        for child_id, record in enumerate(iter_reports(counted(stream), as_of=as_of), first_id):
            batch.append(NumberedChild(child_id, permuted_id(child_id, seed=ID_SEED), record))
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    written = _write_batches(writer, batches(), progress=progress)
    writer.finish()
    if connection.vendor == "postgresql":
        _analyse_index_tables()
    return GenerationSummary(
        children=written,
        households=households,
        authorities=sum(1 for s in settings if s.children),
        schools_added=schools_added,
        practices_added=practices_added,
        first_child_id=first_id,
        seconds=time.perf_counter() - started,
    )


def _write_batches(
    writer: BulkIndexWriter,
    batches: Iterator[list[NumberedChild]],
    *,
    progress: Callable[[int], object] | None,
) -> int:
    """Write every batch, each in its own transaction; returns the number of children written.

    (Writing in a second thread while the next batch is drawn was measured and gave nothing
    on two cores: COPY already streams rows to the server as Python produces them.)
    """
    written = 0
    for batch in batches:
        writer.write(batch)
        written += len(batch)
        if progress:
            progress(len(batch))
    return written


def _analyse_index_tables() -> None:
    """Refresh planner statistics so that searches right after a big load use the indexes."""
    with connection.cursor() as cursor:
        for table in ("index_child", "index_childname", "index_address", "index_involvement"):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
