"""The IMAP poller against a real dovecot: UID tracking across restarts and
crashes, flags and moves only after the commit, UIDVALIDITY, IDLE."""

from __future__ import annotations

import shutil
import ssl
import threading
import time

import pytest

from emailchannel import imap
from emailchannel.models import InboundMessage, MailboxState
from emailchannel.tasks import mailbox_poll as mailbox_poll_task
from tickets.models import Ticket

from .conftest import eml
from .servers import dovecot

pytestmark = [
    pytest.mark.skipif(shutil.which("dovecot") is None, reason="make test installs dovecot-imapd"),
]


def message(n: int) -> bytes:
    return (
        eml("html_only.eml")
        .replace(b"html-only.3f9a", f"imap-{n}".encode())
        .replace(b"Printer on floor 3", f"Printer {n} on floor 3".encode())
    )


@pytest.fixture
def server():
    with dovecot() as running:
        yield running


@pytest.mark.django_db
def test_a_poll_takes_every_new_message_in_then_flags_and_moves_it(
    server, settings, policies, category
):
    settings.EMAIL_INBOX_PROCESSED_FOLDER = "Processed"
    for n in range(3):
        server.append(message(n))
    report = imap.mailbox_poll(url=server.url, workers=1)
    assert report.fetched == 3 and report.outcomes == {"created": 3}
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == [
        f"Printer {n} on floor 3 prints blank pages" for n in range(3)
    ]
    assert server.uids("INBOX") == []
    assert len(server.uids("Processed", "SEEN")) == 3
    state = MailboxState.objects.get()
    assert state.last_uid == 3 and state.idle_supported
    assert set(InboundMessage.objects.values_list("source", flat=True)) == {"imap"}


@pytest.mark.django_db
def test_after_a_restart_nothing_is_read_twice_and_nothing_skipped(server, policies, category):
    server.append(message(1))
    assert imap.mailbox_poll(url=server.url, workers=1).fetched == 1
    assert server.uids("INBOX", "SEEN") == [1]  # flagged, left in place (no folder set)
    assert imap.mailbox_poll(url=server.url, workers=1).fetched == 0
    server.append(message(2))
    assert imap.mailbox_poll(url=server.url, workers=1).fetched == 1
    assert Ticket.objects.count() == 2


@pytest.mark.django_db
def test_a_crash_before_the_commit_reads_the_message_again(server, policies, category, monkeypatch):
    for n in range(3):
        server.append(message(n))
    real = imap.mail_ingest
    calls = []

    def dies_on_the_second(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real(**kwargs)

    monkeypatch.setattr(imap, "mail_ingest", dies_on_the_second)
    with pytest.raises(RuntimeError):
        imap.mailbox_poll(url=server.url, workers=1)
    assert MailboxState.objects.get().last_uid == 1
    assert server.uids("INBOX", "UNSEEN") == [2, 3]  # not flagged: never committed
    monkeypatch.setattr(imap, "mail_ingest", real)
    assert imap.mailbox_poll(url=server.url, workers=1).fetched == 2
    assert Ticket.objects.count() == 3


@pytest.mark.django_db
def test_a_crash_after_the_commit_does_not_post_twice(server, policies, category, monkeypatch):
    server.append(message(1))
    real = imap.mail_ingest

    def dies_after_commit(**kwargs):
        real(**kwargs)
        raise RuntimeError("killed before the flag")

    monkeypatch.setattr(imap, "mail_ingest", dies_after_commit)
    with pytest.raises(RuntimeError):
        imap.mailbox_poll(url=server.url, workers=1)
    monkeypatch.setattr(imap, "mail_ingest", real)
    assert server.uids("INBOX", "UNSEEN") == [1]
    assert imap.mailbox_poll(url=server.url, workers=1).fetched == 0
    assert Ticket.objects.count() == 1


@pytest.mark.django_db
def test_a_new_uidvalidity_rereads_without_duplicates(server, policies, category):
    server.append(message(1))
    imap.mailbox_poll(url=server.url, workers=1)
    MailboxState.objects.update(uidvalidity=1)  # as if the folder had been rebuilt
    report = imap.mailbox_poll(url=server.url, workers=1)
    assert report.fetched == 1 and report.outcomes == {"created": 1}  # the earlier outcome
    assert Ticket.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_idle_reads_new_mail_as_soon_as_it_arrives(server, policies, category):
    results = {}

    def poll():
        from django.db import connection

        try:
            results["report"] = imap.mailbox_poll(url=server.url, idle_seconds=6)
        finally:
            connection.close()  # the thread's own connection, or the test database stays busy

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(1.0)
    sent = time.monotonic()
    server.append(message(7))
    while not Ticket.objects.exists() and time.monotonic() - sent < 5:
        time.sleep(0.02)
    latency = time.monotonic() - sent
    poller.join(timeout=15)
    assert Ticket.objects.count() == 1
    assert latency < 2.0, latency  # announced by IDLE, not found by the next poll
    assert results["report"].idled and results["report"].fetched == 1


def test_the_beat_task_is_a_no_op_without_a_mailbox(settings):
    settings.EMAIL_INBOX_URL = ""
    assert mailbox_poll_task() == 0


def test_mailbox_urls_need_tls_unless_on_loopback():
    config = imap.mailbox_config("imaps://help%40example.com:p%3Ass@imap.example.com/Support")
    assert (config.host, config.port, config.user, config.password, config.folder, config.tls) == (
        "imap.example.com", 993, "help@example.com", "p:ss", "Support", "ssl",
    )  # fmt: skip
    assert imap.mailbox_config("imap://u:p@imap.example.com/?starttls=1").tls == "starttls"
    with pytest.raises(imap.MailboxConfigError, match="needs TLS"):
        imap.mailbox_config("imap://u:p@imap.example.com/INBOX")
    with pytest.raises(imap.MailboxConfigError):
        imap.mailbox_config("pop3://u:p@host/")


@pytest.mark.django_db(transaction=True)
def test_parallel_readers_post_each_message_once_even_after_a_crash(
    server, policies, category, monkeypatch
):
    for n in range(30):  # two chunks
        server.append(message(n))
    real = imap.mail_ingest
    calls = []

    def dies_in_the_second_chunk(**kwargs):
        calls.append(1)
        if len(calls) == 28:
            raise RuntimeError("worker killed")
        return real(**kwargs)

    monkeypatch.setattr(imap, "mail_ingest", dies_in_the_second_chunk)
    with pytest.raises(RuntimeError):
        imap.mailbox_poll(url=server.url, workers=4)
    assert MailboxState.objects.get().last_uid == 25  # the first chunk, whole
    monkeypatch.setattr(imap, "mail_ingest", real)
    report = imap.mailbox_poll(url=server.url, workers=4)
    assert report.fetched == 5
    assert Ticket.objects.count() == 30
    assert InboundMessage.objects.filter(outcome="created").count() == 30
    assert server.uids("INBOX", "UNSEEN") == []


@pytest.mark.django_db
def test_starttls_is_verified_against_the_configured_ca(settings, policies, category):
    with dovecot(tls=True) as server:
        server.append(message(1))
        url = server.url + "?starttls=1"
        # Not trusted by default: a self-signed server is refused, nothing is read.
        with pytest.raises(ssl.SSLCertVerificationError):
            imap.mailbox_poll(url=url, workers=1)
        settings.EMAIL_INBOX_CA_FILE = str(server.cert)
        assert imap.mailbox_poll(url=url, workers=1).fetched == 1
    assert Ticket.objects.count() == 1
