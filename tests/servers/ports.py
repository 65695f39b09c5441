"""Free loopback ports for the servers the tests start, picked below the ephemeral range.

``bind(0)`` hands out a port from the kernel's ephemeral range, the range every outgoing
connection's local port is drawn from too. Between a test picking such a port and its server
binding it, a client connection anywhere in the suite can take it, and the server fails with
"address already in use" (seen with the Temporal dev server under `up`). Below that range a port
is only ever taken by a server that asks for it by number.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_LOWEST = 10_000  # above the well-known and most registered service ports
_handed_out: set[int] = set()  # one process never hands the same port out twice


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A port nothing listens on now and that no outgoing connection will take meanwhile."""
    top = _ephemeral_start()
    for _ in range(500):
        port = random.randrange(_LOWEST, top)
        if port not in _handed_out and port_is_free(port):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port between {_LOWEST} and {top}")
