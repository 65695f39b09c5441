"""The newcomer path, process by process: `up`, submit, Ctrl-C, SIGKILL, `up` again.

The embedded Temporal dev server belongs to the data directory and to the `up` that started it:
it stops with `up` however `up` ends, a later `up` never uses a server it did not start, and a
port held by anything else is refused in one line.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from orchestrator_dynamic.adapters.temporal_dev_server import (
    MARKER_ENV,
    RECORD_FILE,
    ServerRecord,
    TemporalDevServer,
)
from tests.conftest import DECISIONS
from tests.e2e.service import BIN, Service, free_port

pytestmark = pytest.mark.e2e


def gone(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def servers_of(data_dir: Path) -> list[int]:
    """Dev servers started for this data directory (marked in their environment), alive."""
    db = str((data_dir / "temporal.db").absolute())
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.status() != psutil.STATUS_ZOMBIE and proc.environ().get(MARKER_ENV) == db:
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "is up" not in done.stdout, done.stdout
    return lines[0]


@contextmanager
def dev_server(db_file: Path, port: int, ui_port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A Temporal dev server this test starts itself (so not `up`'s), stopped by pid."""
    server = TemporalDevServer(db_file, port=port, ui_port=ui_port)
    db_file.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(server.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not any(
            c.status == psutil.CONN_LISTEN and c.laddr.port == port
            for c in psutil.Process(proc.pid).net_connections(kind="tcp")
        ):
            assert proc.poll() is None and time.monotonic() < deadline, "dev server did not start"
            time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_newcomer_path_ctrl_c_then_sigkill_then_up_again(tmp_path: Path) -> None:
    svc = Service(tmp_path / "newcomer")
    try:
        svc.start(demo_workers=4)
        record = svc.engine()
        assert record is not None and record.port == int(svc.env["TEMPORAL_PORT"])
        assert svc.proc is not None and record.owner == svc.proc.pid
        code, doc = svc.cli_json("submit", str(DECISIONS / "approve-5-task-dag.json"), "--wait")
        assert (code, doc["status"]) == (0, "COMPLETED"), doc

        # Ctrl-C: everything stops, the engine first confirmed gone by pid, nothing left over.
        assert svc.stop(signal.SIGINT) == 0
        log = svc.log.read_text()
        assert log.count("Orchestrator Dynamic is up") == 1 and "stopped" in log
        assert gone(record.pid, 5), "the dev server outlived Ctrl-C"
        assert not (svc.data_dir / RECORD_FILE).exists()
        assert servers_of(svc.data_dir) == []

        # SIGKILL of `up`: the kernel stops its dev server; nobody else has to.
        svc.start()
        killed = svc.engine()
        assert killed is not None and killed.pid != record.pid
        svc.kill()
        assert gone(killed.pid, 15), "the dev server outlived a SIGKILL of `up`"

        # `up` again starts cleanly on the same data: a new server of its own, the old workflow.
        svc.start()
        again = svc.engine()
        assert again is not None and again.pid != killed.pid
        assert svc.cli_json("status", doc["workflow_id"])[1]["status"] == "COMPLETED"
        assert servers_of(svc.data_dir) == [again.pid]
        assert svc.stop(signal.SIGINT) == 0
        assert gone(again.pid, 5) and servers_of(svc.data_dir) == []
    finally:
        if svc.proc is not None:
            svc.stop()
        svc.stop_engine()


def test_sigterm_stops_everything_too(tmp_path: Path) -> None:
    svc = Service(tmp_path / "term")
    svc.start(demo_workers=0)
    record = svc.engine()
    assert record is not None
    assert svc.stop(signal.SIGTERM) == 0
    assert gone(record.pid, 5) and servers_of(svc.data_dir) == []


def test_a_server_started_for_another_data_dir_is_refused_not_reused(tmp_path: Path) -> None:
    svc = Service(tmp_path / "mine")
    port = int(svc.env["TEMPORAL_PORT"])
    with dev_server(tmp_path / "theirs" / "temporal.db", port, free_port()) as foreign:
        done = svc.attempt()
        assert foreign.poll() is None, "a server `up` did not start must be left alone"
    assert done.returncode == 2
    line = one_error_line(done)
    assert f"127.0.0.1:{port}" in line and f"pid {foreign.pid}" in line, line
    assert "TEMPORAL_PORT" in line, line
    assert servers_of(svc.data_dir) == []


def test_a_server_left_by_a_killed_up_is_stopped_and_replaced(tmp_path: Path) -> None:
    """Where the parent-death signal cannot be armed (not Linux), a killed `up` leaves its server
    running. Stand-in for that: the test starts the server exactly as `up` does and writes the
    record a killed `up` leaves; the next `up` must stop it by pid and start its own."""
    svc = Service(tmp_path / "orphan")
    port, ui_port = int(svc.env["TEMPORAL_PORT"]), int(svc.env["TEMPORAL_UI_PORT"])
    db_file = (svc.data_dir / "temporal.db").absolute()
    with dev_server(db_file, port, ui_port) as orphan:
        started = psutil.Process(orphan.pid).create_time()
        dead_owner = 2**22 + 1  # above pid_max's default: no live `up`
        ServerRecord(orphan.pid, started, port, ui_port, str(db_file), dead_owner).write(
            svc.data_dir / RECORD_FILE
        )
        try:
            svc.start(demo_workers=0)
            assert orphan.wait(15) is not None, "the orphan was not stopped"
            record = svc.engine()
            assert record is not None and record.pid != orphan.pid
            assert svc.proc is not None and record.owner == svc.proc.pid
        finally:
            if svc.proc is not None:
                assert svc.stop() == 0


def test_a_second_up_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    first = Service(tmp_path / "shared")
    first.start(demo_workers=0)
    try:
        second = Service(tmp_path / "shared")
        done = second.attempt()
        assert done.returncode == 2
        line = one_error_line(done)
        assert first.proc is not None and f"pid {first.proc.pid}" in line, line
        assert "DATA_DIR" in line, line
        assert first.engine() is not None, "the first `up` keeps its server"
    finally:
        assert first.stop() == 0


def test_ctrl_c_while_starting_leaves_nothing_behind(tmp_path: Path) -> None:
    """Ctrl-C as soon as the dev server is spawned (`up` still starting): exit 0, nothing left."""
    svc = Service(tmp_path / "early")
    svc.data_dir.mkdir(parents=True)
    with open(svc.log, "ab") as log:
        svc.proc = subprocess.Popen(
            [str(BIN / "orchestrator-dynamic"), "up", "--data-dir", str(svc.data_dir)],
            env={**svc.env, "API_PORT": str(svc.api_port)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while (record := ServerRecord.read(svc.data_dir / RECORD_FILE)) is None:
        assert svc.proc.poll() is None and time.monotonic() < deadline, svc.log.read_text()
        time.sleep(0.02)
    assert svc.stop(signal.SIGINT) == 0, svc.log.read_text()
    assert gone(record.pid, 5) and servers_of(svc.data_dir) == []
    assert "Traceback" not in svc.log.read_text()
