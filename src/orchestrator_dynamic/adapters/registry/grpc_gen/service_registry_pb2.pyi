from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HealthStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HEALTH_STATUS_UNSPECIFIED: _ClassVar[HealthStatus]
    HEALTHY: _ClassVar[HealthStatus]
    DEGRADED: _ClassVar[HealthStatus]
    UNHEALTHY: _ClassVar[HealthStatus]

class SecurityLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SECURITY_LEVEL_UNSPECIFIED: _ClassVar[SecurityLevel]
    PUBLIC: _ClassVar[SecurityLevel]
    INTERNAL: _ClassVar[SecurityLevel]
    CONFIDENTIAL: _ClassVar[SecurityLevel]
    RESTRICTED: _ClassVar[SecurityLevel]
HEALTH_STATUS_UNSPECIFIED: HealthStatus
HEALTHY: HealthStatus
DEGRADED: HealthStatus
UNHEALTHY: HealthStatus
SECURITY_LEVEL_UNSPECIFIED: SecurityLevel
PUBLIC: SecurityLevel
INTERNAL: SecurityLevel
CONFIDENTIAL: SecurityLevel
RESTRICTED: SecurityLevel

class Telemetry(_message.Message):
    __slots__ = ("success_rate", "duration_score", "experience")
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    DURATION_SCORE_FIELD_NUMBER: _ClassVar[int]
    EXPERIENCE_FIELD_NUMBER: _ClassVar[int]
    success_rate: float
    duration_score: float
    experience: float
    def __init__(self, success_rate: _Optional[float] = ..., duration_score: _Optional[float] = ..., experience: _Optional[float] = ...) -> None: ...

class AgentInfo(_message.Message):
    __slots__ = ("agent_id", "capabilities", "namespace", "security_level", "health", "max_concurrent_tasks", "active_tasks", "telemetry")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    SECURITY_LEVEL_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_TASKS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_TASKS_FIELD_NUMBER: _ClassVar[int]
    TELEMETRY_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    namespace: str
    security_level: SecurityLevel
    health: HealthStatus
    max_concurrent_tasks: int
    active_tasks: int
    telemetry: Telemetry
    def __init__(self, agent_id: _Optional[str] = ..., capabilities: _Optional[_Iterable[str]] = ..., namespace: _Optional[str] = ..., security_level: _Optional[_Union[SecurityLevel, str]] = ..., health: _Optional[_Union[HealthStatus, str]] = ..., max_concurrent_tasks: _Optional[int] = ..., active_tasks: _Optional[int] = ..., telemetry: _Optional[_Union[Telemetry, _Mapping]] = ...) -> None: ...

class DiscoverRequest(_message.Message):
    __slots__ = ("capabilities", "namespace", "security_level", "max_results")
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    SECURITY_LEVEL_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    namespace: str
    security_level: SecurityLevel
    max_results: int
    def __init__(self, capabilities: _Optional[_Iterable[str]] = ..., namespace: _Optional[str] = ..., security_level: _Optional[_Union[SecurityLevel, str]] = ..., max_results: _Optional[int] = ...) -> None: ...

class DiscoverResponse(_message.Message):
    __slots__ = ("agents",)
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[AgentInfo]
    def __init__(self, agents: _Optional[_Iterable[_Union[AgentInfo, _Mapping]]] = ...) -> None: ...

class RegisterRequest(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: AgentInfo
    def __init__(self, agent: _Optional[_Union[AgentInfo, _Mapping]] = ...) -> None: ...

class RegisterResponse(_message.Message):
    __slots__ = ("accepted",)
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    def __init__(self, accepted: _Optional[bool] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("agent_id", "active_tasks")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_TASKS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    active_tasks: int
    def __init__(self, agent_id: _Optional[str] = ..., active_tasks: _Optional[int] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("health",)
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    health: HealthStatus
    def __init__(self, health: _Optional[_Union[HealthStatus, str]] = ...) -> None: ...
