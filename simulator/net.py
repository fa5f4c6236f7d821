"""Loopback-only networking helpers for the simulator and tests."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port free on loopback right now (the OS picks it)."""
    if not host.startswith("127."):
        raise ValueError(f"host: loopback only, got {host!r}")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
