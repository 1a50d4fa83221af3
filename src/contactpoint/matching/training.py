"""Training the model with Splink, and running it over whole files (batch de-duplication).

The comparisons of comparisons.py are written here as Splink comparison levels, once, with
the few dialect-specific function names (Jaro-Winkler, Levenshtein, Damerau-Levenshtein,
array membership) filled in per backend, so the same SQL runs on DuckDB and on Spark.
tests/matching/test_splink_parity.py checks that Splink and the Python scorer pick the same
level for the same pairs.

Training follows Splink's usual recipe: u from random pairs, m by expectation maximisation
within blocks (blocking on date of birth trains the name and address comparisons; blocking on
names trains the date of birth), and the prior from the share of pairs that agree exactly.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from splink import Linker, SettingsCreator, block_on
from splink.blocking_rule_library import CustomRule
from splink.internals.comparison_creator import ComparisonCreator
from splink.internals.comparison_level_creator import ComparisonLevelCreator
from splink.internals.comparison_library import CustomComparison
from splink.internals.dialects import SplinkDialect

from contactpoint.matching.comparisons import COMPARISONS, ELSE, NULL
from contactpoint.matching.decisions import TWIN_NAME_LEVELS
from contactpoint.matching.features import WITHIN_A_YEAR_DAYS, MatchRecord, dob_text
from contactpoint.matching.model import (
    LevelParameters,
    MatchModel,
    TermFrequencies,
    Thresholds,
)

logger = logging.getLogger(__name__)

_EPOCH = dt.date(1970, 1, 1)
TF_TABLE_SIZE = 5_000  # the commonest full names kept in the model file
# No level is ever impossible in a match: synthetic data can make EM say m = 0 for a
# disagreement no generated error produces, which would veto real matches with -20 bits.
_M_FLOOR, _U_FLOOR = 1e-3, 1e-9


# --- Features as a table -------------------------------------------------------------------


FEATURE_SCHEMA = pa.schema(
    [
        ("unique_id", pa.string()),
        ("given", pa.string()),
        ("family", pa.string()),
        ("given_words", pa.list_(pa.string())),
        ("given_phonetic", pa.string()),
        ("family_phonetic", pa.string()),
        ("nickname_roots", pa.list_(pa.string())),
        ("full_name", pa.string()),
        ("dob", pa.string()),
        ("dob_days", pa.int32()),
        ("gender", pa.string()),
        ("postcode", pa.string()),
        ("sector", pa.string()),
        ("district", pa.string()),
        ("line_key", pa.string()),
        ("carer_given_1", pa.string()),
        ("carer_family_1", pa.string()),
        ("carer_given_2", pa.string()),
        ("carer_family_2", pa.string()),
        ("school_urn", pa.string()),
        ("gp_code", pa.string()),
        ("nhs_hash", pa.string()),
    ]
)


def _or_none(value: str) -> str | None:
    return value or None


def feature_row(unique_id: str, record: MatchRecord) -> dict[str, Any]:
    """One record's row for Splink: its primary name, current address and first two carers."""
    return dict(zip(FEATURE_SCHEMA.names, _feature_values(unique_id, record), strict=True))


def _feature_values(unique_id: str, record: MatchRecord) -> tuple[Any, ...]:
    """feature_row's values, in FEATURE_SCHEMA's order."""
    name = record.primary_name
    place = record.places[0] if record.places else None
    carers = [*record.carers[:2], ("", ""), ("", "")]
    return (
        unique_id,
        _or_none(name.given),
        _or_none(name.family),
        list(name.given_words),
        _or_none(name.given_phonetic),
        _or_none(name.family_phonetic),
        sorted(name.nickname_roots),
        f"{name.given} {name.family}" if name.given and name.family else None,
        dob_text(record.date_of_birth),
        (record.date_of_birth - _EPOCH).days,
        _or_none(record.gender),
        place.postcode if place else None,
        place.sector if place else None,
        place.district if place else None,
        _or_none(place.line_key) if place else None,
        _or_none(carers[0][0]),
        _or_none(carers[0][1]),
        _or_none(carers[1][0]),
        _or_none(carers[1][1]),
        min(record.school_urns) if record.school_urns else None,
        min(record.gp_codes) if record.gp_codes else None,
        min(record.nhs_hashes) if record.nhs_hashes else None,
    )


