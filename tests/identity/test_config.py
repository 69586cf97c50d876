"""Provider and role settings: parsing, best-match mapping, start-up checks."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from identity.checks import identity_settings_check
from identity.config import GroupMap, RoleDecision, parse_role


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("customer", RoleDecision("customer")),
        ("none", RoleDecision("none")),
        ("agent:2", RoleDecision("agent", 2)),
        ("Manager", RoleDecision("manager", 3)),
        ("manager:1", RoleDecision("manager", 1)),
    ],
)
def test_role_specs(spec, expected):
    assert parse_role(spec) == expected


@pytest.mark.parametrize("spec", ["agent", "agent:5", "agent:x", "boss", "customer:1"])
def test_bad_role_specs_say_what_is_allowed(spec):
    with pytest.raises(ImproperlyConfigured, match="use customer, agent:<1-4>"):
        parse_role(spec)


def test_best_group_wins_and_names_are_case_insensitive():
    groups = GroupMap.from_settings(
        {"Tier1": "agent:1", "tier3": "agent:3", "Leads": "manager:2"}, "none"
    )
    assert groups.decide(["tier1", "TIER3"]) == RoleDecision("agent", 3)
    assert groups.decide(["tier3", "leads"]) == RoleDecision("manager", 2)
    assert groups.decide(["other"]) == RoleDecision("none")


def test_check_reports_a_bad_provider(settings):
    settings.TIERDESK_OIDC_PROVIDERS = [{"slug": "corp", "issuer": "https://idp"}]
    [error] = identity_settings_check(None)
    assert error.id == "identity.E001"
    assert "missing 'client_id'" in error.msg


def test_check_reports_a_bad_role_and_duplicate_slugs(settings):
    provider = {"slug": "corp", "issuer": "https://idp", "client_id": "x"}
    settings.TIERDESK_OIDC_PROVIDERS = [provider, provider]
    settings.TIERDESK_LDAP = {"GROUP_ROLES": {"staff": "agent:9"}}
    assert [e.id for e in identity_settings_check(None)] == ["identity.E002", "identity.E003"]


def test_check_passes_the_default_settings():
    assert identity_settings_check(None) == []


def test_login_page_lists_every_provider(client, db, settings):
    settings.TIERDESK_OIDC_PROVIDERS = [
        {"slug": "corp", "name": "Acme SSO", "issuer": "https://a", "client_id": "x"},
        {"slug": "partners", "name": "Partner login", "issuer": "https://b", "client_id": "y"},
    ]
    page = client.get("/accounts/login/?next=/kb/")
    assert b'href="/accounts/oidc/corp/login/?next=/kb/"' in page.content
    assert b"Sign in with Partner login" in page.content


def test_login_page_without_providers_has_no_sso_block(client, db):
    assert b"sso-providers" not in client.get("/accounts/login/").content
