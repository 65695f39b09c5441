"""A real PostgreSQL server for the tests: initdb into a temp dir, free loopback port, torn down.

PostgreSQL refuses to run as root, so when the tests run as root the data directory is owned by
the ``postgres`` user and every server command runs through ``runuser -u postgres``.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.servers.ports import free_port


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    return Path(initdb).parent


class PostgresServer:
    """One throwaway cluster; ``stop()``/``start()`` keep its data and port (outage tests)."""

    def __init__(self) -> None:
        self.port = free_port()
        self._bin = _bin_dir()
        self._root = Path(tempfile.mkdtemp(prefix="pg-test-"))
        self._data = self._root / "data"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self._root, "postgres", "postgres")
        self.running = False

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self._bin / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self._root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {done.stderr or done.stdout}\n{tail}")

    def init(self) -> PostgresServer:
        self._run("initdb", "-D", str(self._data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        return self.start()

    def start(self) -> PostgresServer:
        options = (
            f"-p {self.port} -k {self._root} -c listen_addresses=127.0.0.1 "
            # fsync off is safe here: an immediate stop still finds every committed write in WAL.
            "-c fsync=off -c full_page_writes=off"
        )
        log = str(self._root / "server.log")
        self._run("pg_ctl", "-D", str(self._data), "-l", log, "-o", options, "-w", "start")
        self.running = True
        return self

    def stop(self) -> None:
        """Fast shutdown: open connections are cut, as in a real outage."""
        if self.running:
            self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop")
            self.running = False

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self._root, ignore_errors=True)
