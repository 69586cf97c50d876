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


@pytest.fixture(scope="session")
def slapd(tmp_path_factory):
    """One throwaway slapd for the session (make test installs Debian's package)."""
    from tests.identity.slapd import Directory, slapd_available

    if not slapd_available():  # a missing server must fail, not skip
        pytest.fail("Debian's slapd is not installed (make test installs it)")
    directory = Directory(tmp_path_factory.mktemp("slapd"))
    directory.start()
    yield directory
    directory.stop()


@pytest.fixture
def directory(settings, slapd):
    """Tierdesk pointed at the directory; the directory is put back after the test."""
    settings.TIERDESK_LDAP = slapd.settings()
    yield slapd
    if slapd.proc.poll() is not None:
        slapd.start(load=False)
    slapd.restore()
