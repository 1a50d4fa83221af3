"""Splink: the SQL levels agree with the Python scorer; training and batch dedupe run; Spark too."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from collections.abc import Iterator

import pyarrow as pa
import pytest
from splink import DuckDBAPI
from splink.internals.realtime import compare_records

from contactpoint.matching.comparisons import COMPARISONS, comparison_vector
from contactpoint.matching.features import MatchRecord, PersonName, PlaceKey
from contactpoint.matching.model import Thresholds, current_model
from contactpoint.matching.training import (
    FEATURE_SCHEMA,
    dedupe_table,
    feature_row,
    features_table,
    splink_settings,
    train_model,
)

BORN = dt.date(2018, 3, 4)


def record(**changes: object) -> MatchRecord:
    base = MatchRecord(
        names=(PersonName.of("Amelia Rose", "O'Neill"),),
        date_of_birth=BORN,
        gender="female",
        places=(PlaceKey.of("M14 5AB", "14 Victoria Road"),),  # type: ignore[arg-type]
        carers=(("SARAH", "ONEILL"), ("DANIEL", "ONEILL")),
        school_urns=frozenset({"105432"}),
        gp_codes=frozenset({"P84001"}),
        nhs_hashes=frozenset({"a" * 64}),
    )
    return dataclasses.replace(base, **changes)


def name(given: str, family: str) -> dict[str, object]:
    return {"names": (PersonName.of(given, family),)}


def place(postcode: str, line: str = "14 Victoria Road") -> dict[str, object]:
    found = PlaceKey.of(postcode, line)
    return {"places": (found,) if found else ()}


# One variant per level of every comparison (others left agreeing), and some mixtures.
VARIANTS: list[dict[str, object]] = [
    {},
    name("O'Neill", "Amelia"),
    name("Millie", "O'Neill"),
    name("Rose", "O'Neill"),
    name("Amelai", "O'Neill"),
    name("Amelia", "O'Neil"),
    name("Emilia", "O'Neal"),
    name("Amelia", "Hughes"),
    name("Grace", "O'Neill"),
    name("Oscar", "Nakamura"),
    {"names": (PersonName.of("", ""),)},
    {"date_of_birth": dt.date(2018, 4, 3)},
    {"date_of_birth": dt.date(2018, 3, 5)},
    {"date_of_birth": dt.date(2081, 3, 4)},
    {"date_of_birth": dt.date(2018, 10, 30)},
    {"date_of_birth": dt.date(2012, 7, 19)},
    {"gender": ""},
    {"gender": "male"},
    place("M14 5AB", "Flat 2, 14 Victoria Road"),
    place("M14 5ZZ"),
    place("M14 7QR"),
    place("BL1 4AB"),
    {"places": ()},
    {"carers": ()},
    {"carers": (("JOANNE", "ONEILL"),)},
    {"carers": (("DANIEL", "ONEILL"),)},
    {"carers": (("YUKI", "NAKAMURA"),)},
    {"school_urns": frozenset()},
    {"school_urns": frozenset({"105999"})},
    {"gp_codes": frozenset({"P84999"})},
    {"nhs_hashes": frozenset()},
    {"nhs_hashes": frozenset({"b" * 64})},
    {**name("Millie", "Hughes"), "date_of_birth": dt.date(2018, 3, 5), **place("M20 2QQ")},
    {**name("O'Neill", "Amelia"), "gender": "", "carers": ()},
]


def splink_gamma(python_level: int, comparison_levels: int) -> int:
    """Splink numbers levels from 'else' = 0 upwards, and null = -1."""
    return -1 if python_level == 0 else comparison_levels - 1 - python_level


def test_splink_picks_the_same_level_as_the_python_scorer_for_every_pair() -> None:
    pairs = [(record(**changes), record()) for changes in VARIANTS]
    left = pa.Table.from_pylist(
        [feature_row(f"p{i}", a) for i, (a, _) in enumerate(pairs)], schema=FEATURE_SCHEMA
    ).append_column("tf_full_name", pa.array([1e-4] * len(pairs)))
    right = pa.Table.from_pylist(
        [feature_row(f"p{i}", b) for i, (_, b) in enumerate(pairs)], schema=FEATURE_SCHEMA
    ).append_column("tf_full_name", pa.array([1e-4] * len(pairs)))
    result = compare_records(
        left,
        right,
        splink_settings(current_model()),
        DuckDBAPI(),
        join_condition="l.unique_id = r.unique_id",
    ).as_record_list()
    by_pair = {row["unique_id_l"]: row for row in result}
    assert len(by_pair) == len(pairs)
    for i, (a, b) in enumerate(pairs):
        expected = comparison_vector(a, b)
        for comparison, python_level in zip(COMPARISONS, expected, strict=True):
            gamma = by_pair[f"p{i}"][f"gamma_{comparison.name}"]
            assert gamma == splink_gamma(python_level, len(comparison.levels)), (
                VARIANTS[i],
                comparison.name,
            )


def _population(children: int = 400) -> list[tuple[str, MatchRecord]]:
    """Three slightly different reports of each of `children` made-up children."""
    givens = ["Amelia", "Oliver", "Isla", "Noah", "Ava", "Leo", "Mia", "Arlo", "Ivy", "Theo"]
    families = ["Smith", "Khan", "Nowak", "Okafor", "Brennan", "Shah", "Evans", "Ali", "Price"]
    rows: list[tuple[str, MatchRecord]] = []
    for n in range(children):
        given = givens[n % len(givens)]
        family = f"{families[n % len(families)]}{'ley' * (n // 90)}"
        born = dt.date(2010 + n % 12, 1 + n % 12, 1 + n % 27)
        postcode = f"M{1 + n % 40} {n % 10}AB"
        base = MatchRecord(
            names=(PersonName.of(given, family),),
            date_of_birth=born,
            gender="female" if n % 2 else "male",
            places=(PlaceKey.of(postcode, f"{n} High Street"),),  # type: ignore[arg-type]
            carers=((f"CARER{n}", family.upper()),),
        )
        rows.append((f"a:{n}", base))
        rows.append(
            (f"b:{n}", dataclasses.replace(base, names=(PersonName.of(given[:-1] + "e", family),)))
        )
        moved = PlaceKey.of(f"BL{1 + n % 9} {n % 10}XY", f"{n} Low Road")
        rows.append((f"c:{n}", dataclasses.replace(base, places=(moved,))))  # type: ignore[arg-type]
        if n % 3 == 0:  # a fourth report: a mistyped date, or the same one (most are right)
            fourth = dataclasses.replace(base, date_of_birth=born.replace(day=born.day + 1))
        else:
            fourth = dataclasses.replace(base, carers=())
        rows.append((f"d:{n}", fourth))
    return rows


def test_em_training_on_duckdb_estimates_every_level() -> None:
    table = features_table(_population())
    model = train_model(
        table,
        version="test",
        thresholds=Thresholds(7, 0, -15),
        max_pairs_for_u=2e5,
        log=lambda _: None,
    )
    for comparison in COMPARISONS:
        assert set(model.parameters[comparison.name]) == set(comparison.levels) - {"null"}
    assert model.parameters["name"]["exact"].weight > 5  # agreeing names are evidence
    assert model.parameters["name"]["else"].weight < 0  # disagreeing names are not
    same, different = _population(2)[0][1], _population(2)[4][1]  # a:0 and a:1
    assert model.score(same, _population(2)[1][1]).weight > model.score(same, different).weight
    assert model.trained["method"].startswith("Splink")


def test_batch_dedupe_on_duckdb_clusters_each_childs_reports_together() -> None:
    records = _population(150)
    result = dedupe_table(features_table(records), current_model())
    clusters = result.clusters
    for n in range(150):
        assert clusters[f"a:{n}"] == clusters[f"b:{n}"], n
        assert clusters[f"a:{n}"] == clusters[f"d:{n}"], n
    assert len(set(clusters.values())) <= 150 + 15  # a few moved records may stand alone
    assert len({clusters[f"a:{n}"] for n in range(150)}) == 150  # no two children merged


def test_batch_dedupe_pairs_swapped_names_and_a_mistyped_birth_date_at_one_address() -> None:
    # Pairs online blocking finds (names_phonetic either way round, dob_postcode within a
    # typing error) that exact-date blocking alone would leave apart as two children. The
    # schools hold no NHS number, which would pair them anyway.
    phoebe = record(
        **name("Phoebe", "Slater"), date_of_birth=dt.date(2011, 3, 9), **place("M1 1AA")
    )
    finley = record(
        **name("Finley", "Kingsley"),
        date_of_birth=dt.date(2015, 12, 19),
        **place("M2 2BB", "3 Hilton Street"),
        carers=(("JOANNE", "KINGSLEY"),),
        nhs_hashes=frozenset({"b" * 64}),
    )
    records = [
        ("health:1", phoebe),
        (
            "school:1",
            dataclasses.replace(
                phoebe, **name("Slater", "Phoebe"), places=(), nhs_hashes=frozenset()
            ),
        ),
        ("health:2", finley),
        (
            "school:2",
            dataclasses.replace(
                finley,
                **name("Finlsy", "Kingsley"),
                date_of_birth=dt.date(2015, 12, 29),
                nhs_hashes=frozenset(),
            ),
        ),
        # A neighbour of Finley's born years before him: another child.
        (
            "school:3",
            dataclasses.replace(
                finley,
                **name("Grace", "Hughes"),
                date_of_birth=dt.date(2011, 6, 2),
                carers=(),
                nhs_hashes=frozenset({"c" * 64}),
            ),
        ),
    ]
    clusters = dedupe_table(features_table(records), current_model()).clusters
    assert clusters["health:1"] == clusters["school:1"]
    assert clusters["health:2"] == clusters["school:2"]
    assert len({clusters["health:1"], clusters["health:2"], clusters["school:3"]}) == 3


@pytest.fixture(scope="module")
def spark_api() -> Iterator[object]:
    """Splink's Spark API on a local session; skipped, with the reason, without pyspark or Java."""
    pytest.importorskip("pyspark", reason="pyspark is not installed: pip install -e '.[spark]'")
    if shutil.which("java") is None:
        pytest.skip("Java is not installed: Spark needs a JDK (17 works)")
    from contactpoint.matching.spark import SparkUnavailable, local_spark_api

    try:
        api = local_spark_api()
    except SparkUnavailable as error:
        pytest.skip(str(error))
    yield api
    api.spark.stop()  # type: ignore[attr-defined]


def test_the_same_model_runs_on_spark_and_agrees_with_duckdb(spark_api: object) -> None:
    api = spark_api
    records = _population(60)
    table = features_table(records)
    from contactpoint.matching.spark import spark_frame

    frame = spark_frame(api.spark, table)  # type: ignore[attr-defined]
    on_spark = dedupe_table(frame, current_model(), db_api=api)
    on_duckdb = dedupe_table(table, current_model())

    def partition(clusters: dict[str, str]) -> set[frozenset[str]]:
        groups: dict[str, set[str]] = {}
        for uid, cluster in clusters.items():
            groups.setdefault(cluster, set()).add(uid)
        return {frozenset(g) for g in groups.values()}

    assert partition(on_spark.clusters) == partition(on_duckdb.clusters)
    assert on_spark.backend == "SparkAPI"
