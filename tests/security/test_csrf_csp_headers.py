"""CSRF on every form, no inline script anywhere, clickjacking and security headers,
and `check --deploy` clean in production settings."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"


class _FormFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            self.forms.append({"action": a.get("action") or "", "fields": {}})
        elif tag in ("input", "textarea", "select") and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value") or "x"


def _post_forms(client: Client, path: str) -> list[tuple[str, dict]]:
    response = client.get(path, follow=True)
    assert response.status_code == 200, path
    finder = _FormFinder()
    finder.feed(response.content.decode())
    return [(f["action"] or response.request["PATH_INFO"], f["fields"]) for f in finder.forms]


@pytest.mark.django_db
def test_every_html_form_refuses_a_post_without_its_csrf_token(
    make_ticket, agent1, manager, customer
):
    ticket = make_ticket(requester=customer)
    # Pages that show forms, per role; the forms found are posted without the token.
    pages = {
        None: [
            "/",
            "/tickets/new/",
            ticket.get_tracking_url(),
            "/accounts/login/",
            "/accounts/signup/",
            "/accounts/password_reset/",
            "/kb/",
        ],
        customer: ["/", ticket.get_tracking_url()],
        agent1: ["/agent/", f"/agent/tickets/{ticket.reference}/"],
        manager: ["/dashboard/"],
    }
    # Endpoints that must refuse even if no page happens to show their form today.
    known = {
        None: [
            "/tickets/new/",
            "/accounts/login/",
            "/accounts/signup/",
            "/accounts/verify/",
            "/accounts/password_reset/",
            ticket.get_tracking_url(),
            *(
                ticket.get_tracking_url() + a + "/"
                for a in ("solved", "reopen", "rate", "escalate")
            ),
        ],
        customer: ["/accounts/logout/", ticket.get_tracking_url()],
        agent1: [
            f"/agent/tickets/{ticket.reference}/{action}/"
            for action in ("claim", "reply", "escalate", "resolve")
        ],
    }
    tried = set()
    for user, paths in pages.items():
        browser = Client()
        if user is not None:
            browser.force_login(user)
        targets = [t for p in paths for t in _post_forms(browser, p)]
        targets += [(p, {"body": "hello there"}) for p in known.get(user, [])]
        attacker = Client(enforce_csrf_checks=True)
        if user is not None:
            attacker.force_login(user)  # the victim's session cookie rides along
        for action, fields in targets:
            fields = {k: v for k, v in fields.items() if k != "csrfmiddlewaretoken"}
            response = attacker.post(action, fields)
            assert response.status_code == 403, (user, action, response.status_code)
            assert "Reload the page and try again" in response.content.decode()
            tried.add(action)
    assert len(tried) >= 14, tried


@pytest.mark.django_db
def test_every_post_form_rendered_carries_a_csrf_token(make_ticket, agent1, customer):
    ticket = make_ticket(requester=customer)
    for user, path in [
        (None, "/tickets/new/"),
        (None, ticket.get_tracking_url()),
        (None, "/accounts/login/"),
        (agent1, f"/agent/tickets/{ticket.reference}/"),
    ]:
        browser = Client()
        if user:
            browser.force_login(user)
        page = browser.get(path).content.decode()
        forms = re.findall(r"<form\b[^>]*method=\"post\"[^>]*>.*?</form>", page, re.S | re.I)
        assert forms, path
        for form in forms:
            assert 'name="csrfmiddlewaretoken"' in form, (path, form[:200])


def _template_files() -> list[Path]:
    return sorted(p for p in TEMPLATES.rglob("*.html") if "emails" not in p.parts)


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>\s*\S", re.I)
INLINE_HANDLER = re.compile(r"<[a-z][^>]*\s(on[a-z]+)\s*=", re.I | re.S)
JS_URL = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.I)


def test_no_template_has_inline_scripts_handlers_or_javascript_urls():
    offenders = []
    for path in _template_files():
        text = path.read_text()
        for pattern in (INLINE_SCRIPT, INLINE_HANDLER, JS_URL):
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {match.group(0)[:60]}")
    assert not offenders, "CSP forbids inline script:\n" + "\n".join(offenders)
    assert len(_template_files()) >= 10


def test_the_grep_catches_what_it_should():
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert INLINE_SCRIPT.search('<script type="module">\n import x </script>')
    assert not INLINE_SCRIPT.search('<script src="/static/a.js" defer></script>')
    assert INLINE_HANDLER.search('<button class="x" onclick="go()">')
    assert INLINE_HANDLER.search("<img src=x\n onerror=alert(1)>")
    assert not INLINE_HANDLER.search('<a href="/x" data-once>')
    assert JS_URL.search('<a href="javascript:alert(1)">')


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/tickets/new/", "/accounts/login/", "/kb/", "/nope/"])
def test_security_headers_on_every_page(client, path):
    response = client.get(path)
    csp = response["Content-Security-Policy"]
    directives = dict([*d.strip().split(" ", 1), ""][:2] for d in csp.split(";") if d.strip())
    assert directives["script-src"] == "'self'"
    assert "unsafe" not in csp
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]


def _production_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="helpdesk.example.com",
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
    )
    return env


def test_check_deploy_is_clean_in_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=_production_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_cookies_are_secure_and_http_only():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
        "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS >= 31536000, s.SESSION_COOKIE_SAMESITE, "
        "s.CSRF_COOKIE_SAMESITE, s.DEBUG)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=_production_env(),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.stdout.split() == ["True", "True", "True", "True", "True", "Lax", "Lax", "False"]


def test_production_refuses_to_start_without_a_secret_key():
    env = _production_env()
    del env["DJANGO_SECRET_KEY"]
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
