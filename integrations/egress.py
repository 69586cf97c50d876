"""Outgoing HTTP to URLs that people type in (webhooks), without opening the help
desk's own network to them.

A manager registers a webhook URL and reads back what the receiver answered, so a
URL pointing inside (Redis, PostgreSQL, the cloud metadata service, an internal admin
API) would turn the delivery log into a probe. Every call therefore:

- resolves the host once and refuses it when *any* of its addresses is loopback,
  private (RFC 1918, ULA), link-local, multicast, unspecified, reserved or otherwise
  not globally routable; IPv4 inside IPv6 (``::ffff:a.b.c.d``, 6to4, NAT64) is judged
  by its IPv4 address, and the old numeric spellings (``2130706433``, ``0x7f.1``,
  ``0177.1``) are parsed here rather than left to the C library;
- connects to exactly the addresses it checked (no second lookup, so a DNS answer
  that changes between the check and the connection — DNS rebinding — cannot reach
  inside), while the ``Host`` header, TLS SNI and certificate verification still use
  the host name;
- never goes through an HTTP proxy (the proxy would do its own lookup) and never
  follows a redirect (it would re-send the signed body somewhere else);
- reports failures in a few fixed words, never the socket's own text (which tells an
  open port from a closed one).

``WEBHOOK_ALLOWED_NETWORKS`` (empty by default) lists the networks of on-premise
receivers that may be called even though they are internal.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: What the delivery log and the admin form say for an address that may not be called.
REFUSED_INTERNAL = "refused: internal address"
#: Bytes of the receiver's answer kept in the delivery log.
EXCERPT_BYTES = 256
TRUNCATED = " … [truncated]"

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NUMBER = re.compile(r"0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class EgressRefused(Exception):
    """The URL may not be called at all. The message is safe to store and show."""


class EgressFailed(Exception):
    """The call did not get an answer. The message is one of a few fixed phrases."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Answer:
    status: int
    #: At most EXCERPT_BYTES of the body as text, marked when there was more.
    excerpt: str


# ---------------------------------------------------------------------------
# Which addresses may be called
# ---------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _parse_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"WEBHOOK_ALLOWED_NETWORKS: {entry!r} is not an IP network (e.g. 10.20.0.0/16)."
            ) from exc
    return tuple(networks)


def allowed_networks() -> tuple[Network, ...]:
    """The networks of ``WEBHOOK_ALLOWED_NETWORKS`` (read on every call: settings
    overrides apply at once; the parse is cached)."""
    return _parse_networks(tuple(getattr(settings, "WEBHOOK_ALLOWED_NETWORKS", ()) or ()))


def _unwrap(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64), else ``ip``.
    ``::ffff:127.0.0.1`` reaches 127.0.0.1: it must be judged as 127.0.0.1."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def address_is_internal(ip: IPAddress) -> bool:
    """Loopback, private, link-local, multicast, unspecified, reserved or anything else
    that is not globally routable (carrier-grade NAT, documentation ranges, …)."""
    for candidate in {ip, _unwrap(ip)}:
        if (
            not candidate.is_global
            or candidate.is_private
            or candidate.is_loopback
            or candidate.is_link_local
            or candidate.is_multicast  # 224.0.0.0/4 counts as "global" in Python 3.11
            or candidate.is_unspecified
            or candidate.is_reserved
            or (isinstance(candidate, ipaddress.IPv6Address) and candidate.is_site_local)
        ):
            return True
    return False


def address_allowed(ip: IPAddress) -> bool:
    """Public addresses, and internal ones inside ``WEBHOOK_ALLOWED_NETWORKS``."""
    plain = _unwrap(ip)
    if any(plain in net for net in allowed_networks() if net.version == plain.version):
        return True
    return not address_is_internal(ip)


