"""Pure normalisers for names and postcodes, and the search keys stored beside the record.

They live in `index` (the lowest record layer) because the index writes the keys with each
name; `matching` and `search` import them from here, keeping dependencies one-way.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import jellyfish

# Full-unit-postcode shape (BS 7666): outward code A9, A99, AA9, AA99, A9A or AA9A; inward 9AA.
_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][0-9A-Z]?)([0-9][ABD-HJLNP-UW-Z]{2})$")
_OUTWARD = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]?$")
_NOT_LETTER = re.compile(r"[^A-Z]")
_SPACES = re.compile(r"\s+")
_AREA = re.compile(r"^[A-Z]{1,2}")


# Names and postcodes repeat: a child's records in each source, brothers and sisters, carers,
# thousands of Smiths. The keys below are pure, so each distinct string is worked out once.
_KEYS_CACHED = 65_536


class InvalidPostcode(ValueError):
    """Raised for a string that is not a UK postcode in the standard format."""


@dataclass(frozen=True, slots=True)
class Postcode:
    """A parsed UK postcode: 'M14 5AB' has district 'M14' and sector 'M14 5'."""

    outward: str
    inward: str

    def __str__(self) -> str:
        return f"{self.outward} {self.inward}"

    @property
    def district(self) -> str:
        return self.outward

    @property
    def sector(self) -> str:
        return f"{self.outward} {self.inward[0]}"

    @property
    def area(self) -> str:
        """The leading letters: 'M' for M14, 'BL' for BL1."""
        return _AREA.match(self.outward).group(0)  # type: ignore[union-attr]


@functools.lru_cache(maxsize=_KEYS_CACHED)
def parse_postcode(raw: str) -> Postcode:
    """Parse any spacing or case of a full UK postcode into its canonical parts."""
    compact = _SPACES.sub("", (raw or "").upper())
    match = _POSTCODE.match(compact)
    if not match:
        raise InvalidPostcode(f"{raw!r} is not a UK postcode such as M14 5AB")
    return Postcode(outward=match.group(1), inward=match.group(2))


def is_postcode_district(raw: str) -> bool:
    """True for an outward code on its own, such as 'M14' or 'EC1A'."""
    return bool(_OUTWARD.match((raw or "").strip().upper()))


def fold_accents(text: str) -> str:
    """'Zoë Chloé' -> 'Zoe Chloe': strip combining marks after NFKD decomposition."""
    if text.isascii():
        return text  # nothing to fold, and most names in a feed are plain ASCII
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def clean_display_name(raw: str) -> str:
    """Trim and collapse whitespace, keeping case, accents and punctuation as given."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", raw or "")).strip()


@functools.lru_cache(maxsize=_KEYS_CACHED)
def name_key(raw: str) -> str:
    """Letters only, upper case, accents folded: O'Neill, O NEILL and oneill all give ONEILL."""
    return _NOT_LETTER.sub("", fold_accents(raw).upper())


def name_parts(raw: str) -> list[str]:
    """The separate name words, so that 'Smith-Jones' can be found by 'Jones' as well."""
    words = re.split(r"[\s\-]+", fold_accents(raw).upper())
    return [key for key in (_NOT_LETTER.sub("", w) for w in words) if key]


@functools.lru_cache(maxsize=_KEYS_CACHED)
def first_given_name_key(given_names: str) -> str:
    """The key of the first given name ('Mary-Jane Elizabeth' -> MARYJANE)."""
    words = clean_display_name(given_names).split(" ")
    return name_key(words[0]) if words and words[0] else ""


@functools.lru_cache(maxsize=_KEYS_CACHED)
def phonetic_key(raw: str) -> str:
    """A phonetic code of the whole name (Metaphone), so that Thomson and Thompson collide.

    Metaphone kept the most English name variants together among jellyfish's codes; the
    silent P of -MPS- (Thompson, Simpson) is the one common variant it splits, so it goes first.
    """
    key = name_key(raw).replace("MPS", "MS")
    return jellyfish.metaphone(key)[:16] if key else ""
