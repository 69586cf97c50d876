"""Start the throwaway OpenID provider (tests/identity/provider) and walk its pages.

``IdentityProvider`` runs ``python -m django runserver`` on a free loopback port with
its own SQLite file and RSA key in a temporary folder; ``sso_login`` is the browser's
part of a login, done with ``requests``: it follows Tierdesk's redirect to the
provider, fills in the provider's own login form, and stops at the redirect back to
Tierdesk, so a test can hand the callback to the Django test client (or tamper).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "acme-pass-1"
CLIENT_ID = "tierdesk"
CLIENT_SECRET = "tierdesk-client-secret-for-tests"

#: People at the provider. "email-verified" is how the provider marks a verified address.
USERS = [
    {"username": "pat", "email": "pat@corp.example", "first_name": "Pat", "last_name": "Tech",
     "groups": ["helpdesk-tier2", "email-verified"]},
    {"username": "morgan", "email": "morgan@corp.example", "first_name": "Morgan",
     "last_name": "Boss", "groups": ["helpdesk-managers", "email-verified"]},
    {"username": "lee", "email": "lee@corp.example", "groups": ["email-verified"]},
    {"username": "noemail", "email": "", "groups": ["helpdesk-tier1"]},
    {"username": "mallory", "email": "agent1@tierdesk.local", "groups": ["helpdesk-tier3"]},
    {"username": "alex", "email": "agent1@tierdesk.local", "groups": ["helpdesk-tier1", "email-verified"]},
    {"username": "root", "email": "admin@tierdesk.local", "groups": ["email-verified"]},
    {"username": "taylor", "email": "taylor@corp.example", "groups": ["no-verified-claim"]},
    {"username": "drew", "email": "drew@corp.example", "groups": ["helpdesk-tier3", "email-verified"]},
]  # fmt: skip

GROUP_ROLES = {
    "helpdesk-tier1": "agent:1",
    "helpdesk-tier2": "agent:2",
    "helpdesk-tier3": "agent:3",
    "helpdesk-managers": "manager",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class IdentityProvider:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = self.url + "/o"
        self.env = {
            **os.environ,
            "IDP_DIR": str(directory),
            "DJANGO_SETTINGS_MODULE": "tests.identity.provider.settings",
        }
        self.proc: subprocess.Popen | None = None

    def _run(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "tests.identity.provider", *args],
            cwd=ROOT, env=self.env, check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    def start(self, redirect_uris: list[str]) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (self.dir / "key.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        spec = {
            "password": PASSWORD,
            "users": USERS,
            "clients": [
                {
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "redirect_uris": redirect_uris,
                    "post_logout_redirect_uris": ["http://testserver/"],
                }
            ],
        }
        self._run("setup", json.dumps(spec))
        self.log = open(self.dir / "idp.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "django", "runserver", "--noreload", f"127.0.0.1:{self.port}"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(self.issuer + "/.well-known/openid-configuration", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(
            f"the identity provider did not start: {(self.dir / 'idp.log').read_text()}"
        )

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.log.close()

    def set_groups(self, username: str, groups: list[str]) -> None:
        self._run("groups", username, *groups)

    def allow_redirect(self, uri: str, logout_uri: str) -> None:
        self._run("redirect", CLIENT_ID, uri, logout_uri)

    def provider_setting(self, slug: str = "corp", **overrides) -> dict:
        return {
            "slug": slug,
            "name": "Acme SSO",
            "issuer": self.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scopes": "openid email profile groups",
            "groups": GROUP_ROLES,
            **overrides,
        }


_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def walk_provider(
    browser: requests.Session, url: str, *, username: str, password: str, rp: str
) -> str:
    """Follow the provider's redirects and log in on its page; returns the URL (on
    ``rp``, Tierdesk's origin) that the provider sends the browser back to."""
    for _ in range(10):
        if url.startswith(rp):
            return url
        response = browser.get(url, allow_redirects=False, timeout=10)
        if response.is_redirect:
            url = urljoin(url, response.headers["Location"])
            continue
        assert response.status_code == 200, response.text[:500]
        assert "Acme Identity" in response.text, response.text[:500]
        token = _CSRF.search(response.text).group(1)
        next_value = re.search(r'name="next" value="([^"]*)"', response.text).group(1)
        response = browser.post(
            url.split("?")[0],
            data={"csrfmiddlewaretoken": token, "username": username, "password": password,
                  "next": next_value.replace("&amp;", "&")},
            headers={"Referer": url}, allow_redirects=False, timeout=10,
        )  # fmt: skip
        assert response.is_redirect, "the provider refused the login"
        url = urljoin(url, response.headers["Location"])
    raise AssertionError("too many redirects at the provider")


def sso_start(client, slug: str = "corp", next_url: str = "") -> str:
    response = client.get(
        f"/accounts/oidc/{slug}/login/" + (f"?next={next_url}" if next_url else "")
    )
    assert response.status_code == 302, response.content[:500]
    return response["Location"]


def sso_callback_path(client, username: str, *, slug: str = "corp", browser=None) -> str:
    """Start at Tierdesk, log in at the provider; the callback path (not yet called)."""
    browser = browser or requests.Session()
    url = walk_provider(browser, sso_start(client, slug), username=username, password=PASSWORD,
                        rp="http://testserver")  # fmt: skip
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def sso_login(client, username: str, *, slug: str = "corp", browser=None):
    """The whole login; the response of Tierdesk's callback."""
    return client.get(sso_callback_path(client, username, slug=slug, browser=browser))