def features_table(records: Iterable[tuple[str, MatchRecord]]) -> pa.Table:
    # Column by column: Arrow building a table from a dict a row spent as long as the rows took.
    rows = [_feature_values(uid, record) for uid, record in records]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in FEATURE_SCHEMA.names]
    return pa.Table.from_arrays(
        [
            pa.array(column, type=kind)
            for column, kind in zip(columns, FEATURE_SCHEMA.types, strict=True)
        ],
        schema=FEATURE_SCHEMA,
    )


# --- The comparisons as Splink levels ------------------------------------------------------


class DialectLevel(ComparisonLevelCreator):
    """A level whose SQL is a template filled with the backend's function names."""

    def __init__(self, label: str, template: str, *, is_null: bool = False) -> None:
        self.label = label
        self.template = template
        if is_null:
            self.configure(is_null_level=True)

    def create_sql(self, sql_dialect: SplinkDialect) -> str:
        spark = sql_dialect.sql_dialect_str == "spark"
        return self.template.format(
            contains="array_contains" if spark else "list_contains",
            overlap="arrays_overlap" if spark else "list_has_any",
            jw=sql_dialect.jaro_winkler_function_name,
            lev=sql_dialect.levenshtein_function_name,
            dlev=sql_dialect.damerau_levenshtein_function_name,
        )

    def create_label_for_charts(self) -> str:
        return self.label


_FAMILIAR = (
    "({overlap}(nickname_roots_l, nickname_roots_r) OR {contains}(given_words_r, given_l) "
    "OR {contains}(given_words_l, given_r))"
)
_GIVEN_CLOSE = (
    "({jw}(given_l, given_r) >= 0.80 OR given_phonetic_l = given_phonetic_r "
    "OR {dlev}(given_l, given_r) <= 1)"
)
_FAMILY_CLOSE = (
    "({jw}(family_l, family_r) >= 0.80 OR family_phonetic_l = family_phonetic_r "
    "OR {dlev}(family_l, family_r) <= 1)"
)

LEVEL_SQL: dict[str, dict[str, str]] = {
    "name": {
        NULL: "given_l IS NULL OR given_r IS NULL OR family_l IS NULL OR family_r IS NULL",
        # Written on full_name (given + family keys) so Splink sees the exact-match level it
        # needs for the term-frequency adjustment; the same condition as both keys equal.
        "exact": "full_name_l = full_name_r",
        "swapped": "{dlev}(given_l, family_r) <= 1 AND {dlev}(family_l, given_r) <= 1",
        "family_exact_given_familiar": f"family_l = family_r AND {_FAMILIAR}",
        "family_exact_given_similar": (
            "family_l = family_r AND ({jw}(given_l, given_r) >= 0.88 "
            "OR {dlev}(given_l, given_r) <= 1)"
        ),
        "given_exact_family_similar": (
            "given_l = given_r AND ({jw}(family_l, family_r) >= 0.88 "
            "OR {dlev}(family_l, family_r) <= 1)"
        ),
        "both_similar": f"{_GIVEN_CLOSE} AND {_FAMILY_CLOSE}",
        "given_agrees_family_differs": f"{{dlev}}(given_l, given_r) <= 1 OR {_FAMILIAR}",
        "family_agrees_given_differs": "family_l = family_r",
    },
    "date_of_birth": {
        NULL: "dob_l IS NULL OR dob_r IS NULL",
        "exact": "dob_l = dob_r",
        "day_month_swapped": (
            "substr(dob_l, 1, 4) = substr(dob_r, 1, 4) AND substr(dob_l, 5, 2) = "
            "substr(dob_r, 7, 2) AND substr(dob_l, 7, 2) = substr(dob_r, 5, 2)"
        ),
        "one_digit": "{lev}(dob_l, dob_r) <= 1",
        "transposed": "{dlev}(dob_l, dob_r) <= 1",
        "same_year": f"abs(dob_days_l - dob_days_r) <= {WITHIN_A_YEAR_DAYS}",
    },
    "gender": {NULL: "gender_l IS NULL OR gender_r IS NULL", "exact": "gender_l = gender_r"},
    "address": {
        NULL: "postcode_l IS NULL OR postcode_r IS NULL",
        "postcode_and_line": "postcode_l = postcode_r AND line_key_l = line_key_r",
        "postcode": "postcode_l = postcode_r",
        "sector": "sector_l = sector_r",
        "district": "district_l = district_r",
    },
    "carers": {
        NULL: "carer_family_1_l IS NULL OR carer_family_1_r IS NULL",
        "carer_name": " OR ".join(
            f"(carer_given_{a}_l = carer_given_{b}_r AND carer_family_{a}_l = carer_family_{b}_r)"
            for a in (1, 2)
            for b in (1, 2)
        ),
        "carer_family_name": " OR ".join(
            f"carer_family_{a}_l = carer_family_{b}_r" for a in (1, 2) for b in (1, 2)
        ),
    },
    "school": {
        NULL: "school_urn_l IS NULL OR school_urn_r IS NULL",
        "exact": "school_urn_l = school_urn_r",
    },
    "gp_practice": {
        NULL: "gp_code_l IS NULL OR gp_code_r IS NULL",
        "exact": "gp_code_l = gp_code_r",
    },
    "nhs_number": {
        NULL: "nhs_hash_l IS NULL OR nhs_hash_r IS NULL",
        "exact": "nhs_hash_l = nhs_hash_r",
    },
}


