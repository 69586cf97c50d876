"""The IMAP door: read new messages by UID, take each in, then flag (or move) it.

* **Nothing read twice, nothing skipped**: the last UID taken in is stored per
  mailbox (``MailboxState``). One reader (``EMAIL_IMAP_WORKERS=1``) advances it in
  the transaction that records the message: a crash before that commit reads the
  message again, a crash after it never does. Several (the default, 4 threads) take
  a chunk of 25 in at once and advance it when the whole chunk is committed: a crash
  before reads the chunk again, and the Message-ID record (unique) makes the
  messages already committed no-ops, so none is posted twice. A new
  ``UIDVALIDITY`` (the folder was rebuilt) starts over from UID 1; the Message-ID
  record keeps that from posting anything twice.
* **Moved or flagged only after the commit**: ``\\Seen`` (and the move to
  ``EMAIL_INBOX_PROCESSED_FOLDER``) come after ``mail_ingest`` returned.
* **One reader per mailbox**: a PostgreSQL advisory lock; a second poll (two beats,
  a slow IDLE) returns at once.
* **IDLE** where the server offers it: after a pass the poller waits up to
  ``idle_seconds`` for the server to announce new mail, and reads it at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import imaplib
import logging
import re
import select
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .models import InboundMessage, MailboxState
from .services import mail_ingest

logger = logging.getLogger(__name__)
FETCH_CHUNK = 25


class MailboxConfigError(ValueError):
    pass


@dataclass(frozen=True)
class MailboxConfig:
    host: str
    port: int
    user: str
    password: str
    folder: str
    tls: str  # "ssl", "starttls" or "none"

    @property
    def key(self) -> str:
        return f"{self.host}:{self.port}/{self.user}/{self.folder}"[:300]


def mailbox_config(url: str) -> MailboxConfig:
    """``imaps://user:pass@host[:993]/INBOX``; ``imap://…?starttls=1``; plain
    ``imap://`` only for loopback servers (tests)."""
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname:
        raise MailboxConfigError("EMAIL_INBOX_URL must look like imaps://user:pass@host/INBOX")
    query = parse_qs(parts.query)
    starttls = query.get("starttls", ["0"])[0] in ("1", "true", "yes")
    tls = "ssl" if parts.scheme == "imaps" else ("starttls" if starttls else "none")
    if tls == "none" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise MailboxConfigError("A remote mailbox needs TLS: use imaps:// or ?starttls=1")
    return MailboxConfig(
        host=parts.hostname,
        port=parts.port or (993 if tls == "ssl" else 143),
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        folder=unquote(parts.path.lstrip("/")) or "INBOX",
        tls=tls,
    )


@dataclass
class PollReport:
    fetched: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    idled: bool = False
    locked_out: bool = False

    def count(self, outcome: str) -> None:
        self.fetched += 1
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


@contextlib.contextmanager
def _advisory_lock(key: str) -> Iterator[bool]:
    lock_id = int.from_bytes(
        hashlib.sha256(f"imap:{key}".encode()).digest()[:8], "big", signed=True
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_id])
        got = cursor.fetchone()[0]
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_id])


def _tls_context() -> ssl.SSLContext:
    # Certificates and host names are always verified; a private CA (an on-premise
    # Exchange) is added with EMAIL_INBOX_CA_FILE, never by turning checks off.
    return ssl.create_default_context(cafile=settings.EMAIL_INBOX_CA_FILE or None)


def _connect(config: MailboxConfig, timeout: float) -> imaplib.IMAP4:
    if config.tls == "ssl":
        client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
            config.host, config.port, ssl_context=_tls_context(), timeout=timeout
        )
    else:
        client = imaplib.IMAP4(config.host, config.port, timeout=timeout)
        if config.tls == "starttls":
            client.starttls(ssl_context=_tls_context())
    client.login(config.user, config.password)
    # Servers announce more after login (MOVE, IDLE…); imaplib keeps the first list.
    typ, data = client.capability()
    if typ == "OK" and data and data[0]:
        client.capabilities = tuple(data[0].decode().upper().split())
    return client


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


