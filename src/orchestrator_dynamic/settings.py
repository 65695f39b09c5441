"""The only Settings: every environment variable the service reads, validated once at start.

Unset means the embedded default, so the service starts with no environment at all. Invalid values
raise SettingsError naming each variable. Adapters never see this object: the composition root
hands them plain values (the small value objects below).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from limits import parse
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from orchestrator_dynamic.domain.model import TaskType
from orchestrator_dynamic.domain.rules import SlaPolicy
from orchestrator_dynamic.domain.scoring import PriorityWeights
from orchestrator_dynamic.domain.task_types import DEFAULT_TASK_TYPE_ALIASES, alias_table

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The Rego policies ship inside the package, so an installed service finds them anywhere.
DEFAULT_POLICY_DIR = Path(__file__).parent / "policies"


def host_ports(spec: str) -> list[tuple[str, int]]:
    """``host:port,host:port`` -> [(host, port), ...]; the error names the bad entry."""
    nodes = []
    for entry in (part.strip() for part in spec.split(",")):
        if not entry:
            continue
        host, sep, port = entry.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{entry!r} is not host:port")
        nodes.append((host, int(port)))
    if not nodes:
        raise ValueError("no host:port given")
    return nodes


class SettingsError(ValueError):
    """One or more environment variables are invalid; the message names each one."""


@dataclass(frozen=True)
class TemporalConfig:
    host: str
    port: int
    namespace: str
    task_queue: str

    @property
    def embedded(self) -> bool:
        return not self.host


@dataclass(frozen=True)
class RetryConfig:
    attempts: int
    initial_ms: int
    backoff: float
    max_ms: int


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", case_sensitive=False, extra="ignore"
    )

    # -- workflow engine
    temporal_host: str = ""
    temporal_port: int = Field(7233, ge=1, le=65535)
    temporal_namespace: str = Field("default", min_length=1)
    temporal_task_queue: str = Field("orchestration-tasks", min_length=1)
    temporal_ui_port: int = Field(8233, ge=1, le=65535)

    # -- process, API, CLI
    data_dir: Path = Path(".data")
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    api_tokens: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    api_max_body_bytes: int = Field(1 << 20, ge=1024)

    # -- bus
    kafka_bootstrap_servers: str = ""
    kafka_consensus_topic: str = "plans.consensus"
    kafka_tickets_topic: str = "execution.tickets"
    kafka_results_topic: str = "execution.results"
    kafka_telemetry_topic: str = "telemetry.orchestration"
    kafka_incidents_topic: str = "orchestration.incidents"
    kafka_sla_alerts_topic: str = "sla.alerts"
    kafka_sla_violations_topic: str = "sla.violations"
    kafka_allocation_outcomes_topic: str = "ml.allocation_outcomes"
    kafka_dlq_topic: str = "plans.consensus.dlq"
    kafka_consumer_group_id: str = "orchestrator-dynamic"
    kafka_security_protocol: str = Field(
        "PLAINTEXT", pattern="^(PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL)$"
    )
    kafka_sasl_mechanism: str = ""
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: str = ""
    # Off only for brokers without idempotent producers (InitProducerId), e.g. some Kafka-protocol
    # brokers used in development.
    kafka_enable_idempotence: bool = True
    schema_registry_url: str = ""
    decision_hash_verify: bool = False
    # upstream task type -> ticket task type, e.g. {"create": "EXECUTE"}; replaces the default
    task_type_aliases: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_TASK_TYPE_ALIASES)
    )

    # -- store
    store_url: str = ""
    mongodb_uri: str = ""
    mongodb_database: str = "neural_hive_orchestration"
    store_fail_open: bool = True
    store_spool_replay_interval_seconds: float = Field(5.0, gt=0)
    # days to keep each collection's records, e.g. {"telemetry_buffer": 7}; absent = forever
    store_retention_days: Annotated[dict[str, float], NoDecode] = Field(default_factory=dict)

    # -- cache
    redis_cluster_nodes: str = ""
    redis_password: SecretStr = SecretStr("")

    # -- worker registry and scheduler
    service_registry_host: str = ""
    service_registry_port: int = Field(50051, ge=1, le=65535)
    service_registry_timeout_seconds: float = Field(3.0, gt=0)
    service_registry_max_results: int = Field(5, ge=1)
    service_registry_cache_ttl_seconds: float = Field(60.0, ge=0)
    service_registry_watch: bool = True  # WatchAgents empties the discovery cache on changes
    enable_intelligent_scheduler: bool = True
    scheduler_max_parallel_tickets: int = Field(100, ge=1)
    scheduler_priority_weights: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=lambda: {"risk": 0.4, "qos": 0.3, "sla": 0.3}
    )
    worker_heartbeat_degraded_seconds: float = Field(30.0, gt=0)
    worker_heartbeat_unhealthy_seconds: float = Field(90.0, gt=0)

    # -- SLA
    sla_ticket_min_timeout_ms: int = Field(60_000, ge=1)
    sla_ticket_timeout_buffer_multiplier: float = Field(3.0, gt=0)
    sla_deadline_warning_threshold: float = Field(0.8, gt=0, le=1)
    sla_budget_critical_threshold: float = Field(0.2, ge=0, le=1)
    sla_alert_deduplication_ttl_seconds: float = Field(300.0, ge=0)
    sla_proactive_monitoring_enabled: bool = True
    sla_check_interval_seconds: float = Field(30.0, gt=0)
    sla_slo_target: float = Field(0.99, gt=0, lt=1)
    sla_slo_targets: Annotated[dict[str, float], NoDecode] = Field(default_factory=dict)
    sla_slo_window_days: int = Field(30, ge=1, le=365)
    sla_management_enabled: bool = False
    sla_management_host: str = ""
    sla_management_port: int = Field(8000, ge=1, le=65535)
    sla_management_timeout_seconds: float = Field(2.0, gt=0)
    sla_management_cache_ttl_seconds: float = Field(10.0, ge=0)
    approval_timeout_seconds: float = Field(86_400.0, gt=0)

    # -- policy
    opa_enabled: bool = True
    opa_url: str = ""
    opa_policy_dir: Path = DEFAULT_POLICY_DIR
    opa_timeout_seconds: float = Field(2.0, gt=0)
    opa_cache_ttl_seconds: float = Field(30.0, ge=0)
    opa_circuit_breaker_failure_threshold: int = Field(5, ge=1)
    opa_circuit_breaker_reset_seconds: float = Field(30.0, gt=0)
    opa_fail_open: bool = False
    # empty = every capability is allowed; set, a ticket needing any other one is refused
    opa_allowed_capabilities: Annotated[list[str], NoDecode] = Field(default_factory=list)
    opa_max_cpu: str = Field("4000m", pattern=r"^\d+m?$")
    opa_max_memory: str = Field("8Gi", pattern=r"^\d+(Ki|Mi|Gi|Ti)?$")
    opa_max_concurrent_tickets: int = Field(100, ge=1)

    # -- ML
    # on, as upstream: every ticket gets predictions in C3 (a heuristic until a model is trained)
    ml_predictions_enabled: bool = True
    ml_model_registry_uri: str = ""
    ml_training_window_days: int = Field(30, ge=1)
    ml_min_training_samples: int = Field(100, ge=1)
    ml_anomaly_contamination: float = Field(0.05, gt=0, lt=0.5)
    ml_accuracy_threshold: float = Field(0.85, gt=0, le=1)
    # empty = the embedded registry (MLflow on SQLite in DATA_DIR/mlflow, no server)
    mlflow_tracking_uri: str = ""
    mlflow_experiment_name: str = "orchestrator-predictive-models"
    ml_training_interval_hours: float = Field(24.0, gt=0)
    ml_duration_error_threshold: float = Field(0.15, gt=0, lt=1)
    ml_anomaly_precision_threshold: float = Field(0.75, gt=0, lt=1)
    ml_model_cache_ttl_seconds: float = Field(3600.0, ge=0)
    ml_feature_cache_ttl_seconds: float = Field(3600.0, ge=0)
    ml_allocation_outcomes_enabled: bool = True
    ml_drift_window: int = Field(200, ge=10)

    # -- persistence retries
    retry_max_attempts: int = Field(3, ge=1)
    retry_initial_interval_ms: int = Field(1_000, ge=1)
    retry_backoff_coefficient: float = Field(2.0, ge=1)
    retry_max_interval_ms: int = Field(60_000, ge=1)

    # -- back-off between attempts of a failed ticket (frozen into each workflow when it starts)
    ticket_retry_initial_interval_ms: int = Field(1_000, ge=1)
    ticket_retry_backoff_coefficient: float = Field(2.0, ge=1)
    ticket_retry_max_interval_ms: int = Field(60_000, ge=1)

    # -- activity failures: a dependency outage is retried without limit (and shown); an
    # unexpected error (a bug) is retried this many attempts, then fails the workflow
    activity_unexpected_max_attempts: int = Field(5, ge=1)
    stuck_step_alert_seconds: float = Field(300.0, gt=0)

    # -- replicas: a loop that must run once (SLA monitor, ML training) runs in the replica
    # holding its lease (in Redis when REDIS_CLUSTER_NODES is set); a holder that stops renewing
    # loses it after this long
    lease_ttl_seconds: float = Field(15.0, ge=1)

    # -- observability
    otel_exporter_endpoint: str = ""
    otel_service_name: str = "orchestrator-dynamic"
    log_level: str = "INFO"
    log_format: str = Field("console", pattern="^(json|console)$")

    # -- simulated agents
    demo_worker_failure_rate: float = Field(0.0, ge=0, le=1)
    demo_worker_speed: float = Field(0.001, ge=0)

    # -- scheduler: among eligible workers scoring within this of the best, C3 prefers the one
    # on which the ticket's predicted completion meets its deadline (0 = the score alone)
    scheduler_deadline_score_tolerance: float = Field(0.05, ge=0, le=1)

    # -- API rate limits, per token (else per client address), per API replica
    api_rate_limit_enabled: bool = True
    api_rate_limit: str = "600/minute"  # operators' changes, the console's forms and sign-in
    api_rate_limit_workers: str = "6000/minute"  # workers' results and heartbeats
    api_rate_limit_decisions: str = "6000/minute"  # POST /decisions: a submitter's bursts

    # -- large plans: a decision whose JSON is larger starts its workflow by reference (kept in
    # the store; Temporal refuses payloads over 2 MB); 0 = always inside the start
    flow_plan_by_reference_bytes: int = Field(512_000, ge=0)
    # a run continues as new once its history grew by this many events or bytes (0 = never);
    # the engine refuses a history over 50 MB or 51,200 events
    flow_continue_as_new_events: int = Field(20_000, ge=0)
    flow_continue_as_new_bytes: int = Field(20_000_000, ge=0)

    # ------------------------------------------------------------ validators

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _tokens(cls, value: Any) -> Any:
        tokens = _json(value, "a JSON object of token -> read|admin|worker:<id>")
        shape = '{"<token>" | "sha256:<hex>": "read" | "admin" | "worker:<id>"}'
        if not isinstance(tokens, dict) or not all(
            isinstance(v, str) and _TOKEN_SCOPE.match(v) for v in tokens.values()
        ):
            raise ValueError(f"must be a JSON object like {shape}")
        for key in tokens:
            if key.startswith("sha256:") and not _DIGEST.match(key[len("sha256:") :]):
                raise ValueError(
                    "a sha256: entry needs the 64 hex digits of sha256sum of the token"
                )
        return tokens

    @field_validator("scheduler_priority_weights", mode="before")
    @classmethod
    def _weights(cls, value: Any) -> Any:
        weights = _json(value, 'a JSON object {"risk":…,"qos":…,"sla":…}')
        if not isinstance(weights, dict) or set(weights) != {"risk", "qos", "sla"}:
            raise ValueError('must have exactly the keys "risk", "qos" and "sla"')
        if any(not isinstance(v, int | float) or v < 0 for v in weights.values()):
            raise ValueError("weights must be non-negative numbers")
        return weights

    @field_validator("sla_slo_targets", mode="before")
    @classmethod
    def _slo_targets(cls, value: Any) -> Any:
        targets = _json(value, 'a JSON object {"<service>": <target between 0 and 1>}')
        if not isinstance(targets, dict) or any(
            isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v < 1
            for v in targets.values()
        ):
            raise ValueError('must map service names to targets between 0 and 1, e.g. {"x": 0.995}')
        return targets

    @field_validator("redis_cluster_nodes")
    @classmethod
    def _redis_nodes(cls, value: str) -> str:
        if value.strip():
            host_ports(value)  # raises naming the bad entry
        return value.strip()

    @field_validator("store_retention_days", mode="before")
    @classmethod
    def _retention(cls, value: Any) -> Any:
        from orchestrator_dynamic.services.retention import check_retention

        days = _json(value, 'a JSON object {"<collection>": <days>, ...}')
        if not isinstance(days, dict):
            raise ValueError('must be a JSON object like {"telemetry_buffer": 7}')
        return check_retention(days)

    @field_validator("opa_allowed_capabilities", mode="before")
    @classmethod
    def _capabilities(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip().startswith("["):
            return [c.strip() for c in value.split(",") if c.strip()]
        return _json(value, "a JSON list or a comma-separated list")

    @field_validator("task_type_aliases", mode="before")
    @classmethod
    def _task_type_aliases(cls, value: Any) -> Any:
        aliases = _json(value, 'a JSON object {"<upstream type>": "<ticket type>"}')
        if not isinstance(aliases, dict):
            raise ValueError('must be a JSON object like {"create": "EXECUTE"}')
        return {k: v.value for k, v in alias_table(aliases).items()}

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    @field_validator("api_rate_limit", "api_rate_limit_workers", "api_rate_limit_decisions")
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            parse(value)
        except ValueError as exc:
            raise ValueError(f"must be a rate like 600/minute: {exc}") from exc
        return value

    # ------------------------------------------------------------ value objects

    @property
    def temporal(self) -> TemporalConfig:
        return TemporalConfig(
            self.temporal_host,
            self.temporal_port,
            self.temporal_namespace,
            self.temporal_task_queue,
        )

    @property
    def retry(self) -> RetryConfig:
        return RetryConfig(
            self.retry_max_attempts,
            self.retry_initial_interval_ms,
            self.retry_backoff_coefficient,
            self.retry_max_interval_ms,
        )

    def sla_policy(self) -> SlaPolicy:
        return SlaPolicy(
            min_timeout_ms=self.sla_ticket_min_timeout_ms,
            buffer_multiplier=self.sla_ticket_timeout_buffer_multiplier,
        )

    def priority_weights(self) -> PriorityWeights:
        w = self.scheduler_priority_weights
        return PriorityWeights(risk=w["risk"], qos=w["qos"], sla=w["sla"])

    def task_types(self) -> dict[str, TaskType]:
        return alias_table(self.task_type_aliases)

    def redis_nodes(self) -> list[tuple[str, int]]:
        """REDIS_CLUSTER_NODES as (host, port) pairs; empty when Redis is not configured."""
        return host_ports(self.redis_cluster_nodes) if self.redis_cluster_nodes else []

    def api_tokens_map(self) -> dict[str, str]:
        return dict(self.api_tokens)

    def data_path(self, name: str) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir / name


def _json(value: Any, what: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value) if value.strip() else {}
    except json.JSONDecodeError as exc:
        raise ValueError(f"must be {what}: {exc.msg}") from exc


def load_settings(**overrides: Any) -> Settings:
    """Read the environment (and .env) once; SettingsError names every bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            name = str(err["loc"][0]).upper() if err["loc"] else "<settings>"
            lines.append(f"{name}: {err['msg']}")
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(lines)) from exc


_TOKEN_SCOPE = re.compile(r"^(read|admin|worker:\S.*)$")
_DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")

SECRET_NAMES = ("password", "token", "secret")


def masked(settings: Settings) -> dict[str, str]:
    """Every variable by its environment name with its effective value; secrets shown as ***."""
    out = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            text = "***" if value.get_secret_value() else ""
        elif name == "api_tokens":
            scopes = sorted(value.values())
            text = f"{len(scopes)} token(s): " + ", ".join(scopes) if scopes else "{}"
        elif isinstance(value, dict | list):
            text = json.dumps(value)
        else:
            text = _mask_url(str(value))
        out[name.upper()] = text
    return out


def _mask_url(text: str) -> str:
    """postgresql://user:pw@host/db -> postgresql://user:***@host/db."""
    if "://" not in text or "@" not in text:
        return text
    parts = urlsplit(text)
    if not parts.password:
        return text
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
