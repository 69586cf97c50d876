"""What an API token may do: each endpoint names the scope a token needs for each
HTTP method (``token_scopes`` on the view), and one permission class
(``integrations.permissions.TokenHasScope``) enforces it on every endpoint.

Scopes bind tokens only: a browser session is the person themselves. A token never
gets more than its user could do; a scope only takes power away.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class TokenScope(models.TextChoices):
    READ = "read", _("read: tickets, comments, attachments, the knowledge base, who am I")
    TICKETS_WRITE = (
        "tickets:write",
        _("tickets:write: open tickets, reply, claim, escalate, resolve, change status, attach"),
    )
    KB_WRITE = "kb:write", _("kb:write: change the knowledge base (no API endpoint needs it yet)")
    REPORTS_READ = "reports:read", _("reports:read: the manager dashboard figures")


#: What every token could do before scopes existed (the migration gives existing
#: tokens exactly this).
ALL_SCOPES: tuple[str, ...] = tuple(TokenScope.values)

#: ``token_scopes`` of an endpoint whose writes change tickets.
TICKETS_WRITE_ON_POST = {"GET": TokenScope.READ, "POST": TokenScope.TICKETS_WRITE}


def required_scope(view: object, method: str) -> str | None:
    """The scope a token needs for ``method`` on ``view``: what the view declares in
    ``token_scopes``; a read (GET, HEAD, OPTIONS) needs the view's GET scope, or
    ``read``. ``None``: a write the view declares no scope for, which no token may do
    (an endpoint added without a scope fails closed)."""
    declared = getattr(view, "token_scopes", None) or {}
    method = method.upper()
    if method in declared:
        return str(declared[method])
    if method in SAFE_METHODS:
        return str(declared.get("GET", TokenScope.READ))
    return None