def _part(text: str) -> int:
    if text.startswith("0x"):
        return int(text[2:], 16)
    if len(text) > 1 and text.startswith("0"):
        return int(text, 8)
    return int(text)


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """``inet_aton``'s spellings: 1–4 dot-separated parts, each decimal, octal (``0…``)
    or hex (``0x…``), the last filling the remaining bytes (``127.1``, ``2130706433``,
    ``0x7f.1``). ``None`` when ``host`` is not one of them."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_NUMBER.fullmatch(p) for p in parts):
        return None
    try:
        values = [_part(p) for p in parts]
    except ValueError:  # a bare "0x"
        return None
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = 0
    for value in head:
        number = number << 8 | value
    return ipaddress.IPv4Address(number << 8 * (4 - len(head)) | last)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return _legacy_ipv4(host.rstrip(".").lower())


def _sockaddr(ip: IPAddress, port: int, scope: str = "") -> tuple[int, tuple]:
    ip = _unwrap(ip) if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip
    if isinstance(ip, ipaddress.IPv4Address):
        return socket.AF_INET, (str(ip), port)
    return socket.AF_INET6, (str(ip) + (f"%{scope}" if scope else ""), port, 0, 0)


def resolve(host: str, port: int) -> list[tuple[int, tuple]]:
    """``(family, sockaddr)`` of every address of ``host``, each one checked. Raises
    ``EgressRefused`` when any of them is internal (a name with one public and one
    internal address must not be a way in), ``EgressFailed`` when it does not resolve."""
    if not host:
        raise EgressRefused("refused: the URL names no host")
    literal = _literal(host)
    name = host.rstrip(".").lower()
    if literal is None and (name == "localhost" or name.endswith(".localhost")):
        # Loopback by definition (RFC 6761), whatever a resolver makes of "localhost.".
        literal = ipaddress.IPv4Address("127.0.0.1")
    if literal is not None:
        found: list[tuple[IPAddress, str]] = [(literal, "")]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError, OSError) as exc:
            raise EgressFailed("could not resolve the host name") from exc
        found = []
        for family, _type, _proto, _name, sockaddr in infos:
            if family not in (socket.AF_INET, socket.AF_INET6):
                continue
            text, _sep, scope = str(sockaddr[0]).partition("%")
            found.append((ipaddress.ip_address(text), scope))
        if not found:
            raise EgressFailed("could not resolve the host name")
    addresses: list[tuple[int, tuple]] = []
    for ip, scope in found:
        if not address_allowed(ip):
            raise EgressRefused(REFUSED_INTERNAL)
        entry = _sockaddr(ip, port, scope)
        if entry not in addresses:
            addresses.append(entry)
    return addresses


def _split(url: str) -> tuple[str, str, int, str]:
    """Scheme, host, port and request target of an http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise EgressRefused("refused: not a valid URL") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise EgressRefused("Only http and https URLs are called.")
    host = parts.hostname or ""
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port or (443 if scheme == "https" else 80), target


def check_url(url: str) -> None:
    """What a URL is checked against when it is saved (and again at every delivery)."""
    _scheme, host, port, _target = _split(url)
    resolve(host, port)


# ---------------------------------------------------------------------------
# Connecting to the checked address
# ---------------------------------------------------------------------------


def _connect(addresses: list[tuple[int, tuple]], timeout: float) -> socket.socket:
    last: OSError | None = None
    for family, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise last or OSError("no address")


class PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to ``addresses`` (already checked) for ``host``: the socket
    goes to the checked address, the Host header names the host."""

    def __init__(self, host: str, port: int, *, addresses: list, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses

    def connect(self) -> None:
        self.sock = _connect(self._addresses, self.timeout)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the checked address; SNI and certificate verification use the host name."""

    def __init__(
        self, host: str, port: int, *, addresses: list, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._addresses = addresses

    def connect(self) -> None:
        sock = _connect(self._addresses, self.timeout)
        try:
            self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def tls_context() -> ssl.SSLContext:
    """The system's trusted CAs, hostname checking on (tests substitute their own CA)."""
    return ssl.create_default_context()


def _excerpt(data: bytes) -> str:
    text = _CONTROL.sub("", data[:EXCERPT_BYTES].decode("utf-8", "replace"))
    return text + TRUNCATED if len(data) > EXCERPT_BYTES else text


def post(url: str, *, body: bytes, headers: Mapping[str, str], timeout: float) -> Answer:
    """POST ``body`` to ``url`` after checking where it goes; the answer's status and a
    short excerpt. Redirects are answers like any other (never followed)."""
    scheme, host, port, target = _split(url)
    addresses = resolve(host, port)
    if scheme == "https":
        connection: http.client.HTTPConnection = PinnedHTTPSConnection(
            host, port, addresses=addresses, timeout=timeout, context=tls_context()
        )
    else:
        connection = PinnedHTTPConnection(host, port, addresses=addresses, timeout=timeout)
    try:
        connection.request("POST", target, body=body, headers=dict(headers))
        response = connection.getresponse()
        data = response.read(EXCERPT_BYTES + 1)
        return Answer(response.status, _excerpt(data))
    except ssl.SSLCertVerificationError as exc:
        raise EgressFailed("TLS: the certificate is not valid for this host") from exc
    except ssl.SSLError as exc:
        raise EgressFailed("TLS handshake failed") from exc
    except TimeoutError as exc:
        raise EgressFailed("timed out") from exc
    except http.client.HTTPException as exc:
        raise EgressFailed("the answer was not valid HTTP") from exc
    except OSError as exc:
        raise EgressFailed("could not connect") from exc
    finally:
        connection.close()
