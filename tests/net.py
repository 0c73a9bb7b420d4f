"""Loopback networking helpers shared by the test harnesses."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago.

    Only for programs that must be told their port up front (the operator's health port,
    Prometheus' listen address): another process may take it before they bind it. Servers of
    our own bind port 0 instead."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
