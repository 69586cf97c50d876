"""Signed e-mail thread tokens: what ties a reply to its ticket.

Every notification names the ticket it is about in two places a reply carries back:
its ``Message-ID`` (echoed in the reply's ``In-Reply-To``/``References``) and its
``Reply-To`` address (``support+<token>@…``, plus-addressing). Both hold the same
token: an audience letter, an id and an HMAC of the two, e.g. ``c123.9f2c…``.

* ``c`` + ticket id: mail to the customer; a reply is the customer's.
* ``s`` + ticket id: mail to staff; a reply is the sending agent's, if they may act.
* ``v`` + hand-off id: mail to a vendor; a reply is that hand-off's vendor update.

The token is the capability: only people who received our mail know it, so a forged
``From`` alone cannot post to a ticket. The HMAC (80 bits, keyed by ``SECRET_KEY``)
is lower-case hex because some mail systems lower-case local parts. Pure functions of
settings: ``tickets`` (outgoing) and ``emailchannel`` (incoming) both use them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from email.utils import parseaddr

from django.conf import settings

AUDIENCES = ("c", "s", "v")
_TOKEN = re.compile(r"(?<![0-9a-z])([csv])(\d{1,12})\.([0-9a-f]{20})(?![0-9a-f])", re.IGNORECASE)


@dataclass(frozen=True)
class ThreadToken:
    audience: str
    object_id: int

    @property
    def text(self) -> str:
        return f"{self.audience}{self.object_id}.{_mac(self.audience, self.object_id)}"


def _mac(audience: str, object_id: int) -> str:
    key = ("tierdesk.mailthread:" + settings.SECRET_KEY).encode()
    digest = hmac.new(key, f"{audience}{object_id}".encode(), hashlib.sha256).hexdigest()
    return digest[:20]


def token_for(audience: str, object_id: int) -> ThreadToken:
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r}")
    return ThreadToken(audience, int(object_id))


def tokens_in(text: str) -> list[ThreadToken]:
    """Every correctly signed token in ``text`` (headers, addresses), in order."""
    found: list[ThreadToken] = []
    for audience, object_id, mac in _TOKEN.findall(text or ""):
        audience = audience.lower()
        if hmac.compare_digest(mac.lower(), _mac(audience, int(object_id))):
            token = ThreadToken(audience, int(object_id))
            if token not in found:
                found.append(token)
    return found


def mail_domain() -> str:
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return address.rpartition("@")[2] or "tierdesk.local"


def message_id(token: ThreadToken, *, event_id: int | None = None) -> str:
    """Our ``Message-ID`` for a mail in this thread; without ``event_id``, the
    thread's root (every notification names it in ``References``)."""
    part = f"e{event_id}." if event_id is not None else ""
    return f"<td.{part}{token.text}@{mail_domain()}>"


def reply_address(token: ThreadToken) -> str | None:
    """The signed reply address, or ``None`` when no ``EMAIL_REPLY_ADDRESS`` pattern
    is configured (no inbound channel: replies would go nowhere)."""
    pattern = settings.EMAIL_REPLY_ADDRESS
    if not pattern:
        return None
    return pattern.replace("{token}", token.text)


def own_addresses() -> set[str]:
    """Addresses that are ours: mail from them is never answered (no loops)."""
    ours = {parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower()}
    ours.update(a.lower() for a in settings.EMAIL_OWN_ADDRESSES)
    return {a for a in ours if a}


def is_own_address(address: str) -> bool:
    address = (address or "").strip().lower()
    if not address:
        return False
    if address in own_addresses():
        return True
    pattern = settings.EMAIL_REPLY_ADDRESS.lower()
    if "{token}" in pattern:
        head, _, tail = pattern.partition("{token}")
        return address.startswith(head) and address.endswith(tail)
    return False
