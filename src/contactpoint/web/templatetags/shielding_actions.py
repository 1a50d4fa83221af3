"""`{% shielding_actions child %}`: what a person may do about a child's shield, on its record.

The decision is made here from the role's capabilities (access.roles), never in a template.
"""

from __future__ import annotations

from typing import Any

from django import template

from contactpoint.access.policy import ChildProjection, ViewMode
from contactpoint.access.roles import Capability, role_has

register = template.Library()


@register.inclusion_tag("web/shielding/includes/record_actions.html", takes_context=True)
def shielding_actions(context: dict[str, Any], child: ChildProjection) -> dict[str, Any]:
    """Links to brokered contact and break-glass (restricted view), asking to shield (not yet
    shielded) and the officers' shielding page."""
    request = context.get("request")
    role = str(getattr(getattr(request, "user", None), "role", ""))
    restricted = child.mode is ViewMode.RESTRICTED
    shielded = restricted or (child.status is not None and child.status.is_shielded)
    return {
        "contactpoint_id": child.identity.contactpoint_id,
        "may_request_contact": restricted,
        "may_break_glass": restricted and role_has(role, Capability.BREAK_GLASS),
        "may_ask_to_shield": not shielded and role_has(role, Capability.VIEW_CHILD),
        "may_manage": role_has(role, Capability.MANAGE_SHIELDING),
    }
