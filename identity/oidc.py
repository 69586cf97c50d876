"""OpenID Connect (authorization code flow with PKCE), on mozilla-django-oidc.

The library does the protocol work: ``state``/``nonce``/PKCE in the session, the
token request, the ID token's signature against the provider's JWKS (key id and
algorithm matched), the nonce, the userinfo call. This module adds what Tierdesk
needs around it: several providers (each with its own callback URL, so a response
can never be replayed against another provider's flow), endpoints from the issuer's
discovery document, the issuer/audience/expiry checks the library leaves off, and
errors turned into ``IdentityError`` messages for the login page instead of a 400.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import (
    add_state_and_verifier_and_nonce_to_session,
    generate_code_challenge,
)

from . import services
from .config import OIDCProvider, oidc_provider
from .models import ExternalIdentity
from .services import ExternalClaims, IdentityError

logger = logging.getLogger(__name__)

#: How long a started login may take at the provider (the person types a password).
FLOW_MAX_AGE_SECONDS = 15 * 60
#: Clock difference tolerated between the provider and us when checking ``exp``/``iat``.
CLOCK_LEEWAY_SECONDS = 30
DISCOVERY_CACHE_SECONDS = 3600
SESSION_FLOWS = "identity_oidc_flows"
SESSION_PROVIDER = "identity_oidc_provider"
SESSION_ID_TOKEN = "identity_oidc_id_token"  # noqa: S105 (a session key, not a secret)


def _unreachable(provider: OIDCProvider) -> IdentityError:
    return IdentityError(
        _("%(provider)s cannot be reached just now. Try again in a few minutes.")
        % {"provider": provider.name},
        code="provider_down",
    )


def discovery(provider: OIDCProvider) -> dict[str, str]:
    """The provider's endpoints: its discovery document (cached), then overrides."""
    key = "identity:oidc:discovery:" + hashlib.sha256(provider.issuer.encode()).hexdigest()[:32]
    doc = cache.get(key)
    if doc is None:
        url = provider.issuer + "/.well-known/openid-configuration"
        try:
            response = requests.get(url, timeout=provider.timeout)
            response.raise_for_status()
            doc = response.json()
        except (requests.RequestException, ValueError) as exc:
            logger.warning("identity: discovery of %s failed: %s", provider.slug, exc)
            raise _unreachable(provider) from exc
        if str(doc.get("issuer", "")).rstrip("/") != provider.issuer:
            # OpenID Connect Discovery 1.0 §4.3: a document for another issuer is refused.
            logger.error("identity: %s discovery names issuer %r", provider.slug, doc.get("issuer"))
            raise _unreachable(provider)
        cache.set(key, doc, DISCOVERY_CACHE_SECONDS)
    endpoints = {k: v for k, v in doc.items() if isinstance(v, str)}
    endpoints.update(dict(provider.endpoints))
    return endpoints


def callback_url(request: HttpRequest, provider: OIDCProvider) -> str:
    return request.build_absolute_uri(reverse("identity:oidc-callback", args=[provider.slug]))


def authorization_url(request: HttpRequest, provider: OIDCProvider, *, next_url: str) -> str:
    """Start a login: remember state, nonce and PKCE verifier; the provider's URL."""
    endpoints = discovery(provider)
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)[:96]
    params = {
        "response_type": "code",
        "scope": provider.scopes,
        "client_id": provider.client_id,
        "redirect_uri": callback_url(request, provider),
        "state": state,
        "nonce": nonce,
        "code_challenge": generate_code_challenge(verifier, "S256"),
        "code_challenge_method": "S256",
    }
    add_state_and_verifier_and_nonce_to_session(request, state, params, verifier)
    flows = request.session.get(SESSION_FLOWS)
    flows = {
        s: f
        for s, f in (flows.items() if isinstance(flows, dict) else ())
        if s in request.session["oidc_states"]
    }
    flows[state] = {"provider": provider.slug, "next": next_url}
    request.session[SESSION_FLOWS] = flows
    request.session.modified = True
    return endpoints["authorization_endpoint"] + "?" + urlencode(params)


class ProviderBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend, configured per provider instead of by settings.

    Used only by ``complete_login`` (never listed in AUTHENTICATION_BACKENDS): the
    session is then served by the project's password backend and its user memo."""

    def __init__(self, provider: OIDCProvider, endpoints: dict[str, str]) -> None:
        self.provider = provider
        self.OIDC_OP_TOKEN_ENDPOINT = endpoints["token_endpoint"]
        self.OIDC_OP_USER_ENDPOINT = endpoints.get("userinfo_endpoint")
        self.OIDC_OP_JWKS_ENDPOINT = endpoints["jwks_uri"]
        self.OIDC_RP_CLIENT_ID = provider.client_id
        self.OIDC_RP_CLIENT_SECRET = provider.client_secret
        self.OIDC_RP_SIGN_ALGO = provider.sign_algo
        self.OIDC_RP_IDP_SIGN_KEY = None

    def get_settings(self, attr: str, *args: Any) -> Any:  # type: ignore[override]
        own = {
            "OIDC_TIMEOUT": self.provider.timeout,
            "OIDC_VERIFY_SSL": True,
            "OIDC_PROXY": None,
            "OIDC_USE_NONCE": True,
            "OIDC_TOKEN_USE_BASIC_AUTH": False,
            "OIDC_ALLOW_UNSECURED_JWT": False,
            "OIDC_RP_SCOPES": self.provider.scopes,
        }
        if attr in own:
            return own[attr]
        return super().get_settings(attr, *args)

    def _verify_jws(self, payload: str, key: Any) -> dict[str, Any]:
        header = jwt.get_unverified_header(payload)
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(f"ID token algorithm {header.get('alg')!r} refused")
        # The library skips audience and issuer; an ID token for another client or
        # from another issuer must not log anyone in here.
        return jwt.decode(
            payload,
            key,
            algorithms=[self.OIDC_RP_SIGN_ALGO],
            audience=self.provider.client_id,
            issuer=self.provider.issuer,
            leeway=CLOCK_LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )

    def exchange(
        self, *, code: str, redirect_uri: str, nonce: str, verifier: str
    ) -> tuple[dict[str, Any], dict[str, Any], str]:
        """Trade the code for tokens; the checked ID token claims, userinfo, ID token."""
        token_info = self.get_token(
            {
                "client_id": self.OIDC_RP_CLIENT_ID,
                "client_secret": self.OIDC_RP_CLIENT_SECRET,
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            }
        )
        id_token = token_info.get("id_token")
        if not id_token:
            raise SuspiciousOperation("no id_token in the token response")
        payload = self.verify_token(id_token, nonce=nonce)
        userinfo: dict[str, Any] = {}
        if self.OIDC_OP_USER_ENDPOINT and token_info.get("access_token"):
            userinfo = self.get_userinfo(token_info["access_token"], id_token, payload)
            # OpenID Connect Core §5.3.2: userinfo of another subject must be ignored.
            if userinfo.get("sub") != payload.get("sub"):
                raise SuspiciousOperation("userinfo sub differs from the ID token's")
        return payload, userinfo, id_token


