from __future__ import annotations

import pytest

from tests.identity.idp import IdentityProvider


@pytest.fixture(scope="session")
def idp(tmp_path_factory):
    """One real OpenID provider for the session (django-oauth-toolkit, loopback)."""
    provider = IdentityProvider(tmp_path_factory.mktemp("idp"))
    provider.start(
        [
            "http://testserver/accounts/oidc/corp/callback/",
            "http://testserver/accounts/oidc/forged/callback/",
            "http://testserver/accounts/oidc/other/callback/",
        ]
    )
    yield provider
    provider.stop()


@pytest.fixture
def sso(settings, idp):
    """Tierdesk configured with the provider as "corp" (Acme SSO)."""
    settings.TIERDESK_OIDC_PROVIDERS = [idp.provider_setting()]
    return idp