_UID = re.compile(rb"\bUID (\d+)")
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')


def _fetch(client: imaplib.IMAP4, uids: list[int]) -> list[tuple[int, bytes, datetime | None]]:
    typ, data = client.uid("FETCH", ",".join(map(str, uids)), "(UID INTERNALDATE BODY.PEEK[])")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"FETCH failed: {data!r}")
    found = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        head, body = item
        uid = _UID.search(head)
        if uid is None:
            continue
        when = _INTERNALDATE.search(head)
        arrived = None
        if when:
            parsed = imaplib.Internaldate2tuple(b'INTERNALDATE "' + when.group(1) + b'"')
            if parsed:
                arrived = datetime.fromtimestamp(time.mktime(parsed), tz=UTC)
        found.append((int(uid.group(1)), body, arrived))
    return sorted(found)


def _done_with(client: imaplib.IMAP4, uids: list[int], *, move_to: str, can_move: bool) -> None:
    """Flag (and move) messages whose records are committed: one command per chunk."""
    if not uids:
        return
    uid_set = ",".join(map(str, uids))
    client.uid("STORE", uid_set, "+FLAGS.SILENT", "(\\Seen)")
    if not move_to:
        return
    if can_move:
        client.uid("MOVE", uid_set, _quote(move_to))
    else:
        client.uid("COPY", uid_set, _quote(move_to))
        client.uid("STORE", uid_set, "+FLAGS.SILENT", "(\\Deleted)")
        client.expunge()


def _new_uids(client: imaplib.IMAP4, after: int) -> list[int]:
    typ, data = client.uid("SEARCH", None, f"UID {after + 1}:*")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"SEARCH failed: {data!r}")
    # "n:*" always matches the highest UID, even one below n: keep only new ones.
    return sorted(u for u in (int(x) for x in (data[0] or b"").split()) if u > after)


