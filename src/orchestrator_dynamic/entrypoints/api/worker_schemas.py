"""API schemas of the worker registry routes (separate from the domain's WorkerProfile)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from orchestrator_dynamic.domain.model import SecurityLevel

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"


class TelemetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    success_rate: float = Field(1.0, ge=0, le=1, description="Share of tickets that succeeded.")
    duration_score: float = Field(0.5, ge=0, le=1, description="1 = always faster than estimated.")
    experience: float = Field(0.0, ge=0, le=1, description="How much work it has done, 0..1.")


class WorkerRegister(BaseModel):
    """A worker agent announces itself (again, after a restart: the last registration wins)."""

    model_config = ConfigDict(extra="forbid")

    worker_id: str = Field(pattern=ID_PATTERN)
    capabilities: list[str] = Field(min_length=1, max_length=100)
    namespace: str = Field("default", min_length=1, max_length=128)
    security_level: SecurityLevel = SecurityLevel.INTERNAL
    max_concurrent_tasks: int = Field(10, ge=1, le=100_000)
    telemetry: TelemetryIn = Field(default_factory=TelemetryIn)


class Heartbeat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active_tasks: int | None = Field(None, ge=0, description="Tickets it is working on now.")


class TelemetryOut(BaseModel):
    success_rate: float
    duration_score: float
    experience: float


class WorkerPublic(BaseModel):
    worker_id: str
    capabilities: list[str]
    health: str
    namespace: str
    security_level: str
    max_concurrent_tasks: int
    active_tasks: int
    telemetry: TelemetryOut