def splink_comparisons(model: MatchModel | None = None) -> list[ComparisonCreator]:
    """One Splink comparison per entry of COMPARISONS, levels in the same order."""
    comparisons: list[ComparisonCreator] = []
    for comparison in COMPARISONS:
        sql = LEVEL_SQL[comparison.name]
        levels: list[ComparisonLevelCreator | dict[str, Any]] = []
        for label in comparison.levels:
            if label == ELSE:
                level = DialectLevel(ELSE, "ELSE")
            else:
                level = DialectLevel(label, sql[label], is_null=label == NULL)
            if comparison.tf_level == label:
                level.configure(tf_adjustment_column="full_name", tf_adjustment_weight=1.0)
            if model is not None and label != NULL:
                params = model.parameters[comparison.name][label]
                level.configure(m_probability=params.m, u_probability=params.u)
            levels.append(level)
        comparisons.append(
            CustomComparison(
                comparison_levels=levels,
                output_column_name=comparison.name,
                comparison_description=comparison.description,
            )
        )
    return comparisons


# Born a typing error apart, as blocking.dob_close allows: within a year, or the year alone
# mistyped. Plain SQL, the same on DuckDB and Spark; one of the equalities beside it is the join.
_DOB_CLOSE = (
    f"(abs(l.dob_days - r.dob_days) <= {WITHIN_A_YEAR_DAYS} "
    "OR substr(l.dob, 5, 4) = substr(r.dob, 5, 4))"
)

# Candidate pairs for batch de-duplication: the same rules as online blocking (blocking.py).
PREDICTION_BLOCKING_RULES = (
    block_on("dob", "family_phonetic"),
    block_on("dob", "given"),
    # dob_postcode: a mistyped birth date at the same address.
    CustomRule(f"l.postcode = r.postcode AND {_DOB_CLOSE}"),
    block_on("family_phonetic", "given_phonetic"),
    # names_phonetic's other way round: given and family names swapped.
    CustomRule(
        "l.family_phonetic = r.given_phonetic AND l.given_phonetic = r.family_phonetic "
        f"AND {_DOB_CLOSE}"
    ),
    block_on("nhs_hash"),
)


def splink_settings(model: MatchModel | None = None) -> SettingsCreator:
    settings: dict[str, Any] = {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "comparisons": splink_comparisons(model),
        "blocking_rules_to_generate_predictions": list(PREDICTION_BLOCKING_RULES),
        "retain_intermediate_calculation_columns": False,
        "retain_matching_columns": False,
    }
    if model is not None:
        settings["probability_two_random_records_match"] = (
            model.probability_two_random_records_match
        )
    return SettingsCreator(**settings)


# --- Training ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingReport:
    records: int
    seconds: float
    splink_version: str