class _Readers:
    """``workers`` threads that take a fetched chunk in at once, each message in its
    own transaction on the thread's own database connection (ticket writes wait for
    each other on their row locks). The threads and their connections live for the
    whole poll and are closed at its end."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mail-reader")

    def take_in(self, items: list[tuple[int, bytes, datetime | None]]) -> dict[int, str]:
        """Each UID's outcome. The first error is raised once every message of the
        chunk has finished, so the caller advances nothing and the chunk is read
        again (the Message-ID record makes those already committed no-ops)."""

        def one(item: tuple[int, bytes, datetime | None]) -> str:
            _uid, raw, arrived = item
            return mail_ingest(
                raw=raw, source=InboundMessage.Source.IMAP, received_at=arrived
            ).outcome

        futures = {item[0]: self.pool.submit(one, item) for item in items}
        wait(futures.values())
        return {uid: future.result() for uid, future in futures.items()}

    def close(self) -> None:
        # One closing job per thread: the barrier holds each until all have one.
        barrier = threading.Barrier(self.workers)

        def close_connection() -> None:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=10)
            connection.close()

        for _ in range(self.workers):
            self.pool.submit(close_connection)
        self.pool.shutdown(wait=True)


def _pass(
    client: imaplib.IMAP4,
    state: MailboxState,
    config: MailboxConfig,
    report: PollReport,
    *,
    limit: int,
    readers: _Readers | None,
) -> int:
    uids = _new_uids(client, state.last_uid)[:limit]
    can_move = "MOVE" in client.capabilities
    move_to = settings.EMAIL_INBOX_PROCESSED_FOLDER
    for start in range(0, len(uids), FETCH_CHUNK):
        items = [
            i for i in _fetch(client, uids[start : start + FETCH_CHUNK]) if i[0] > state.last_uid
        ]
        if not items:
            continue
        if readers is not None:
            outcomes = readers.take_in(items)
            top = max(outcomes)
            # Advanced once the whole chunk is committed: a crash before re-reads it.
            MailboxState.objects.filter(pk=state.pk, last_uid__lt=top).update(
                last_uid=top, polled_at=timezone.now()
            )
            state.last_uid = top
            for uid in sorted(outcomes):
                report.count(outcomes[uid])
            _done_with(client, sorted(outcomes), move_to=move_to, can_move=can_move)
            continue
        for uid, raw, arrived in items:

            def advance(uid: int = uid) -> None:
                MailboxState.objects.filter(pk=state.pk, last_uid__lt=uid).update(
                    last_uid=uid, polled_at=timezone.now()
                )

            result = mail_ingest(
                raw=raw,
                source=InboundMessage.Source.IMAP,
                received_at=arrived,
                in_transaction=advance,
            )
            state.last_uid = uid
            report.count(result.outcome)
            _done_with(client, [uid], move_to=move_to, can_move=can_move)
    return len(uids)


def _idle(client: imaplib.IMAP4, seconds: float) -> bool:
    """Wait in IDLE (RFC 2177) until the server announces mail or ``seconds`` pass.
    ``select`` on the socket, not a socket timeout: a timed-out socket file cannot
    be read again."""
    tag = client._new_tag()
    client.send(tag + b" IDLE\r\n")
    if not client.readline().startswith(b"+"):
        return False
    sock = client.socket()
    announced = False
    deadline = time.monotonic() + seconds
    while not announced:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        pending = isinstance(sock, ssl.SSLSocket) and sock.pending()
        if not pending and not select.select([sock], [], [], remaining)[0]:
            break
        line = client.readline()
        if not line:
            raise imaplib.IMAP4.abort("connection closed during IDLE")
        announced = b"EXISTS" in line or b"RECENT" in line
    client.send(b"DONE\r\n")
    while True:
        line = client.readline()
        if not line or line.startswith(tag):
            break
    return True


def mailbox_poll(
    *,
    url: str | None = None,
    idle_seconds: float = 0.0,
    limit: int = 2000,
    timeout: float = 30.0,
    workers: int | None = None,
) -> PollReport:
    """Read and take in every new message of the configured mailbox; then, with
    ``idle_seconds``, keep reading new mail as IDLE announces it until that time has
    passed. A no-op without ``EMAIL_INBOX_URL``."""
    report = PollReport()
    url = url if url is not None else settings.EMAIL_INBOX_URL
    if not url:
        return report
    config = mailbox_config(url)
    workers = settings.EMAIL_IMAP_WORKERS if workers is None else workers
    with _advisory_lock(config.key) as got:
        if not got:
            report.locked_out = True
            return report
        client = _connect(config, timeout)
        readers = _Readers(workers) if workers > 1 else None
        try:
            typ, _data = client.select(_quote(config.folder))
            if typ != "OK":
                raise imaplib.IMAP4.error(f"cannot open folder {config.folder}")
            uidvalidity = int((client.response("UIDVALIDITY")[1] or [b"0"])[0] or 0)
            state, _created = MailboxState.objects.get_or_create(mailbox=config.key)
            idle_ok = "IDLE" in client.capabilities
            if state.uidvalidity != uidvalidity or state.idle_supported != idle_ok:
                if state.uidvalidity != uidvalidity:
                    if state.uidvalidity:
                        logger.warning(
                            "mailbox %s has a new UIDVALIDITY: reading it again", config.key
                        )
                    state.last_uid = 0
                state.uidvalidity, state.idle_supported = uidvalidity, idle_ok
                state.save(update_fields=["uidvalidity", "last_uid", "idle_supported"])
            deadline = time.monotonic() + idle_seconds
            _pass(client, state, config, report, limit=limit, readers=readers)
            while idle_ok and time.monotonic() < deadline:
                report.idled = True
                if _idle(client, deadline - time.monotonic()):
                    _pass(client, state, config, report, limit=limit, readers=readers)
                else:
                    break
            MailboxState.objects.filter(pk=state.pk).update(polled_at=timezone.now())
        finally:
            if readers is not None:
                readers.close()
            with contextlib.suppress(Exception):
                client.logout()
    return report
