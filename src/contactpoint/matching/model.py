"""The trained Fellegi-Sunter model: loaded from a versioned JSON file, scoring pairs online.

`model.json` beside this module is written by `contactpoint matching train` (Splink EM on
DuckDB) and committed, so every decision can be traced to a model version. The scorer is
pure Python over precomputed log2(m/u) tables: it needs no database and no Splink at run time.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contactpoint.matching.comparisons import COMPARISONS, NULL, Comparison
from contactpoint.matching.features import MatchRecord

MODEL_PATH = Path(__file__).resolve().parent / "data" / "model.json"
FORMAT = "contactpoint-fellegi-sunter/1"


class ModelFileError(ValueError):
    """The model file is missing a comparison or level, or is not in the expected format."""


@dataclass(frozen=True, slots=True)
class LevelParameters:
    m: float
    u: float

    @property
    def weight(self) -> float:
        """log2(m/u): the evidence this level adds to the match weight."""
        return math.log2(self.m / self.u)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Match weights that split decisions (DESIGN: link above upper, new below lower).

    `shield_floor` is the lowest weight at which a shielded child found only by the broad
    shielded-children sweep still counts as a candidate (issue 5: shielding is never lost).
    `rival` is the weight at which a second child is a strong match too, so the record goes to
    review as a possible duplicate (default: the link threshold). It may sit above `link`: a
    weak second match beside a certain one is not evidence of a duplicate.
    """

    link: float
    review: float
    shield_floor: float
    rival: float | None = None

    @property
    def rival_weight(self) -> float:
        return self.link if self.rival is None else self.rival


@dataclass(frozen=True, slots=True)
class FieldContribution:
    """What one comparison contributed to a match weight, for explanations and charts."""

    comparison: str
    level: str
    weight: float
    description: str


