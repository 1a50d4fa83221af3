"""From scores to a decision: link, send to review, or create a new child.

DESIGN: above the upper threshold a record links; below the lower one it creates a child;
between them it goes to a data-quality officer. Three rules refine that, each for a reason:

- **Shielding is never lost** (issue 5): if any shielded child was scored against the record,
  the record may link to its best match, go to review, or become a new child *shielded as a
  precaution* with a possible-duplicate item for a person, never a new unshielded child. A
  record that resembles a shielded child no more than a stranger would (its best weight below
  the review threshold) takes the last course: held in review it would keep the child out of the
  index, and every later record of the same child would pile up behind it in review (on
  generated feeds, nine in ten such records were strangers who share a given name and a birth
  date a typing error away with a shielded child). A shielded
  child found only by the broad shielded sweeps counts when it scores above `shield_floor`, or
  when what a family in hiding cannot change agrees whatever the total weight: the given name,
  a date of birth a typing error away, the gender and any NHS number. A refuge brings a new
  surname, address, school, GP and often a different carer on the form; each of those counts
  against the match, and in 2009 that was how an unshielded duplicate came to be.
- **Two strong candidates** are two children who both look like this one: the index may
  already hold a duplicate, so a person decides. "Strong" is the model's rival threshold, which
  may sit above the link threshold: a weak second match beside a certain one is no duplicate.
- **One record per child per source**: a source does not hold two records of one child (or it
  is a duplicate for a person to resolve), so a candidate that already has a record from the
  incoming record's source is a sibling unless the names agree exactly.
- **Twins**: siblings born the same day agree on everything a household shares; only the
  given name (and an NHS number, when sent) tells them apart. A match whose names agree only on
  the family name is never linked automatically unless the NHS numbers agree, and a match whose
  NHS numbers differ goes to review however well the rest agrees. Names that differ only as
  sources garble one name are not a twin's: a given name a typing error from a familiar form of
  the other (Alc for Alf, Cnarlie for Charlie) counts as agreeing, and a given name reported as
  the family name (swapped, with a new surname) sends the record to review.
- **Siblings**: a household's children share its address and carers, whose weight can carry a
  sister above the link threshold; a match born on a day no typing error explains links only
  when the names agree exactly (or the NHS numbers do), and otherwise goes to review.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from contactpoint.matching.comparisons import ELSE, names_mixed_up
from contactpoint.matching.features import MatchRecord
from contactpoint.matching.model import MatchModel, MatchScore

TWIN_NAME_LEVELS = frozenset({"family_agrees_given_differs", "else"})
# Candidates found only by the loose sweeps over shielded children (blocking.find_shielded,
# shield.ShieldNet): they count only when they score above the shield floor.
SHIELD_SWEEP_RULES = frozenset({"shielded_dob", "shielded_near"})
# Blocking rules as loose as those sweeps (a birth date and any familiar form of the given
# name: Charlie reaches every Charles and Charlotte born that day), held to the same floor so
# that a shielded stranger they find does not send the record to review.
LOOSE_RULES = SHIELD_SWEEP_RULES | {"dob_familiar"}
# Name levels on which the given names agree (exactly, by a typing error or as a nickname).
GIVEN_AGREES_LEVELS = frozenset(
    {
        "exact",
        "swapped",
        "family_exact_given_familiar",
        "family_exact_given_similar",
        "given_exact_family_similar",
        "both_similar",
        "given_agrees_family_differs",
    }
)
DOB_TYPING_LEVELS = frozenset({"exact", "day_month_swapped", "one_digit", "transposed"})


class Outcome(StrEnum):
    LINK = "link"
    REVIEW = "review"
    NEW = "new"
    # A new child, shielded until a person decides whether it is the shielded child it resembles.
    NEW_SHIELDED = "new_shielded"


@dataclass(frozen=True)
class ScoredCandidate:
    candidate: MatchRecord
    score: MatchScore
    rule: str  # the blocking rule that found it
    # The names differ only as a source mistypes or rearranges them (see names_mixed_up): the
    # level says "given differs" or "else", but no twin is called by a typo of the child's name.
    names_mixed_up: bool = False

    @property
    def names_agree(self) -> bool:
        """Whether the names say this is the child rather than a twin or sibling."""
        level = self.score.level("name")
        if level not in TWIN_NAME_LEVELS:
            return True
        # A garbled name of the other gender is more likely a twin brother's or sister's.
        return level != ELSE and self.names_mixed_up and self.score.level("gender") != ELSE

    @property
    def child_id(self) -> int:
        assert self.candidate.child_id is not None
        return self.candidate.child_id


@dataclass(frozen=True)
class MatchDecision:
    outcome: Outcome
    reason: str
    best: ScoredCandidate | None
    candidates: tuple[ScoredCandidate, ...]  # the ones worth showing, best first
    # Two existing children this record suggests are one (for a possible-duplicate item).
    possible_duplicate: tuple[ScoredCandidate, ScoredCandidate] | None = None

    @property
    def child_id(self) -> int | None:
        return (
            self.best.child_id if self.best is not None and self.outcome is Outcome.LINK else None
        )


def score_candidates(
    model: MatchModel, incoming: MatchRecord, candidates: Iterable[tuple[MatchRecord, str]]
) -> list[ScoredCandidate]:
    """Every candidate scored, best first; a loose one only if decide could keep it."""
    scored = []
    floor = model.thresholds.shield_floor
    for candidate, rule in candidates:
        if rule in LOOSE_RULES:
            found = model.score_unless_below(
                incoming, candidate, floor, matters_anyway=identity_kept
            )
            if found is None:
                continue  # decide drops it: below the floor, and not the same identity
            score = found
        else:
            score = model.score(incoming, candidate)
        mixed_up = score.level("name") in TWIN_NAME_LEVELS and names_mixed_up(incoming, candidate)
        scored.append(ScoredCandidate(candidate, score, rule, names_mixed_up=mixed_up))
    scored.sort(key=lambda s: s.score.weight, reverse=True)
    return scored


def holds_record_from(candidate: MatchRecord, source: str) -> bool:
    """Whether the candidate child already has a (different) record from this source."""
    sources = candidate.extra.get("sources", ())
    return isinstance(sources, frozenset | set | tuple) and source in sources


def keeps_identity(score: MatchScore) -> bool:
    """Whether what a child in hiding keeps agrees: given name, birth date, gender, NHS number.

    A missing gender or NHS number on either side says nothing either way; a different one
    is a different child.
    """
    return identity_kept({c.comparison: c.level for c in score.contributions})


def identity_kept(levels: Mapping[str, str]) -> bool:
    """keeps_identity, from the levels of the comparisons it looks at."""
    return (
        levels["name"] in GIVEN_AGREES_LEVELS
        and levels["date_of_birth"] in DOB_TYPING_LEVELS
        and levels["gender"] != "else"
        and levels["nhs_number"] != "else"
    )


def decide(model: MatchModel, scored: list[ScoredCandidate], *, source: str = "") -> MatchDecision:
    """The decision for one incoming record, given its candidates scored best first.

    `source` is the incoming record's source system: a source holds one record per child, so
    a candidate that already has another record from the same source is probably a sibling.
    """
    limits = model.thresholds
    # A shielded-sweep candidate below the floor is no real resemblance unless its identity
    # agrees; drop the rest (every shielded child born within a typing error would otherwise
    # send the record to review).
    relevant = [
        s
        for s in scored
        if s.rule not in LOOSE_RULES
        or s.score.weight >= limits.shield_floor
        or keeps_identity(s.score)
    ]
    shown = tuple(s for s in relevant if s.score.weight >= limits.shield_floor)[:5]
    if not relevant:
        return MatchDecision(Outcome.NEW, "no candidate", None, ())
    best = relevant[0]
    # A child shielded only as matching's precaution resembled a shielded child, whom the shield
    # net compares with this record directly: it counts as any other candidate (else strangers
    # who resemble strangers would be shielded, without end).
    shielded = [
        s for s in relevant if s.candidate.is_shielded and not s.candidate.extra.get("precaution")
    ]
    # A twin can outweigh the child itself (it may have more fields on record), so among the
    # candidates above the link threshold, those whose names agree come first.
    named = [s for s in relevant if s.score.weight >= limits.link and s.names_agree]
    if named:
        best = named[0]

    if best.score.weight >= limits.link:
        # A rival is another child who also looks like this one: not a twin who agrees on
        # everything but the given name, nor a sibling whose name is only close when this
        # child's agrees exactly.
        rivals = [
            s
            for s in named[1:]
            if s.score.weight >= limits.rival_weight
            and s.child_id != best.child_id
            and (best.score.level("name") != "exact" or s.score.level("name") == "exact")
        ]
        if rivals:
            return MatchDecision(
                Outcome.REVIEW,
                "two children match strongly: the index may hold a duplicate",
                best,
                shown or (best,),
                possible_duplicate=(best, rivals[0]),
            )
        if not best.names_agree and best.score.level("nhs_number") != "exact":
            if shielded:
                return MatchDecision(
                    Outcome.REVIEW,
                    "only the family name agrees (a twin?) and a shielded child is involved",
                    best,
                    shown or (best,),
                )
            if best.names_mixed_up and best.score.level("nhs_number") != ELSE:
                # Twins share a family name; here neither name agrees, but one is the other
                # garbled (swapped with a new surname, a mistyped nickname): a person decides.
                return MatchDecision(
                    Outcome.REVIEW,
                    "everything agrees but the names, which look garbled: swapped or mistyped?",
                    best,
                    shown or (best,),
                )
            return MatchDecision(
                Outcome.NEW,
                "given names differ: a sibling born the same day, not the same child",
                best,
                shown,
            )
        if (
            best.score.level("date_of_birth") not in DOB_TYPING_LEVELS
            and best.score.level("name") != "exact"
            and best.score.level("nhs_number") != "exact"
        ):
            # Siblings share the home and the carers, which outweigh everything else; born on
            # days no typing error explains, with names only alike (Bella and Isabella), this
            # is as likely a sister as the child.
            return MatchDecision(
                Outcome.REVIEW,
                "born on another day and the names only alike: a sibling?",
                best,
                shown or (best,),
            )
        if holds_record_from(best.candidate, source):
            if best.score.level("name") == "exact" or shielded:
                return MatchDecision(
                    Outcome.REVIEW,
                    "the child already has another record from this source: a duplicate?",
                    best,
                    shown or (best,),
                )
            return MatchDecision(
                Outcome.NEW,
                "the best match already has another record from this source: a sibling",
                best,
                shown,
            )
        if best.score.level("nhs_number") == "else":
            return MatchDecision(
                Outcome.REVIEW,
                "everything agrees but the NHS numbers differ (a twin?)",
                best,
                shown or (best,),
            )
        return MatchDecision(Outcome.LINK, "match weight above the link threshold", best, shown)
    if best.score.weight >= limits.review:
        return MatchDecision(
            Outcome.REVIEW, "match weight between the review and link thresholds", best, shown
        )
    if shielded:
        return MatchDecision(
            Outcome.NEW_SHIELDED,
            "resembles a shielded child: created shielded as a precaution until a person "
            "decides whether they are one child",
            shielded[0],
            tuple({s.child_id: s for s in (*shielded[:3], *shown)}.values())[:5],
        )
    return MatchDecision(Outcome.NEW, "no candidate above the review threshold", best, shown)
