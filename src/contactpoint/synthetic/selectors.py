"""Reads for the generator: which local authorities a run covers, as plain profiles."""

from __future__ import annotations

import re

from contactpoint.index.models import LocalAuthority, PostcodeDistrict
from contactpoint.synthetic.reference import AuthorityProfile, build_profiles

_ONS_CODE = re.compile(r"^E(06|08|09|10)\d{6}$")


class UnknownAuthorities(ValueError):
    """The --authorities value names nothing the index knows."""


def get_authority_profiles() -> dict[str, AuthorityProfile]:
    """Every LA in the database with its postcode districts, keyed by ONS code."""
    districts: dict[int, list[str]] = {}
    for code, authority_id in PostcodeDistrict.objects.values_list("code", "local_authority_id"):
        districts.setdefault(authority_id, []).append(code)
    return build_profiles(
        (ons_code, name, region, tuple(districts.get(pk, ())))
        for pk, ons_code, name, region in LocalAuthority.objects.values_list(
            "pk", "ons_code", "name", "region"
        )
    )


def find_authority_codes(spec: str) -> list[str]:
    """ONS codes for 'pilot', 'all' or a comma-separated list of codes, in code order.

    Raises UnknownAuthorities with a message fit for a person when the spec names nothing.
    """
    spec = spec.strip()
    if not spec:
        raise UnknownAuthorities("--authorities is empty: use pilot, all or ONS codes")
    authorities = LocalAuthority.objects.order_by("ons_code")
    if spec.lower() == "all":
        codes = list(authorities.values_list("ons_code", flat=True))
    elif spec.lower() == "pilot":
        codes = list(authorities.filter(is_pilot=True).values_list("ons_code", flat=True))
    else:
        wanted = [part.strip().upper() for part in spec.split(",") if part.strip()]
        malformed = [code for code in wanted if not _ONS_CODE.match(code)]
        if malformed:
            raise UnknownAuthorities(
                f"{', '.join(malformed)} is not an ONS local authority code such as E08000003"
            )
        known = set(authorities.filter(ons_code__in=wanted).values_list("ons_code", flat=True))
        unknown = [code for code in wanted if code not in known]
        if unknown:
            raise UnknownAuthorities(f"unknown local authority code: {', '.join(unknown)}")
        codes = sorted(set(wanted))
    if not codes:
        raise UnknownAuthorities(
            f"no local authorities match {spec!r}: has `contactpoint migrate` loaded them?"
        )
    return codes
