"""Processes the test session started and left running.

Every process the suite starts (``up``, the dev servers it starts, brokers, Redis, PostgreSQL,
Temporal test servers) inherits SESSION_ENV from the test process, whose value is unique to this
session. At the end of the session any live process carrying it is a leftover: other sessions'
and other users' processes carry another value or none, so they are never matched or touched.
"""

from __future__ import annotations

import os
import time
import uuid

import psutil

SESSION_ENV = "ORCHESTRATOR_DYNAMIC_TEST_SESSION"


def mark_session() -> str:
    """Give this process (and so every child it starts from now on) a marker of its own.

    Idempotent within a process (a module imported twice keeps the marker); a test session
    started by a test gets its own, since the pid is part of it."""
    current = os.environ.get(SESSION_ENV, "")
    if current.startswith(f"{os.getpid()}-"):
        return current
    marker = f"{os.getpid()}-{uuid.uuid4().hex}"
    os.environ[SESSION_ENV] = marker
    return marker


def _carries(proc: psutil.Process, marker: str) -> bool:
    try:
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return proc.environ().get(SESSION_ENV) == marker
    except psutil.Error:  # gone, or not ours to read
        return False


def leftovers(marker: str, grace_s: float = 15.0) -> list[psutil.Process]:
    """Live processes started by this session, after ``grace_s`` for those already stopping
    (a dev server told by the kernel that its `up` died takes a few seconds to exit)."""
    me = os.getpid()
    deadline = time.monotonic() + grace_s
    while True:
        found = [p for p in psutil.process_iter() if p.pid != me and _carries(p, marker)]
        if not found or time.monotonic() >= deadline:
            return found
        time.sleep(0.25)


def describe(proc: psutil.Process) -> str:
    try:
        return f"pid {proc.pid}: {' '.join(proc.cmdline())[:200]}"
    except psutil.Error:
        return f"pid {proc.pid}"


def kill(procs: list[psutil.Process], marker: str) -> None:
    """SIGKILL each one, by pid, after checking again that it is still ours."""
    for proc in procs:
        if _carries(proc, marker):
            try:
                proc.kill()
            except psutil.Error:
                continue
    psutil.wait_procs(procs, timeout=10)