@dataclass(frozen=True, slots=True)
class MatchScore:
    """A scored pair: the total match weight, its probability, and each field's part in it."""

    weight: float
    probability: float
    prior_weight: float
    contributions: tuple[FieldContribution, ...]
    vector: tuple[int, ...]

    def level(self, comparison: str) -> str:
        for contribution in self.contributions:
            if contribution.comparison == comparison:
                return contribution.level
        raise KeyError(comparison)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready explanation (stored with links and review items).

        Each field is named by its comparison, whose description is the model's (comparisons),
        not repeated here: it was three quarters of every stored explanation, a fifth of each
        source record row, on every link.
        """
        return {
            "weight": round(self.weight, 3),
            "probability": self.probability,
            "prior_weight": round(self.prior_weight, 3),
            "fields": [
                {"comparison": c.comparison, "level": c.level, "weight": round(c.weight, 3)}
                for c in self.contributions
            ],
        }


@dataclass(frozen=True)
class TermFrequencies:
    """Relative frequency of each value of a column in the training data (common names)."""

    values: Mapping[str, float]
    floor: float

    def of(self, value: str) -> float:
        return max(self.values.get(value, self.floor), self.floor)


@dataclass(frozen=True)
class MatchModel:
    version: str
    probability_two_random_records_match: float
    parameters: Mapping[str, Mapping[str, LevelParameters]]
    thresholds: Thresholds
    term_frequencies: Mapping[str, TermFrequencies] = field(default_factory=dict)
    trained: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        tables: list[tuple[float, ...]] = []
        for comparison in COMPARISONS:
            levels = self.parameters.get(comparison.name)
            if levels is None:
                raise ModelFileError(f"the model has no comparison {comparison.name!r}")
            row = []
            for label in comparison.levels:
                if label == NULL:
                    row.append(0.0)
                    continue
                if label not in levels:
                    raise ModelFileError(f"{comparison.name} has no level {label!r}")
                row.append(levels[label].weight)
            tables.append(tuple(row))
        object.__setattr__(self, "_weights", tuple(tables))

    @property
    def prior_weight(self) -> float:
        lam = self.probability_two_random_records_match
        return math.log2(lam / (1 - lam))

    def level_weight(self, comparison: Comparison, index: int) -> float:
        weights: tuple[tuple[float, ...], ...] = self._weights  # type: ignore[attr-defined]
        return weights[COMPARISONS.index(comparison)][index]

    def _tf_adjustment(self, comparison: Comparison, incoming: MatchRecord) -> float:
        """Splink's term-frequency adjustment: log2(u / frequency of this value)."""
        table = self.term_frequencies.get(comparison.name)
        if table is None or comparison.tf_level is None:
            return 0.0
        name = incoming.primary_name
        value = f"{name.given} {name.family}"
        u = self.parameters[comparison.name][comparison.tf_level].u
        return math.log2(u / table.of(value))

    def score(self, incoming: MatchRecord, candidate: MatchRecord) -> MatchScore:
        """Score one pair: the prior plus each comparison's weight (and the TF adjustment)."""
        return self._scored(incoming, candidate, [None] * len(COMPARISONS))

    def score_unless_below(
        self,
        incoming: MatchRecord,
        candidate: MatchRecord,
        floor: float,
        *,
        matters_anyway: Callable[[Mapping[str, str]], bool],
    ) -> MatchScore | None:
        """score(), or None when the pair weighs less than `floor` and `matters_anyway` (given
        each comparison's level) says it does not count either.

        For the loose candidates a shield sweep finds, nearly all of which decide drops (99%
        of 53,000 in the initial load of 20,000 children): picking the levels is half of
        scoring a pair, building its explanation the other half.
        """
        indexes = [c.pick(incoming, candidate) for c in COMPARISONS]
        total = self.prior_weight
        for position, index in enumerate(indexes):
            total += self._weight_at(position, index, incoming)
        if total < floor and not matters_anyway(
            {c.name: c.levels[i] for c, i in zip(COMPARISONS, indexes, strict=True)}
        ):
            return None
        return self._scored(incoming, candidate, indexes)

    def _weight_at(self, position: int, index: int, incoming: MatchRecord) -> float:
        comparison = COMPARISONS[position]
        weight: float = self._weights[position][index]  # type: ignore[attr-defined]
        if comparison.tf_level is not None and comparison.levels[index] == comparison.tf_level:
            weight += self._tf_adjustment(comparison, incoming)
        return weight

    def _scored(
        self, incoming: MatchRecord, candidate: MatchRecord, picked: Sequence[int | None]
    ) -> MatchScore:
        """The pair's score, with the level indexes already picked (None: pick it now)."""
        total = prior = self.prior_weight
        vector: list[int] = []
        contributions: list[FieldContribution] = []
        for position, comparison in enumerate(COMPARISONS):
            index = picked[position]
            if index is None:
                index = comparison.pick(incoming, candidate)
            vector.append(index)
            weight = self._weight_at(position, index, incoming)
            total += weight
            contributions.append(
                FieldContribution(
                    comparison.name, comparison.levels[index], weight, comparison.description
                )
            )
        return MatchScore(
            weight=total,
            probability=probability_of(total),
            prior_weight=prior,
            contributions=tuple(contributions),
            vector=tuple(vector),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": self.version,
            "trained": dict(self.trained),
            "probability_two_random_records_match": self.probability_two_random_records_match,
            "thresholds": {
                "link": self.thresholds.link,
                "review": self.thresholds.review,
                "shield_floor": self.thresholds.shield_floor,
                **({"rival": self.thresholds.rival} if self.thresholds.rival is not None else {}),
            },
            "comparisons": {
                name: {label: {"m": p.m, "u": p.u} for label, p in levels.items()}
                for name, levels in self.parameters.items()
            },
            "term_frequencies": {
                name: {"floor": tf.floor, "values": dict(tf.values)}
                for name, tf in self.term_frequencies.items()
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MatchModel:
        if data.get("format") != FORMAT:
            raise ModelFileError(f"expected format {FORMAT!r}, found {data.get('format')!r}")
        thresholds = data["thresholds"]
        return cls(
            version=str(data["version"]),
            probability_two_random_records_match=float(
                data["probability_two_random_records_match"]
            ),
            parameters={
                name: {
                    label: LevelParameters(m=float(p["m"]), u=float(p["u"]))
                    for label, p in levels.items()
                }
                for name, levels in data["comparisons"].items()
            },
            thresholds=Thresholds(
                link=float(thresholds["link"]),
                review=float(thresholds["review"]),
                shield_floor=float(thresholds["shield_floor"]),
                rival=float(thresholds["rival"]) if "rival" in thresholds else None,
            ),
            term_frequencies={
                name: TermFrequencies(values=tf["values"], floor=float(tf["floor"]))
                for name, tf in data.get("term_frequencies", {}).items()
            },
            trained=data.get("trained", {}),
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1, sort_keys=False) + "\n")


def probability_of(weight: float) -> float:
    """Match probability from a match weight: 2^w / (1 + 2^w), without overflow."""
    if weight > 60:
        return 1.0
    odds = 2.0**weight
    return odds / (1 + odds)


def load_model(path: Path | None = None) -> MatchModel:
    """Read a model file (the committed model when no path is given)."""
    source = path or MODEL_PATH
    return MatchModel.from_json(json.loads(source.read_text(encoding="utf-8")))


@functools.cache
def current_model() -> MatchModel:
    """The committed model, read once per process."""
    return load_model()
