from __future__ import annotations

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.urls import get_script_prefix, reverse

from tiers.selectors import agent_profile_of, user_is_manager

#: The links of the layout (base.html, the agent bar), by short name.
NAV_URL_NAMES = {
    "home": "tickets:home",
    "queue": "tickets:agent-queue",
    "notifications": "tickets:agent-notifications",
    "kb": "knowledgebase:index",
    "dashboard": "reports:dashboard",
    "ticket_new": "tickets:ticket-new",
    "my_tickets": "tickets:my-tickets",
    "tokens": "integrations:tokens",
    "manage": "desk:index",
    "preferences": "preferences",
    "login": "login",
    "logout": "logout",
}


class NavUrls:
    """The layout's links, each reversed once per process and script prefix.

    Every page rendered ``{% url %}`` eight to ten times for links that never change
    at run time (~25 us each); the templates read ``nav_urls.queue`` instead."""

    _cache: dict[tuple[str, str], str] = {}

    def __getitem__(self, name: str) -> str:
        key = (get_script_prefix(), name)
        try:
            return self._cache[key]
        except KeyError:
            url = self._cache[key] = reverse(NAV_URL_NAMES[name])
            return url


@receiver(setting_changed)
def _urls_changed(*, setting: str, **kwargs) -> None:
    if setting == "ROOT_URLCONF":
        NavUrls._cache.clear()


NAV_URLS = NavUrls()


def navigation(request: HttpRequest) -> dict:
    """Role flags and links for the navigation; one cached profile lookup per request."""
    user = getattr(request, "user", None)
    profile = agent_profile_of(user)
    return {
        "nav_profile": profile,
        "nav_is_agent": profile is not None,
        "nav_is_manager": user_is_manager(user),
        "nav_urls": NAV_URLS,
    }
