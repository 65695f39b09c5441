"""Our Service Registry protocol matches upstream's numbers, the committed stubs are what
grpcio-tools generates from it, and registry messages translate into worker profiles the way the
upstream allocator reads them."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator_dynamic.adapters.registry import agents
from orchestrator_dynamic.adapters.registry.grpc import cleared_levels
from orchestrator_dynamic.adapters.registry.grpc_gen import service_registry_pb2 as pb
from orchestrator_dynamic.domain.model import SecurityLevel
from orchestrator_dynamic.domain.scoring import Health, WorkerTelemetry, telemetry_score
from tests.scheduling_factory import worker

GEN = Path(agents.__file__).parent / "grpc_gen"


def test_package_services_and_numbers_are_upstreams() -> None:
    assert pb.DESCRIPTOR.package == "neural_hive.service_registry"
    service = pb.DESCRIPTOR.services_by_name["ServiceRegistry"]
    assert {"Register", "Heartbeat", "Deregister", "DiscoverAgents", "ListAgents"} <= set(
        service.methods_by_name
    )
    assert service.methods_by_name["WatchAgents"].server_streaming
    statuses = {v.name: v.number for v in pb.DESCRIPTOR.enum_types_by_name["AgentStatus"].values}
    assert statuses == {"AGENT_STATUS_UNSPECIFIED": 0, "HEALTHY": 1, "UNHEALTHY": 2, "DEGRADED": 3}
    assert pb.WORKER == 1 and pb.ANALYST == 4

    def numbers(message: str) -> dict[str, int]:
        return {f.name: f.number for f in pb.DESCRIPTOR.message_types_by_name[message].fields}

    assert numbers("DiscoverRequest") == {"capabilities": 1, "filters": 2, "max_results": 3}
    info = numbers("AgentInfo")
    assert (info["metadata"], info["telemetry"], info["status"], info["namespace"]) == (4, 5, 6, 9)
    assert numbers("AgentTelemetry") == {
        "success_rate": 1, "avg_duration_ms": 2, "total_executions": 3,
        "failed_executions": 4, "last_execution_at": 5,
    }  # fmt: skip
    assert numbers("RegisterRequest")["telemetry"] == 7
    assert numbers("HeartbeatRequest") == {"agent_id": 1, "telemetry": 2}


@pytest.mark.skipif(
    importlib.util.find_spec("grpc_tools") is None, reason="grpcio-tools (dev) not installed"
)
def test_committed_stubs_are_what_the_proto_generates(tmp_path: Path) -> None:
    rel = Path("orchestrator_dynamic/adapters/registry/grpc_gen")
    (tmp_path / rel).mkdir(parents=True)
    shutil.copy(GEN / "service_registry.proto", tmp_path / rel)
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{tmp_path}", f"--python_out={tmp_path}",
         f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}",
         str(tmp_path / rel / "service_registry.proto")],
        check=True,
    )  # fmt: skip
    for name in (
        "service_registry_pb2.py",
        "service_registry_pb2.pyi",
        "service_registry_pb2_grpc.py",
    ):
        assert (tmp_path / rel / name).read_text() == (GEN / name).read_text(), (
            f"{name} is stale: run `make protos`"
        )


def agent(**fields: object) -> pb.AgentInfo:
    return pb.AgentInfo(agent_id="7c0e-registry-id", capabilities=["python"], **fields)


def test_status_numbering() -> None:
    assert agents.health_of(pb.HEALTHY) is Health.HEALTHY
    assert agents.health_of(2) is Health.UNHEALTHY
    assert agents.health_of(3) is Health.DEGRADED
    assert agents.health_of(pb.AGENT_STATUS_UNSPECIFIED) is Health.UNHEALTHY
    assert agents.health_of(99) is Health.UNHEALTHY


def test_telemetry_becomes_the_allocators_scores() -> None:
    got = agents.telemetry_of(
        pb.AgentTelemetry(success_rate=0.9, avg_duration_ms=1000, total_executions=250)
    )
    assert got == WorkerTelemetry(success_rate=0.9, duration_score=0.8, experience=0.25)
    slow_veteran = agents.telemetry_of(
        pb.AgentTelemetry(success_rate=1.0, avg_duration_ms=9000, total_executions=5000)
    )
    assert (slow_veteran.duration_score, slow_veteran.experience) == (0.0, 1.0)
    assert telemetry_score(agents.telemetry_of(None)) == pytest.approx(0.5)  # neutral


def test_a_worker_agents_registration_reads_as_a_profile() -> None:
    info = agent(
        status=pb.DEGRADED,
        namespace="ml",
        metadata={"agent_id": "worker-7", "max_concurrent_tasks": "3", "grpc_port": "50052"},
    )
    info.telemetry.CopyFrom(pb.AgentTelemetry(success_rate=0.75, avg_duration_ms=2500))
    got = agents.worker_of(info)
    assert got.worker_id == "worker-7"  # the id it puts on its results
    assert (got.health, got.namespace, got.max_concurrent_tasks) == (Health.DEGRADED, "ml", 3)
    assert got.security_level is SecurityLevel.INTERNAL  # absent: INTERNAL, as the registry does
    assert got.telemetry == WorkerTelemetry(0.75, 0.5, 0.0)
    assert got.active_tasks == 0


def test_metadata_fallbacks() -> None:
    bare = agents.worker_of(agent())
    assert bare.worker_id == "7c0e-registry-id" and bare.namespace == "default"
    assert bare.max_concurrent_tasks == agents.DEFAULT_MAX_TASKS
    assert bare.telemetry == agents.NEUTRAL_TELEMETRY
    odd = agents.worker_of(
        agent(metadata={"max_concurrent_tasks": "many", "security_level": "confidential",
                        "active_tasks": "2"})
    )  # fmt: skip
    assert odd.max_concurrent_tasks == agents.DEFAULT_MAX_TASKS
    assert (odd.security_level, odd.active_tasks) == (SecurityLevel.CONFIDENTIAL, 2)


def test_our_registration_round_trips() -> None:
    sent = worker("w", {"python", "helm"}, namespace="ml", security=SecurityLevel.RESTRICTED,
                  max_tasks=7, active=2, success_rate=0.75)  # fmt: skip
    request = agents.register_request(sent)
    assert request.agent_type == pb.WORKER
    assert dict(request.metadata)["agent_id"] == "w"
    info = pb.AgentInfo(
        agent_id="r-1", capabilities=request.capabilities, metadata=request.metadata,
        namespace=request.namespace, status=pb.HEALTHY, telemetry=request.telemetry,
    )  # fmt: skip
    assert agents.worker_of(info) == sent


def test_newest_registration_wins() -> None:
    old = pb.AgentInfo(agent_id="a", metadata={"agent_id": "w"}, registered_at=10)
    new = pb.AgentInfo(agent_id="b", metadata={"agent_id": "w"}, registered_at=20)
    other = pb.AgentInfo(agent_id="c", registered_at=5)
    assert [a.agent_id for a in agents.newest_per_worker([old, other, new])] == ["b", "c"]


def test_filters_and_cleared_levels() -> None:
    assert agents.discover_filters(None, None) == {"status": "HEALTHY"}
    assert agents.discover_filters("ml", SecurityLevel.CONFIDENTIAL) == {
        "status": "HEALTHY", "namespace": "ml", "security_level": "CONFIDENTIAL",
    }  # fmt: skip
    assert cleared_levels(None) == [None]
    assert cleared_levels(SecurityLevel.CONFIDENTIAL) == [
        SecurityLevel.CONFIDENTIAL,
        SecurityLevel.RESTRICTED,
    ]
    assert len(cleared_levels(SecurityLevel.PUBLIC)) == 4
