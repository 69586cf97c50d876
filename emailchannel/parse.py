"""From raw RFC 5322 bytes to what the help desk needs: who, about what, the new
text only (quotes and signature stripped), the files, and whether it is a machine
talking (auto-reply, bounce) that must never be answered.

Parsing uses the standard library's ``email`` with ``policy.default`` (RFC 2047
headers decoded, every charset decoded); quoted history and signatures are cut by
``mail-parser-reply`` (maintained, knows Outlook, Gmail and Apple Mail separators in a
dozen languages). HTML-only bodies become plain text here; the pages sanitize
whatever text they show (nh3), so no markup from a message reaches a browser.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.errors import (
    MultipartInvariantViolationDefect,
    NoBoundaryInMultipartDefect,
    StartBoundaryNotFoundDefect,
)
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

from mailparser_reply import EmailReplyParser

#: Languages whose reply headers ("On … wrote:", "Am … schrieb:") are recognised.
REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "sv", "da", "pl", "cs"]
#: Defects after which the parts of a multipart message cannot be trusted.
FATAL_DEFECTS = (
    StartBoundaryNotFoundDefect,
    NoBoundaryInMultipartDefect,
    MultipartInvariantViolationDefect,
)
_MSGID = re.compile(r"<[^<>\s]+>")
_BOUNCE_SENDERS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon)@", re.IGNORECASE)


class MalformedMessage(Exception):
    """The bytes are not a message we can read (the reason says why)."""


@dataclass
class MailFile:
    name: str
    content_type: str
    data: bytes
    inline: bool = False


@dataclass
class ParsedMail:
    message_id: str
    key: str
    sender: str
    sender_name: str
    subject: str
    recipients: list[str]
    in_reply_to: list[str]
    references: list[str]
    text: str
    reply: str
    files: list[MailFile] = field(default_factory=list)
    #: Why this is a machine's message, or "" for a person's.
    auto: str = ""
    bounce: bool = False
    #: Message-IDs of the mail a bounce is about (from its returned headers).
    bounced_ids: list[str] = field(default_factory=list)
    auth_results: list[str] = field(default_factory=list)
    date: Any = None

    @property
    def thread_ids(self) -> list[str]:
        return [*self.in_reply_to, *reversed(self.references)]


def _header(msg: EmailMessage, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a header the policy cannot parse: keep its raw text
        value = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), None)
    return str(value or "").strip()


def _raw_headers(msg: EmailMessage) -> dict[str, list[str]]:
    """Every header's undecoded values by lower-case name. The policy builds (and
    parses) a header object on every access, a millisecond a message for headers of
    which only the text matters here; From and Subject are still decoded by it."""
    found: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        found.setdefault(name.lower(), []).append(str(value).strip())
    return found


def _ids(text: str) -> list[str]:
    return _MSGID.findall(text or "")


def message_key(message_id: str, raw: bytes) -> str:
    basis = message_id.lower().encode() if message_id else b"raw:" + raw
    return hashlib.sha256(basis).hexdigest()


class _TextFromHtml(HTMLParser):
    BLOCK = {
        "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
        "blockquote", "pre", "table", "hr", "ul", "ol",
    }  # fmt: skip
    SKIP = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.SKIP:
            self._skip += 1
        elif tag in self.BLOCK:
            self.out.append("\n")
        if tag == "li":
            self.out.append("- ")
        if tag == "blockquote":
            self.out.append("> ")  # quoted history: the reply parser cuts from here

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skip = max(self._skip - 1, 0)
        elif tag in self.BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.out.append(data)


def html_to_text(html: str) -> str:
    parser = _TextFromHtml()
    parser.feed(html)
    parser.close()
    text = "".join(parser.out).replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _decode_text(part: EmailMessage) -> str:
    try:
        return part.get_content()
    except (LookupError, UnicodeDecodeError, ValueError, AssertionError):
        # An unknown or lying charset: the bytes as UTF-8 where they are, else Latin-1.
        data = part.get_payload(decode=True) or b""
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("latin-1")


def strip_reply(text: str) -> str:
    """The new text of a reply: quoted history and signature removed."""
    text = text.replace("\r\n", "\n").strip()
    if not text:
        return ""
    try:
        reply = EmailReplyParser(languages=REPLY_LANGUAGES).parse_reply(text)
    except Exception:  # the library's regular expressions met something odd: keep all
        return text
    return (reply or "").strip() or text


_EXT_BY_TYPE = {
    "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp",
    "application/pdf": "pdf", "text/plain": "txt", "text/csv": "csv",
    "application/zip": "zip",
}  # fmt: skip


def _auto_reason(msg: EmailMessage, sender: str, raw: dict[str, list[str]]) -> tuple[str, bool]:
    """(why it is automatic, whether it is a bounce)."""

    def _h(name: str) -> str:
        return (raw.get(name.lower()) or [""])[0]

    content_type = msg.get_content_type()
    report_type = (msg.get_param("report-type") or "").lower()
    if content_type == "multipart/report" and report_type in (
        "delivery-status",
        "disposition-notification",
    ):
        return f"report ({report_type})", report_type == "delivery-status"
    if _BOUNCE_SENDERS.match(sender):
        return "mailer daemon", True
    auto = _h("Auto-Submitted").lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}", False
    precedence = _h("Precedence").lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}", False
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if _h(name):
            return name, False
    if _h("X-MS-Exchange-Inbox-Rules-Loop"):
        return "Exchange inbox rule", False  # out-of-office and auto-forward rules
    if _h("List-Id") or _h("List-Unsubscribe"):
        return "mailing list", False
    return "", False


def _bounced_ids(msg: EmailMessage) -> list[str]:
    found: list[str] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, EmailMessage):
                found += _ids(_header(inner, "Message-ID"))
        elif ctype == "text/rfc822-headers":
            found += _ids(
                next(
                    (
                        line
                        for line in _decode_text(part).splitlines()
                        if line.lower().startswith("message-id:")
                    ),
                    "",
                )
            )
    return found


def parse_message(raw: bytes) -> ParsedMail:
    """Read one message; ``MalformedMessage`` when it cannot be read at all."""
    if not raw or not raw.strip():
        raise MalformedMessage("empty message")
    try:
        msg = message_from_bytes(raw, policy=policy.default)
    except Exception as exc:  # the parser is lenient; anything raised here is fatal
        raise MalformedMessage(f"unreadable: {type(exc).__name__}") from exc
    if not isinstance(msg, EmailMessage) or not msg.keys():
        raise MalformedMessage("no headers")
    fatal = [d for part in msg.walk() for d in part.defects if isinstance(d, FATAL_DEFECTS)]
    if fatal:
        raise MalformedMessage(f"broken MIME structure: {type(fatal[0]).__name__}")

    raw_headers = _raw_headers(msg)

    def first(name: str) -> str:
        return (raw_headers.get(name.lower()) or [""])[0]

    sender_name, sender = parseaddr(_header(msg, "From"))
    sender = sender.strip().lower()
    message_ids = _ids(first("Message-ID"))
    message_id = message_ids[0] if message_ids else ""
    recipients = [
        a.strip().lower()
        for _n, a in getaddresses(
            [
                v
                for h in ("delivered-to", "x-original-to", "to", "cc")
                for v in raw_headers.get(h, [])
            ]
        )
        if a and "@" in a
    ]
    auto, bounce = _auto_reason(msg, sender, raw_headers)

    text = ""
    try:
        body = msg.get_body(preferencelist=("plain", "html"))
        if body is not None:
            text = _decode_text(body)
            if body.get_content_type() == "text/html":
                text = html_to_text(text)
    except Exception as exc:
        raise MalformedMessage(f"unreadable body: {type(exc).__name__}") from exc

    files: list[MailFile] = []
    for index, part in enumerate(msg.walk()):
        if part.is_multipart() or part is body or part.get_content_maintype() == "message":
            continue
        name = part.get_filename()
        disposition = part.get_content_disposition()
        inline_image = part.get_content_maintype() == "image" and bool(part.get("Content-ID"))
        if not (name or disposition == "attachment" or inline_image):
            continue  # the other alternative of the body (text vs HTML)
        try:
            data = part.get_payload(decode=True) or b""
        except Exception:  # undecodable: kept empty, so the upload check names it
            data = b""
        ctype = part.get_content_type()
        if not name:
            name = f"inline-{index}.{_EXT_BY_TYPE.get(ctype, 'bin')}"
        files.append(
            MailFile(name=name, content_type=ctype, data=data, inline=disposition != "attachment")
        )

    try:
        date = parsedate_to_datetime(first("Date")) if first("Date") else None
    except (TypeError, ValueError):
        date = None
    return ParsedMail(
        message_id=message_id,
        key=message_key(message_id, raw),
        sender=sender,
        sender_name=(sender_name or "").strip()[:120],
        subject=re.sub(r"\s+", " ", _header(msg, "Subject")).strip()[:200],
        recipients=recipients,
        in_reply_to=_ids(first("In-Reply-To")),
        references=_ids(" ".join(raw_headers.get("references", []))),
        text=text.strip(),
        reply=strip_reply(text),
        files=files,
        auto=auto,
        bounce=bounce,
        bounced_ids=_bounced_ids(msg) if bounce else [],
        auth_results=raw_headers.get("authentication-results", []),
        date=date,
    )


def strip_subject_prefixes(subject: str) -> str:
    """ "Re: AW: Fwd: [TD-000123] Printer" → "[TD-000123] Printer"."""
    return re.sub(r"^(\s*(re|aw|sv|fw|fwd|wg|tr|rv)\s*(\[\d+\])?\s*:\s*)+", "", subject, flags=re.I)
