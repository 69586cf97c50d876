"""Identity configuration, read from settings (which read it from the environment).

Providers and group mappings are settings, not database rows, on purpose: a client
secret or a directory bind password belongs in the deployment's secret store next to
``DJANGO_SECRET_KEY``, not in a table that the admin shows and backups copy; and who
gets which tier is decided by the company's identity team in its IdP groups, so the
only thing Tierdesk keeps is the (rarely changing) name → role table, deployed with
the rest of the configuration. The database holds only what is learnt at run time:
which local account an external identity is linked to (``identity.models``).

Role specs are strings: ``"customer"``, ``"agent:<tier>"`` or ``"manager[:<tier>]"``
(a manager without a tier gets Tier 3, like the demo manager).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class Role:
    NONE = "none"
    CUSTOMER = "customer"
    AGENT = "agent"
    MANAGER = "manager"


_RANK = {Role.NONE: 0, Role.CUSTOMER: 1, Role.AGENT: 2, Role.MANAGER: 3}


@dataclass(frozen=True)
class RoleDecision:
    """What a person may be here: ``role`` and, for staff, ``tier`` (1–4)."""

    role: str
    tier: int | None = None

    @property
    def is_staff_role(self) -> bool:
        return self.role in (Role.AGENT, Role.MANAGER)

    def outranks(self, other: RoleDecision) -> bool:
        return (_RANK[self.role], self.tier or 0) > (_RANK[other.role], other.tier or 0)


def parse_role(spec: str) -> RoleDecision:
    """``"agent:2"`` → agent at Tier 2; raises ImproperlyConfigured on anything else."""
    role, _, tier_text = str(spec).strip().lower().partition(":")
    if role in (Role.NONE, Role.CUSTOMER) and not tier_text:
        return RoleDecision(role)
    if role in (Role.AGENT, Role.MANAGER):
        if not tier_text and role == Role.MANAGER:
            return RoleDecision(role, 3)
        if tier_text.isdigit() and 1 <= int(tier_text) <= 4:
            return RoleDecision(role, int(tier_text))
    raise ImproperlyConfigured(
        f"Identity role {spec!r}: use customer, agent:<1-4>, manager or manager:<1-4>."
    )


@dataclass(frozen=True)
class GroupMap:
    """Group name (or LDAP DN) → role, compared case-insensitively; the best match wins."""

    rules: tuple[tuple[str, RoleDecision], ...] = ()
    default: RoleDecision = RoleDecision(Role.CUSTOMER)

    @classmethod
    def from_settings(cls, groups: Mapping[str, str] | None, default: str | None) -> GroupMap:
        rules = tuple(
            (name.strip().lower(), parse_role(spec)) for name, spec in (groups or {}).items()
        )
        return cls(rules=rules, default=parse_role(default or Role.CUSTOMER))

    def decide(self, groups: Iterable[str]) -> RoleDecision:
        have = {str(g).strip().lower() for g in groups}
        best: RoleDecision | None = None
        for name, decision in self.rules:
            if name in have and (best is None or decision.outranks(best)):
                best = decision
        return best or self.default


@dataclass(frozen=True)
class OIDCProvider:
    slug: str
    name: str
    issuer: str
    client_id: str
    client_secret: str
    scopes: str = "openid email profile"
    groups_claim: str = "groups"
    #: Treat this provider's e-mail addresses as verified when it sends no
    #: ``email_verified`` claim (an explicit false still counts as unverified); only for
    #: the company's own IdP, whose addresses it owns.
    trust_email: bool = False
    group_map: GroupMap = field(default_factory=GroupMap)
    sign_algo: str = "RS256"
    #: Endpoints found by discovery unless given here (``authorization_endpoint``, …).
    endpoints: tuple[tuple[str, str], ...] = ()
    timeout: float = 5.0

    def endpoint_override(self, name: str) -> str | None:
        return dict(self.endpoints).get(name)


_ENDPOINT_KEYS = (
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "end_session_endpoint",
)


def _provider_from(raw: Mapping[str, Any], *, default_groups: Mapping[str, str]) -> OIDCProvider:
    try:
        slug = str(raw["slug"])
        if not slug.replace("-", "").isalnum():
            raise ImproperlyConfigured(f"OIDC provider slug {slug!r}: letters, digits and -.")
        return OIDCProvider(
            slug=slug,
            name=str(raw.get("name") or slug),
            issuer=str(raw["issuer"]).rstrip("/"),
            client_id=str(raw["client_id"]),
            client_secret=str(raw.get("client_secret", "")),
            scopes=str(raw.get("scopes", "openid email profile")),
            groups_claim=str(raw.get("groups_claim", "groups")),
            trust_email=bool(raw.get("trust_email", False)),
            group_map=GroupMap.from_settings(
                raw.get("groups", default_groups), raw.get("default_role")
            ),
            sign_algo=str(raw.get("sign_algo", "RS256")),
            endpoints=tuple((k, str(raw[k])) for k in _ENDPOINT_KEYS if raw.get(k)),
            timeout=float(raw.get("timeout", 5.0)),
        )
    except KeyError as exc:
        raise ImproperlyConfigured(f"OIDC provider is missing {exc.args[0]!r}.") from exc


def oidc_providers() -> tuple[OIDCProvider, ...]:
    """The configured providers, in the order the login page lists them."""
    default_groups = settings.TIERDESK_IDENTITY_GROUP_ROLES
    return tuple(
        _provider_from(raw, default_groups=default_groups)
        for raw in settings.TIERDESK_OIDC_PROVIDERS
    )


def oidc_provider(slug: str) -> OIDCProvider | None:
    return next((p for p in oidc_providers() if p.slug == slug), None)


def ldap_group_map() -> GroupMap:
    conf = settings.TIERDESK_LDAP
    return GroupMap.from_settings(
        conf.get("GROUP_ROLES") or settings.TIERDESK_IDENTITY_GROUP_ROLES,
        conf.get("DEFAULT_ROLE"),
    )


def ldap_enabled() -> bool:
    return bool(settings.TIERDESK_LDAP.get("SERVER_URI"))


def staff_sso_only() -> bool:
    return bool(settings.TIERDESK_STAFF_SSO_ONLY)