def _bool_claim(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def claims_from(provider: OIDCProvider, payload: dict[str, Any], userinfo: dict[str, Any]):
    merged = {**userinfo, **payload}
    groups = merged.get(provider.groups_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    return ExternalClaims(
        subject=str(payload["sub"]),
        email=str(merged.get("email") or "").strip(),
        email_verified=_bool_claim(merged.get("email_verified")),
        username=str(merged.get("preferred_username") or ""),
        first_name=str(merged.get("given_name") or ""),
        last_name=str(merged.get("family_name") or ""),
        groups=tuple(str(g) for g in groups if isinstance(g, str | int)),
    )


def _login_failed(provider: OIDCProvider) -> IdentityError:
    return IdentityError(
        _(
            "The answer from %(provider)s could not be checked, so you were not logged in. Try again."
        )
        % {"provider": provider.name},
        code="invalid_response",
    )


def complete_login(request: HttpRequest, slug: str):
    """Finish a login at the callback. Returns ``(user, provider, next_url, id_token)``;
    raises ``IdentityError`` with the reason for the person otherwise."""
    provider = oidc_provider(slug)
    if provider is None:
        raise IdentityError(_("That single sign-on provider is not configured."), code="unknown")
    state = request.GET.get("state", "")
    states = request.session.get("oidc_states")
    flows = request.session.get(SESSION_FLOWS)
    entry = states.get(state) if isinstance(states, dict) else None
    flow = flows.get(state) if isinstance(flows, dict) else None
    if entry is not None:
        # One use only, whatever happens next: a replayed callback finds no state.
        del states[state]
        if isinstance(flows, dict):
            flows.pop(state, None)
        request.session.modified = True
    if entry is None or flow is None or flow.get("provider") != provider.slug:
        raise IdentityError(
            _(
                "This sign-in link is not one this browser started, or it was already used. "
                "Start again from the login page."
            ),
            code="bad_state",
        )
    if time.time() - float(entry.get("added_on", 0)) > FLOW_MAX_AGE_SECONDS:
        raise IdentityError(
            _("The sign-in took too long and expired. Start again from the login page."),
            code="expired_state",
        )
    if request.GET.get("error"):
        raise IdentityError(
            _("%(provider)s did not sign you in (%(error)s).")
            % {"provider": provider.name, "error": request.GET["error"][:80]},
            code="provider_error",
        )
    code = request.GET.get("code", "")
    if not code:
        raise _login_failed(provider)
    backend = ProviderBackend(provider, discovery(provider))
    try:
        payload, userinfo, id_token = backend.exchange(
            code=code,
            redirect_uri=callback_url(request, provider),
            nonce=entry.get("nonce"),
            verifier=entry.get("code_verifier"),
        )
    except jwt.ExpiredSignatureError as exc:
        logger.warning("identity: %s sent an expired ID token", provider.slug)
        raise IdentityError(
            _("The sign-in from %(provider)s had expired. Start again from the login page.")
            % {"provider": provider.name},
            code="expired_token",
        ) from exc
    except requests.HTTPError as exc:
        # invalid_grant: a code used twice, or one issued for another verifier/client.
        logger.warning("identity: %s token request refused: %s", provider.slug, exc)
        raise IdentityError(
            _(
                "%(provider)s refused this sign-in code (it may have been used already). "
                "Start again from the login page."
            )
            % {"provider": provider.name},
            code="code_refused",
        ) from exc
    except requests.RequestException as exc:
        logger.warning("identity: %s unreachable at the token step: %s", provider.slug, exc)
        raise _unreachable(provider) from exc
    except (jwt.PyJWTError, SuspiciousOperation, ValueError, KeyError) as exc:
        logger.warning("identity: %s ID token refused: %s", provider.slug, exc)
        raise _login_failed(provider) from exc
    claims = claims_from(provider, payload, userinfo)
    # trust_email stands in for a missing claim, never for an explicit "not verified".
    stated = "email_verified" in payload or "email_verified" in userinfo
    email_trusted = bool(claims.email) and (
        claims.email_verified or (provider.trust_email and not stated)
    )
    user = services.identity_login(
        source=ExternalIdentity.Source.OIDC,
        provider=provider.slug,
        provider_name=provider.name,
        claims=claims,
        group_map=provider.group_map,
        email_trusted=email_trusted,
    )
    return user, provider, flow.get("next") or "", id_token


def end_session_url(request: HttpRequest, *, slug: str, id_token: str) -> str | None:
    """The provider's RP-initiated logout URL (coming back to the portal), if it has one."""
    provider = oidc_provider(slug)
    if provider is None:
        return None
    try:
        endpoint = discovery(provider).get("end_session_endpoint")
    except IdentityError:
        return None
    if not endpoint:
        return None
    params = {
        "id_token_hint": id_token,
        "client_id": provider.client_id,
        "post_logout_redirect_uri": request.build_absolute_uri("/"),
    }
    return endpoint + "?" + urlencode(params)
