from __future__ import annotations

import pytest

from tests.factories import ArticleFactory


@pytest.fixture(autouse=True)
def _private_cache(settings):
    """Rate-limit counters and cached KB pieces in a fresh in-memory cache: reruns
    start from zero, and a test never reads what another cached (its rolled-back
    writes never bumped the KB version)."""
    from django.core.cache import cache

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()


@pytest.fixture
def kb(db):
    """A small KB: public, internal per tier, draft and archived articles."""
    return {
        "printer": ArticleFactory(
            title="Printer shows offline",
            slug="printer-offline",
            summary="Bring an offline printer back.",
            body="Restart the spooler and check the cable.",
        ),
        "body_only": ArticleFactory(
            title="Office equipment overview",
            slug="equipment-overview",
            summary="What is in the office.",
            body="Every floor has a printer, a scanner and a coffee machine.",
        ),
        "password": ArticleFactory(
            title="Reset your password",
            slug="reset-your-password",
            summary="Forgot it? Reset it yourself.",
            body="Go to the sign-in page and choose **Forgot password?**",
            tags=["password", "login"],
        ),
        "tier1": ArticleFactory(
            title="Tier 1 script: password reset call",
            slug="t1-password-script",
            audience="internal",
            min_tier=1,
            body="Verify the caller before any password reset.",
        ),
        "tier3": ArticleFactory(
            title="Tier 3 runbook: compromised password",
            slug="t3-password-runbook",
            audience="internal",
            min_tier=3,
            body="Revoke sessions, then reset the password.",
        ),
        "draft": ArticleFactory(
            title="Password policy draft",
            slug="password-draft",
            status="draft",
            body="New password rules under discussion.",
        ),
        "archived": ArticleFactory(
            title="Old password portal",
            slug="password-archived",
            status="archived",
            body="The old password portal is gone.",
        ),
    }
