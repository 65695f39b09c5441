"""Run `orchestrator-dynamic up` as a real process for end-to-end tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from orchestrator_dynamic.adapters.temporal_dev_server import RECORD_FILE, ServerRecord
from tests.servers.ports import free_port

BIN = Path(sys.executable).parent


class Service:
    """One `up` process on its own ports and data directory."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.api_port = free_port()
        self.env = {
            **os.environ,
            "TEMPORAL_PORT": str(free_port()),
            "TEMPORAL_UI_PORT": str(free_port()),
            "LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "up.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self, demo_workers: int = 4, timeout_s: float = 60) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(BIN / "orchestrator-dynamic"),
                    "up",
                    "--data-dir",
                    str(self.data_dir),
                    "--api-port",
                    str(self.api_port),
                    "--demo-workers",
                    str(demo_workers),
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"up exited early:\n{self.log.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"up did not answer in {timeout_s} s:\n{self.log.read_text()}")

    def stop(self, sig: int = signal.SIGINT, timeout_s: float = 30) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout_s)
        self.proc = None
        return code

    def kill(self) -> None:
        """SIGKILL `up`, as the OOM killer would."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self.proc = None

    def attempt(self, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
        """Run `up` expecting it to refuse to start: its exit code, stdout and stderr apart."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return subprocess.run(
            [
                str(BIN / "orchestrator-dynamic"),
                "up",
                "--data-dir",
                str(self.data_dir),
                "--api-port",
                str(self.api_port),
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def engine(self) -> ServerRecord | None:
        """The dev server `up` recorded as its own, if it runs (same pid, start time, database)."""
        record = ServerRecord.read(self.data_dir / RECORD_FILE)
        return record if record is not None and record.process() is not None else None

    def stop_engine(self) -> None:
        """Safety net for a test that failed half-way: stop the recorded dev server by pid."""
        record = ServerRecord.read(self.data_dir / RECORD_FILE)
        proc = record.process() if record is not None else None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(15)
            except psutil.TimeoutExpired:
                proc.kill()

    def cli(self, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "orchestrator-dynamic"), *args, "--api-url", self.url],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=self.env,
            check=False,
        )

    def cli_json(self, *args: str) -> tuple[int, Any]:
        proc = self.cli(*args, "--json")
        try:
            return proc.returncode, json.loads(proc.stdout)
        except ValueError as exc:
            raise AssertionError(f"not JSON: {proc.stdout!r} {proc.stderr!r}") from exc