def train_model(
    table: pa.Table,
    *,
    version: str,
    thresholds: Thresholds,
    db_api: Any | None = None,
    max_pairs_for_u: float = 5e6,
    seed: int = 1,
    log: Callable[[str], None] = logger.info,
) -> MatchModel:
    """Estimate every m and u with Splink (EM on DuckDB by default) and return the model."""
    import time

    import splink
    from splink import DuckDBAPI

    started = time.monotonic()
    api = db_api or DuckDBAPI()
    linker = Linker(api.register(table), splink_settings(), log_level=logging.WARNING)
    log(f"estimating the prior from {table.num_rows:,} records")
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given", "family", "dob"), block_on("nhs_hash")], recall=0.8
    )
    log(f"estimating u from up to {max_pairs_for_u:,.0f} random pairs")
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs_for_u, seed=seed)
    # Each EM pass trains every comparison but those it blocks on. Blocking on household
    # fields alone (postcode, carers) would teach EM that siblings are matches; blocking on
    # names alone, at national scale, pairs thousands of different Oliver Smiths. So: date of
    # birth (trains names, address, carers, codes), then names within a postcode district
    # (trains the date of birth and gender; siblings differ in given name, strangers in
    # district).
    for rule in (block_on("dob"), block_on("given", "family", "district")):
        log(
            f"expectation maximisation blocked on {rule.get_blocking_rule('duckdb').blocking_rule_sql}"
        )
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, fix_u_probabilities=True
        )
    splink_model = linker.misc.save_model_to_json()
    model = model_from_splink(
        splink_model,
        version=version,
        thresholds=thresholds,
        term_frequencies={"name": _full_name_frequencies(table)},
        trained={
            "method": "Splink expectation maximisation on DuckDB",
            "splink_version": splink.__version__,
            "records": table.num_rows,
            "seconds": round(time.monotonic() - started, 1),
            "blocking_rules_for_em": ["dob", "given+family+district"],
            "trained_on": dt.date.today().isoformat(),
        },
    )
    log(f"trained in {time.monotonic() - started:.1f}s")
    return model


def _full_name_frequencies(table: pa.Table) -> TermFrequencies:
    names = [n for n in table.column("full_name").to_pylist() if n]
    counts = Counter(names)
    total = len(names) or 1
    common = counts.most_common(TF_TABLE_SIZE)
    return TermFrequencies(values={name: n / total for name, n in common if n > 1}, floor=1 / total)


def model_from_splink(
    splink_model: Mapping[str, Any],
    *,
    version: str,
    thresholds: Thresholds,
    term_frequencies: Mapping[str, TermFrequencies],
    trained: Mapping[str, Any],
    fallback: MatchModel | None = None,
) -> MatchModel:
    """Our model file from Splink's: m and u per level, matched by level label.

    A level no training pair reached has no estimate; it keeps the fallback model's value,
    or a cautious default (rare in matches, rarer still by chance).
    """
    parameters: dict[str, dict[str, LevelParameters]] = {}
    for comparison in splink_model["comparisons"]:
        name = comparison["output_column_name"]
        levels: dict[str, LevelParameters] = {}
        for level in comparison["comparison_levels"]:
            label = level["label_for_charts"]
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            if m is None or u is None or not math.isfinite(m) or not math.isfinite(u):
                if fallback is not None:
                    levels[label] = fallback.parameters[name][label]
                    continue
                m, u = m or 1e-4, u or 1e-6
            levels[label] = LevelParameters(m=max(float(m), _M_FLOOR), u=max(float(u), _U_FLOOR))
        parameters[name] = levels
    return MatchModel(
        version=version,
        probability_two_random_records_match=float(
            splink_model["probability_two_random_records_match"]
        ),
        parameters=parameters,
        thresholds=thresholds,
        term_frequencies=term_frequencies,
        trained=trained,
    )


# --- Batch de-duplication ------------------------------------------------------------------


@dataclass(frozen=True)
class DedupeResult:
    """Clusters of records that are one child, from Splink's predict + connected components."""

    clusters: dict[str, str]  # unique_id -> cluster id
    pairs_scored: int
    pairs_linked: int
    seconds: float
    backend: str
    # Every pair scored at or above the review threshold: (unique_id_l, unique_id_r, weight).
    pairs: list[tuple[str, str, float]] = field(default_factory=list)


