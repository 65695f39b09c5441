"""A real redis-server (or a small Redis Cluster) on free loopback ports, in a temp dir."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.servers.ports import free_port, port_is_free


def free_cluster_port() -> int:
    """A free port whose cluster-bus port (port + 10000) is free and valid too."""
    for _ in range(200):
        port = free_port()
        if port + 10_000 < 65_536 and port_is_free(port + 10_000):
            return port
    raise RuntimeError("no free port pair for a Redis cluster node")


def redis_binary() -> str:
    found = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(found).exists():
        raise RuntimeError("redis-server is not installed (Debian package redis-server)")
    return found


def _wait_ready(port: int, proc: subprocess.Popen[bytes], within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server on port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"redis-server on port {port} did not answer within {within_s}s")


def _start(workdir: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    args = [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir)]
    args += ["--save", "", "--appendonly", "no", *extra]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_ready(port, proc)
    return proc


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def redis_server() -> Iterator[int]:
    """Start one redis-server; yields its port."""
    with tempfile.TemporaryDirectory(prefix="redis-") as tmp:
        port = free_port()
        proc = _start(Path(tmp), port)
        try:
            yield port
        finally:
            _stop([proc])


@contextmanager
def redis_cluster(masters: int = 3) -> Iterator[list[int]]:
    """Start ``masters`` cluster-enabled servers and join them (no replicas); yields ports."""
    with tempfile.TemporaryDirectory(prefix="redis-cluster-") as tmp:
        procs, ports = [], []
        try:
            for i in range(masters):
                port = free_cluster_port()
                node_dir = Path(tmp) / str(i)
                node_dir.mkdir()
                procs.append(_start(node_dir, port, "--cluster-enabled", "yes"))
                ports.append(port)
            _create_cluster(ports)
            yield ports
        finally:
            _stop(procs)


def _create_cluster(ports: list[int]) -> None:
    cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
    nodes = [f"127.0.0.1:{p}" for p in ports]
    subprocess.run(
        [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
        check=True,
        capture_output=True,
        timeout=30,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        out = subprocess.run(
            [cli, "-p", str(ports[0]), "cluster", "info"],
            check=False,
            capture_output=True,
            timeout=5,
        ).stdout
        if b"cluster_state:ok" in out:
            return
        time.sleep(0.1)
    raise RuntimeError("the Redis cluster did not reach cluster_state:ok")
