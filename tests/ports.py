"""Loopback ports for the servers tests start."""

from __future__ import annotations

import socket


def ephemeral_port() -> int:
    """A port the kernel has just handed out and released; another process could take
    it before the caller binds, which on loopback in a test run does not happen in practice."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
