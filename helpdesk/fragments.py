"""Render a template fragment once and serve it to many requests of the same viewer,
with every per-request piece left out of the stored HTML.

``render_fragment`` renders a template with every ``{% csrf_token %}`` (and every named
slot) replaced by a marker: a random nonce drawn for that rendering, so text typed by
a user (escaped, or sanitized Markdown) cannot forge one, and it can never match a
marker of another fragment. ``fill`` puts the requester's own token
(``django.middleware.csrf.get_token``, which also makes the response set the CSRF
cookie) and the live slot HTML in on every response. A stored fragment therefore never
carries a token, so no token is ever shared between users or served stale.

The fragment is a small dict (plain strings) so it can be cached as is.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

CSRF = "csrf"


def render_fragment(
    template_name: str,
    context: dict[str, Any],
    request: HttpRequest | None,
    slots: tuple[str, ...] = (),
) -> dict[str, Any]:
    """``template_name`` rendered with ``csrf_token`` and each of ``slots`` (context
    names the template prints with ``{{ name }}``) as markers. The view context wins
    over the context processors (``make_context`` pushes it on top), so the CSRF
    context processor's lazy token is never evaluated here. Without a ``request`` no
    context processor runs: the fragment cannot show anything about the viewer, so it
    can be shared between viewers."""
    nonce = secrets.token_hex(12)
    markers = {name: f"fragment-{name}-{nonce}" for name in (CSRF, *slots)}
    html = render_to_string(
        template_name,
        {**context, "csrf_token": markers[CSRF], **{n: markers[n] for n in slots}},
        request=request,
    )
    return {"markers": markers, "html": html}


def fill(fragment: dict[str, Any], request: HttpRequest, **slots: str) -> SafeString:
    """The fragment's HTML with the requester's CSRF token and the live ``slots``
    (already escaped HTML) in place of their markers."""
    html = fragment["html"]
    markers = fragment["markers"]
    if markers[CSRF] in html:
        html = html.replace(markers[CSRF], get_token(request))
    for name, value in slots.items():
        html = html.replace(markers[name], value)
    return mark_safe(html)  # rendered by our templates; slot values are escaped HTML
