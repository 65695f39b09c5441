"""Local TCP ports `up` needs: bind them before announcing them, and say who holds a taken one."""

from __future__ import annotations

import errno
import socket

import psutil

from orchestrator_dynamic.domain.errors import OrchestratorError


class PortInUse(OrchestratorError):
    """A port `up` must listen on is held by another process (or cannot be bound at all)."""

    def __init__(self, role: str, host: str, port: int, holder: str | None, reason: str) -> None:
        self.role = role
        self.host = host
        self.port = port
        self.holder = holder
        self.reason = reason
        super().__init__(f"{role} port {host}:{port}: {reason}")


def describe(process: psutil.Process) -> str:
    """`pid 4242 (temporal server start-dev)`: enough to recognise and kill it."""
    try:
        words = process.cmdline()[:3] or [process.name()]
    except psutil.Error:
        return f"pid {process.pid}"
    words[0] = words[0].rsplit("/", 1)[-1]
    text = " ".join(words)
    return f"pid {process.pid} ({text if len(text) <= 60 else text[:59] + '…'})"


def port_holder(port: int) -> str | None:
    """The process listening on ``port``, when this user may see it (root sees everyone)."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.Error:
        return None
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            if conn.pid is None:
                return "a process of another user"
            try:
                return describe(psutil.Process(conn.pid))
            except psutil.Error:
                return f"pid {conn.pid}"
    return None


def bind(role: str, host: str, port: int) -> socket.socket:
    """A socket bound to host:port (not yet listening); PortInUse naming the holder otherwise.

    SO_REUSEADDR as every server sets it: a port left in TIME_WAIT by our previous run is free,
    a port another process listens on is not.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise PortInUse(role, host, port, None, f"cannot resolve {host!r}: {exc.strerror}") from exc
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            holder = port_holder(port)
            raise PortInUse(role, host, port, holder, "already in use") from exc
        raise PortInUse(role, host, port, None, exc.strerror or str(exc)) from exc
    return sock


def ensure_free(role: str, host: str, port: int) -> None:
    """PortInUse unless a server could bind host:port right now."""
    bind(role, host, port).close()


def listens_on(process: psutil.Process, port: int) -> bool:
    try:
        connections = process.net_connections(kind="tcp")
    except psutil.Error:
        return False
    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in connections)
