from __future__ import annotations

from django.http import HttpRequest

from tiers.selectors import agent_profile_of, user_is_manager


def navigation(request: HttpRequest) -> dict:
    """Role flags for the navigation; one cached profile lookup per request."""
    user = getattr(request, "user", None)
    profile = agent_profile_of(user)
    return {
        "nav_profile": profile,
        "nav_is_agent": profile is not None,
        "nav_is_manager": user_is_manager(user),
    }
