"""Settings: defaults with an empty environment, every family from env, clear errors, masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator_dynamic.domain.model import TaskType
from orchestrator_dynamic.settings import Settings, SettingsError, load_settings, masked

ENV_NAMES = [name.upper() for name in Settings.model_fields]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_are_the_embedded_setup() -> None:
    s = load_settings()
    assert s.temporal.embedded and s.temporal.port == 7233
    assert s.temporal.task_queue == "orchestration-tasks"
    assert s.kafka_bootstrap_servers == "" and s.store_url == "" and s.redis_cluster_nodes == ""
    assert s.sla_policy().min_timeout_ms == 60_000
    assert s.sla_policy().buffer_multiplier == 3.0
    assert (s.retry.attempts, s.retry.initial_ms, s.retry.backoff, s.retry.max_ms) == (
        3,
        1_000,
        2.0,
        60_000,
    )
    assert s.priority_weights().risk == 0.4
    assert s.ml_predictions_enabled  # as upstream: predictions on every ticket
    assert not s.opa_fail_open and s.opa_allowed_capabilities == []  # every one allowed
    assert s.task_types() == {
        "create": TaskType.EXECUTE,
        "update": TaskType.EXECUTE,
        "delete": TaskType.EXECUTE,
    }


def test_every_family_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "TEMPORAL_HOST": "temporal.prod",
        "TEMPORAL_PORT": "7000",
        "TEMPORAL_NAMESPACE": "neural-hive",
        "TEMPORAL_TASK_QUEUE": "q1",
        "KAFKA_BOOTSTRAP_SERVERS": "k1:9092,k2:9092",
        "KAFKA_CONSENSUS_TOPIC": "plans.in",
        "KAFKA_TICKETS_TOPIC": "tickets.out",
        "KAFKA_CONSUMER_GROUP_ID": "g",
        "MONGODB_URI": "mongodb://u:pw@m:27017",
        "MONGODB_DATABASE": "db",
        "REDIS_CLUSTER_NODES": "r1:6379,r2:6379",
        "SERVICE_REGISTRY_HOST": "registry",
        "SERVICE_REGISTRY_PORT": "50052",
        "SERVICE_REGISTRY_TIMEOUT_SECONDS": "1.5",
        "SERVICE_REGISTRY_MAX_RESULTS": "7",
        "SERVICE_REGISTRY_CACHE_TTL_SECONDS": "5",
        "ENABLE_INTELLIGENT_SCHEDULER": "false",
        "SCHEDULER_MAX_PARALLEL_TICKETS": "10",
        "SCHEDULER_PRIORITY_WEIGHTS": '{"risk": 0.5, "qos": 0.25, "sla": 0.25}',
        "SLA_TICKET_MIN_TIMEOUT_MS": "2000",
        "SLA_TICKET_TIMEOUT_BUFFER_MULTIPLIER": "2.5",
        "OPA_FAIL_OPEN": "true",
        "OPA_ALLOWED_CAPABILITIES": "a,b",
        "ML_ACCURACY_THRESHOLD": "0.9",
        "RETRY_MAX_ATTEMPTS": "5",
        "OTEL_EXPORTER_ENDPOINT": "http://otel:4317",
        "LOG_LEVEL": "debug",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s = load_settings()
    assert not s.temporal.embedded
    assert (s.temporal.host, s.temporal.port, s.temporal.namespace) == (
        "temporal.prod",
        7000,
        "neural-hive",
    )
    assert s.kafka_consensus_topic == "plans.in" and s.kafka_tickets_topic == "tickets.out"
    assert s.service_registry_timeout_seconds == 1.5 and s.service_registry_max_results == 7
    assert not s.enable_intelligent_scheduler and s.scheduler_max_parallel_tickets == 10
    assert s.priority_weights().risk == 0.5
    assert s.sla_policy().min_timeout_ms == 2000
    assert s.opa_fail_open and s.opa_allowed_capabilities == ["a", "b"]
    assert s.retry.attempts == 5 and s.log_level == "DEBUG"


def test_no_default_timeout_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A task without an estimate counts as 60,000 ms (the specification's rule), so a default
    timeout setting would mean nothing: SLA_DEFAULT_TIMEOUT_MS is gone, and ignored if set."""
    assert "sla_default_timeout_ms" not in Settings.model_fields
    monkeypatch.setenv("SLA_DEFAULT_TIMEOUT_MS", "1000")
    assert load_settings().sla_policy() == load_settings().sla_policy().__class__()


def test_task_type_aliases_replace_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASK_TYPE_ALIASES", '{" Provision ": "deploy", "scan": "VALIDATE"}')
    assert load_settings().task_types() == {
        "provision": TaskType.DEPLOY,
        "scan": TaskType.VALIDATE,
    }


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("API_PORT=9100\nDEMO_WORKER_FAILURE_RATE=0.25\n")
    s = load_settings()
    assert (s.api_port, s.demo_worker_failure_rate) == (9100, 0.25)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("API_PORT", "eighty"),
        ("SCHEDULER_PRIORITY_WEIGHTS", "{not json"),
        ("SCHEDULER_PRIORITY_WEIGHTS", '{"risk": -1, "qos": 0.3, "sla": 0.3}'),
        ("SCHEDULER_PRIORITY_WEIGHTS", '{"risk": 1}'),
        ("LOG_LEVEL", "loud"),
        ("DEMO_WORKER_FAILURE_RATE", "1.5"),
        ("API_TOKENS", '{"t": "root"}'),
        ("SLA_TICKET_MIN_TIMEOUT_MS", "0"),
        ("TASK_TYPE_ALIASES", '{"create": "TELEPORT"}'),
        ("TASK_TYPE_ALIASES", '["create"]'),
    ],
)
def test_invalid_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert f"{name}:" in str(err.value)


def test_masking_hides_secrets_and_url_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_URI", "mongodb://app:s3cret@mongo:27017/db")
    monkeypatch.setenv("STORE_URL", "postgresql://orch:hunter2@pg/orch")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "kafkapw")
    monkeypatch.setenv("API_TOKENS", '{"tok-admin": "admin", "tok-read": "read"}')
    shown = masked(load_settings())
    text = str(shown)
    for secret in ("s3cret", "hunter2", "kafkapw", "tok-admin", "tok-read"):
        assert secret not in text
    assert shown["MONGODB_URI"] == "mongodb://app:***@mongo:27017/db"
    assert shown["STORE_URL"] == "postgresql://orch:***@pg/orch"
    assert shown["KAFKA_SASL_PASSWORD"] == "***"
    assert shown["TEMPORAL_PORT"] == "7233"
    assert set(shown) == set(ENV_NAMES)