def dedupe_table(
    table: pa.Table,
    model: MatchModel,
    *,
    db_api: Any | None = None,
    threshold_weight: float | None = None,
) -> DedupeResult:
    """Cluster a whole file's records with the trained model (no training: parameters fixed).

    Pairs come from the prediction blocking rules (the online rules as SQL); pairs at or above
    the link threshold are joined into clusters by connected components.
    """
    import time

    from splink import DuckDBAPI

    started = time.monotonic()
    api = db_api or DuckDBAPI()
    backend = type(api).__name__
    registered = api.register(table) if hasattr(api, "register") else table
    settings = splink_settings(model)
    # Keeps each comparison's weight (mw_<name>) on the pairs: the guards below read them.
    settings.retain_intermediate_calculation_columns = True
    linker = Linker(registered, settings, log_level=logging.WARNING)
    weight = model.thresholds.link if threshold_weight is None else threshold_weight
    predictions = linker.inference.predict(threshold_match_weight=model.thresholds.review)
    # The same rules as online decisions (decisions.py), as SQL so they run where the pairs
    # are: no link between records that agree only on the family name (twins), whose NHS
    # numbers differ (the only negative NHS weight), or that come from the same source (a
    # source holds one record a child). Splink 5 keeps weights, not level numbers, so a level
    # is recognised by its weight.
    twin_weights = [model.parameters["name"][label].weight for label in sorted(TWIN_NAME_LEVELS)]
    not_twins = " AND ".join(f"abs(mw_name - ({w!r})) > 1e-6" for w in twin_weights)
    # Clustering is transitive, so a batch needs one more guard than online matching: a
    # brother or sister with a similar name (Sophie and Sophia) at the same address shares so
    # much household evidence that a different date of birth does not outweigh it. A pair
    # whose dates of birth are far apart links only if the names agree exactly.
    far_dates = " OR ".join(
        f"abs(mw_date_of_birth - ({model.parameters['date_of_birth'][label].weight!r})) < 1e-6"
        for label in ("same_year", "else")
    )
    exact_name = model.parameters["name"]["exact"].weight
    not_siblings = f"NOT (({far_dates}) AND abs(mw_name - ({exact_name!r})) > 1e-6)"
    guarded = linker.misc.query_sql(
        f"SELECT * FROM {predictions.physical_name} "  # noqa: S608 (numbers and constants only)
        f"WHERE match_weight >= {float(weight)!r} AND {not_twins} AND {not_siblings} "
        "AND mw_nhs_number >= 0 "
        "AND substr(unique_id_l, 1, instr(unique_id_l, ':')) "
        "<> substr(unique_id_r, 1, instr(unique_id_r, ':'))",
        output_type="splink_df",
    )
    # Only the columns read here, through Arrow: every pair's record as a dict (the retained
    # comparison columns and all) took a third of a 270,000-record clustering.
    scored = _columns_of(
        linker,
        f"SELECT CAST(unique_id_l AS STRING) AS l, CAST(unique_id_r AS STRING) AS r, "  # noqa: S608
        f"CAST(match_weight AS DOUBLE) AS w FROM {predictions.physical_name}",
    )
    clusters_frame = linker.clustering.cluster_pairwise_predictions_at_threshold(
        guarded, threshold_match_weight=weight
    )
    ids, cluster_ids = _columns_of(
        linker,
        f"SELECT CAST(unique_id AS STRING) AS u, CAST(cluster_id AS STRING) AS c "  # noqa: S608
        f"FROM {clusters_frame.physical_name}",
    )
    clusters = dict(zip(ids, cluster_ids, strict=True))
    pairs = list(zip(*scored, strict=True))
    linked = sum(1 for _, _, pair_weight in pairs if pair_weight >= weight)
    return DedupeResult(clusters, len(pairs), linked, time.monotonic() - started, backend, pairs)


def _columns_of(linker: Linker, sql: str) -> list[list[Any]]:
    """The query's result, column by column, as Python lists."""
    table = linker.misc.query_sql(sql, output_type="splink_df").as_pyarrow_table()
    return [table.column(name).to_pylist() for name in table.column_names]


def records_to_table(records: Sequence[tuple[str, MatchRecord]]) -> pa.Table:
    """Alias of features_table for callers that hold a list."""
    return features_table(records)
