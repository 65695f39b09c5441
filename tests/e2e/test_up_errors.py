"""`up` that cannot start says why in one line: what failed, where, which setting to change.

Exit code 2 when the configuration must change, 1 when a dependency is unreachable; never a
traceback, never the banner, never a secret.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.service import Service, free_port
from tests.e2e.test_up_process import one_error_line, servers_of
from tests.servers.kafka import TansuBroker

pytestmark = pytest.mark.e2e
SECRET = "s3cr3t-pw"


def refused(tmp_path: Path, env: dict[str, str]) -> tuple[int, str]:
    svc = Service(tmp_path / "data", env)
    done = svc.attempt()
    assert servers_of(svc.data_dir) == [], "the dev server stops with a refused start"
    assert SECRET not in done.stdout + done.stderr
    return done.returncode, one_error_line(done)


def test_unreachable_kafka(tmp_path: Path) -> None:
    where = f"127.0.0.1:{free_port()}"
    code, line = refused(tmp_path, {"KAFKA_BOOTSTRAP_SERVERS": where})
    assert code == 1
    assert "Kafka" in line and where in line and "KAFKA_BOOTSTRAP_SERVERS" in line, line


@pytest.fixture(scope="module")
def tansu() -> Iterator[TansuBroker]:
    broker = TansuBroker()
    broker.start()
    yield broker
    broker.stop()


def test_broker_without_idempotent_producers(tmp_path: Path, tansu: TansuBroker) -> None:
    env = {"KAFKA_BOOTSTRAP_SERVERS": tansu.bootstrap, "KAFKA_ENABLE_IDEMPOTENCE": "true"}
    code, line = refused(tmp_path, env)
    assert code == 2
    assert "idempotent" in line and tansu.bootstrap in line, line
    assert "KAFKA_ENABLE_IDEMPOTENCE=false" in line, line


def test_unreachable_postgresql_with_fail_closed_store(tmp_path: Path) -> None:
    port = free_port()
    url = f"postgresql://orchestrator:{SECRET}@127.0.0.1:{port}/audit"
    code, line = refused(tmp_path, {"STORE_URL": url, "STORE_FAIL_OPEN": "false"})
    assert code == 1
    assert f"postgresql://orchestrator:***@127.0.0.1:{port}/audit" in line, line
    assert "STORE_URL" in line and "STORE_FAIL_OPEN" in line, line


def test_unreachable_redis(tmp_path: Path) -> None:
    where = f"127.0.0.1:{free_port()}"
    code, line = refused(tmp_path, {"REDIS_CLUSTER_NODES": where, "REDIS_PASSWORD": SECRET})
    assert code == 1
    assert "Redis" in line and where in line and "REDIS_CLUSTER_NODES" in line, line


def test_unreachable_temporal_cluster(tmp_path: Path) -> None:
    port = free_port()
    code, line = refused(tmp_path, {"TEMPORAL_HOST": "127.0.0.1", "TEMPORAL_PORT": str(port)})
    assert code == 1
    assert f"Temporal at 127.0.0.1:{port}" in line and "TEMPORAL_HOST" in line, line


def test_taken_api_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    svc = Service(tmp_path / "data")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", svc.api_port))
        holder.listen()
        done = svc.attempt()
    assert done.returncode == 2
    line = one_error_line(done)
    assert f"127.0.0.1:{svc.api_port}" in line and "API_PORT" in line, line
    assert "pid " in line, "the holder (this test) is named"
    assert not (svc.data_dir / "temporal.db").exists(), "refused before the engine started"


def test_open_api_beyond_loopback_is_a_configuration_error(tmp_path: Path) -> None:
    code, line = refused(tmp_path, {"API_HOST": "0.0.0.0"})
    assert code == 2
    assert "API_TOKENS" in line, line


def test_the_banner_and_the_logs_mask_the_store_password(tmp_path: Path) -> None:
    """Fail-open: `up` starts with its PostgreSQL down, so the banner shows the store URL."""
    port = free_port()
    url = f"postgresql://orchestrator:{SECRET}@127.0.0.1:{port}/audit"
    svc = Service(tmp_path / "data", {"STORE_URL": url, "LOG_LEVEL": "DEBUG"})
    svc.start(demo_workers=0)
    assert svc.stop() == 0
    log = svc.log.read_text()
    assert f"postgresql://orchestrator:***@127.0.0.1:{port}/audit" in log
    assert SECRET not in log
