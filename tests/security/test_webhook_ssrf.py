"""Security review #26, item 1: webhooks are not a server-side request forgery.

A manager can type any URL, so every address an internal service could have is
refused at save and again at delivery, in every spelling; the connection goes to the
address that was checked (no second lookup: DNS rebinding); on-premise receivers need
an explicit WEBHOOK_ALLOWED_NETWORKS; the log keeps a status and a short excerpt, and
errors are fixed phrases. The receiver is a real HTTP(S) server on loopback.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from integrations import egress
from integrations.models import Webhook, WebhookDelivery
from integrations.services import webhook_attempt

pytestmark = pytest.mark.django_db

HOST = "hooks.example.test"  # never in real DNS: each test says what it resolves to
PUBLIC_IP = "93.184.216.34"
REFUSED = "refused: internal address"


class Receiver:
    """An HTTP(S) server on 127.0.0.1 (a free port) that records what reaches it."""

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[dict] = []
        self.status = 200
        self.body = b"ok"
        self.headers: dict[str, str] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                receiver.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length),
                    }
                )
                self.send_response(receiver.status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(receiver.body)))
                self.end_headers()
                self.wfile.write(receiver.body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


class Answers(dict):
    def __init__(self) -> None:
        super().__init__()
        self.lookups: list[str] = []


@pytest.fixture
def resolver(monkeypatch):
    """``resolver[HOST] = ["127.0.0.1"]``: what getaddrinfo answers for a name (a list
    of answers is used up one per lookup, the last one repeating); ``lookups`` counts
    them. Every other name resolves as usual."""
    real = socket.getaddrinfo
    answers = Answers()
    lookups = answers.lookups

    def fake(host, port, family=0, type=0, proto=0, flags=0):
        if host in answers:
            lookups.append(host)
            queue = answers[host]
            ip = queue.pop(0) if len(queue) > 1 else queue[0]
            fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
            addr = (ip, port, 0, 0) if fam == socket.AF_INET6 else (ip, port)
            return [(fam, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", addr)]
        return real(host, port, family, type, proto, flags)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return answers


def deliver(url: str, make_ticket) -> WebhookDelivery:
    """One delivery attempt of a ticket.created event to ``url``."""
    hook = Webhook.objects.create(name="probe", url=url, events=["ticket.created"])
    event = make_ticket().events.get(kind="created")
    result = webhook_attempt(
        webhook_id=hook.pk,
        event_id=event.pk,
        event_type="ticket.created",
        delivery_id="6f1c6a52-8f5e-4a8e-9a57-2d1f1b0f7a10",
        attempt=1,
    )
    assert result.delivery is not None
    return result.delivery


def admin_add(client, url: str):
    return client.post(
        "/admin/integrations/webhook/add/",
        {
            "name": "Probe",
            "url": url,
            "events": ["ticket.created"],
            "is_active": "on",
            "secret": "s" * 64,
        },
    )


# ---------------------------------------------------------------------------
# Which addresses are internal
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.0.1", "172.31.255.254", "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",  # noqa: S104
        "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
        "::1", "::", "fd00::1", "fc00::1", "fe80::1", "ff02::1", "fec0::1",
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    ],
)  # fmt: skip
def test_internal_addresses_are_refused(address):
    assert not egress.address_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert egress.address_allowed(ipaddress.ip_address(address))


# ---------------------------------------------------------------------------
# At delivery: every spelling of loopback, against a live server on loopback
# ---------------------------------------------------------------------------

LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "2130706433",  # one decimal number
    "0x7f.1",  # hex and a short form
    "0x7f000001",
    "0177.0.0.1",  # octal
    "127.1",
    "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
    "[::ffff:7f00:1]",
    "localhost",
    "localhost.",  # the fully qualified spelling
    "LOCALHOST",
    "0.0.0.0",  # noqa: S104 - unspecified: Linux connects it to loopback
    "[::1]",
]


@pytest.mark.parametrize("spelling", LOOPBACK_SPELLINGS)
def test_every_spelling_of_loopback_is_refused_at_delivery(receiver, make_ticket, spelling):
    delivery = deliver(f"http://{spelling}:{receiver.port}/hook", make_ticket)
    assert receiver.requests == []
    assert delivery.error == REFUSED
    assert delivery.status_code is None and not delivery.succeeded and not delivery.will_retry


def test_a_hostname_that_resolves_to_loopback_is_refused_at_delivery(
    admin_client, receiver, resolver, make_ticket
):
    # Public when the manager saves it, loopback by the time a delivery goes out.
    resolver[HOST] = [PUBLIC_IP]
    url = f"http://{HOST}:{receiver.port}/hook"
    assert admin_add(admin_client, url).status_code == 302
    resolver[HOST] = ["127.0.0.1"]
    delivery = deliver(url, make_ticket)
    assert receiver.requests == [] and delivery.error == REFUSED


def test_a_name_with_one_public_and_one_internal_address_is_refused(monkeypatch, make_ticket):
    def both(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_IP, port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", both)
    assert deliver(f"http://{HOST}/hook", make_ticket).error == REFUSED


def test_the_connection_goes_to_the_checked_address_with_no_second_lookup(
    settings, receiver, resolver, make_ticket
):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    # A second lookup would get an address nothing listens on (and that is refused).
    resolver[HOST] = ["127.0.0.1", "10.9.9.9"]
    delivery = deliver(f"http://{HOST}:{receiver.port}/hook?x=1", make_ticket)
    assert delivery.succeeded and delivery.status_code == 200
    assert resolver.lookups == [HOST]
    [request] = receiver.requests
    assert (
        request["headers"]["Host"] == f"{HOST}:{receiver.port}" and request["path"] == "/hook?x=1"
    )


# ---------------------------------------------------------------------------
# At save
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://LOCALHOST/hook",
        "http://localhost:6379/",  # Redis
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::1]:5432/",  # PostgreSQL
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/admin/",
        "http://[fd00::1]/",
        f"http://{HOST}/hook",  # resolves to 192.168.1.20
    ],
)
def test_internal_urls_are_refused_at_save(admin_client, resolver, url):
    resolver[HOST] = ["192.168.1.20"]
    response = admin_add(admin_client, url)
    assert response.status_code == 200
    assert "Refused: internal address" in response.content.decode()
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://localhost./hook",
    ],
)
def test_spellings_the_url_field_does_not_take_are_refused_at_save(admin_client, url):
    # Django's URL validation already says "Enter a valid URL." for these; the
    # delivery refuses them too (test_every_spelling_of_loopback_is_refused_at_delivery).
    response = admin_add(admin_client, url)
    assert response.status_code == 200 and not Webhook.objects.exists()
    assert b"errorlist" in response.content


def test_a_public_receiver_is_accepted_and_an_unknown_host_is_not(admin_client, resolver):
    resolver[HOST] = [PUBLIC_IP]
    assert admin_add(admin_client, f"https://{HOST}/hook").status_code == 302
    missing = admin_add(admin_client, "https://no-such-host.invalid/hook")
    assert "The host name does not resolve." in missing.content.decode()
    assert Webhook.objects.count() == 1


# ---------------------------------------------------------------------------
# The allow-list for on-premise receivers
# ---------------------------------------------------------------------------


def test_allowed_networks_let_an_on_premise_receiver_through(
    settings, admin_client, receiver, make_ticket
):
    url = f"http://127.0.0.1:{receiver.port}/hook"
    assert admin_add(admin_client, url).status_code == 200  # refused by default
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    assert admin_add(admin_client, url).status_code == 302
    delivery = deliver(url, make_ticket)
    assert delivery.succeeded and len(receiver.requests) == 1
    # Only the listed networks: the rest of the internal space stays closed.
    assert not egress.address_allowed(ipaddress.ip_address("10.0.0.1"))
    assert egress.address_allowed(ipaddress.ip_address("::ffff:127.0.0.1"))


def test_a_mistyped_allow_list_fails_the_system_check(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["10.0.0.0/8", "intranet"]
    with pytest.raises(SystemCheckError, match="'intranet' is not an IP network"):
        call_command("check")


# ---------------------------------------------------------------------------
# What is stored, what errors say, redirects
# ---------------------------------------------------------------------------


@pytest.fixture
def allow_loopback(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]


def test_only_a_short_clearly_truncated_excerpt_of_the_answer_is_stored(
    allow_loopback, receiver, make_ticket
):
    receiver.body = b"SECRET-" * 1000
    delivery = deliver(f"http://127.0.0.1:{receiver.port}/hook", make_ticket)
    assert delivery.status_code == 200
    assert len(delivery.response_body) <= egress.EXCERPT_BYTES + len(egress.TRUNCATED)
    assert delivery.response_body.endswith("[truncated]")


def test_errors_are_fixed_phrases_not_socket_text(allow_loopback, make_ticket):
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    delivery = deliver(f"http://127.0.0.1:{port}/hook", make_ticket)
    assert delivery.error == "could not connect"
    assert delivery.will_retry


def test_redirects_are_answers_never_followed(allow_loopback, receiver, make_ticket):
    receiver.status = 302
    receiver.headers = {"Location": f"http://127.0.0.1:{receiver.port}/elsewhere"}
    delivery = deliver(f"http://127.0.0.1:{receiver.port}/hook", make_ticket)
    assert [r["path"] for r in receiver.requests] == ["/hook"]
    assert delivery.status_code == 302 and not delivery.succeeded and not delivery.will_retry


# ---------------------------------------------------------------------------
# HTTPS: pinned to the checked address, certificate checked for the host name
# ---------------------------------------------------------------------------


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.mark.parametrize(
    ("certified_name", "succeeds"), [(HOST, True), ("other.example.test", False)]
)
def test_https_is_pinned_and_verifies_the_certificate_for_the_host_name(
    tmp_path, monkeypatch, allow_loopback, resolver, make_ticket, certified_name, succeeds
):
    cert, key = _certificate(tmp_path, certified_name)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    seen_sni: list[str | None] = []
    server_tls.sni_callback = lambda sock, name, ctx: seen_sni.append(name)
    tls_receiver = Receiver(tls=server_tls)
    # The client trusts exactly this certificate, and still checks its name.
    monkeypatch.setattr(egress, "tls_context", lambda: ssl.create_default_context(cafile=cert))
    resolver[HOST] = ["127.0.0.1"]
    try:
        delivery = deliver(f"https://{HOST}:{tls_receiver.port}/hook", make_ticket)
    finally:
        tls_receiver.close()
    assert seen_sni == [HOST]
    if succeeds:
        assert delivery.succeeded and len(tls_receiver.requests) == 1
    else:
        assert tls_receiver.requests == []
        assert delivery.error == "TLS: the certificate is not valid for this host"
