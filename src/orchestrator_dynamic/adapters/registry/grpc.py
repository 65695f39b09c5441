"""Client of the Neural Hive-Mind Service Registry (grpc_gen/service_registry.proto, package
``neural_hive.service_registry``) behind the WorkerRegistry port.

Every unary call has a deadline (SERVICE_REGISTRY_TIMEOUT_SECONDS); an unreachable or failing
registry raises RegistryUnavailable, so the scheduler falls back to the last known healthy
workers. Where the registry streams WatchAgents, every registration, departure and change of
status it reports reaches the listeners given to ``on_change`` (the discovery cache drops its
entries); a registry that answers UNIMPLEMENTED is used without it (logged once).

What the protocol does not carry: the registry assigns its own id at Register (we keep the
worker's id in metadata, as upstream workers do, and map one to the other), and Heartbeat carries
telemetry but no load, so ``active_tasks`` of a heartbeat is not sent: the scheduler counts each
worker's load itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import grpc
import structlog

from orchestrator_dynamic.adapters.registry import agents
from orchestrator_dynamic.adapters.registry.grpc_gen import service_registry_pb2 as pb
from orchestrator_dynamic.adapters.registry.grpc_gen import service_registry_pb2_grpc as pb_grpc
from orchestrator_dynamic.domain.errors import (
    Issue,
    MalformedMessage,
    NotFound,
    RegistryUnavailable,
)
from orchestrator_dynamic.domain.model import SecurityLevel
from orchestrator_dynamic.domain.rules import SECURITY_RANK
from orchestrator_dynamic.domain.scoring import WorkerProfile

T = TypeVar("T")
Listener = Callable[[], Awaitable[None]]
log = structlog.get_logger(__name__)


def cleared_levels(level: SecurityLevel | None) -> list[SecurityLevel | None]:
    """The registry's security_level filter is an exact match, ours a minimum clearance: ask
    once per level at or above the one required (the required one first)."""
    if level is None:
        return [None]
    return [lv for lv in SecurityLevel if SECURITY_RANK[lv] >= SECURITY_RANK[level]]


class GrpcRegistry:
    """Implements the WorkerRegistry port. ``start`` opens the channel (and the watch), ``stop``
    closes them."""

    def __init__(
        self,
        target: str,
        timeout_seconds: float = 3.0,
        *,
        watch: bool = True,
        watch_retry_seconds: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        self._target = target
        self._timeout = timeout_seconds
        self._watch_enabled = watch
        self._retry_first, self._retry_max = watch_retry_seconds
        self._channel: grpc.aio.Channel | None = None
        self._stub: Any = None
        self._watch_task: asyncio.Task[None] | None = None
        self._listeners: list[Listener] = []
        # worker id -> (registry id, profile registered through this client)
        self._registered: dict[str, tuple[str, WorkerProfile | None]] = {}

    async def start(self) -> None:
        self._channel = grpc.aio.insecure_channel(self._target)
        self._stub = pb_grpc.ServiceRegistryStub(self._channel)  # type: ignore[no-untyped-call]
        if self._watch_enabled:
            self._watch_task = asyncio.create_task(self._watch(), name="registry-watch")

    async def stop(self) -> None:
        if self._watch_task is not None:
            self._watch_task.cancel()
            await asyncio.gather(self._watch_task, return_exceptions=True)
            self._watch_task = None
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    def on_change(self, listener: Listener) -> None:
        """Call ``listener`` whenever the registry reports a change (or the watch was broken,
        so changes may have been missed)."""
        self._listeners.append(listener)

    @property
    def watching(self) -> bool:
        """True while the watch task runs (False once the registry said UNIMPLEMENTED)."""
        return self._watch_task is not None and not self._watch_task.done()

    async def ping(self) -> None:
        """Raise RegistryUnavailable unless the registry answers a discovery in time."""
        await self.discover([], max_results=1)

    # ------------------------------------------------------------ calls

    async def _call(self, rpc: Callable[[], Awaitable[T]]) -> T:
        if self._stub is None:
            raise RegistryUnavailable("service_registry", "client not started")
        try:
            return await rpc()
        except grpc.aio.AioRpcError as exc:
            code, details = exc.code(), exc.details() or ""
            if code is grpc.StatusCode.NOT_FOUND:
                raise NotFound(details or "not registered") from exc
            if code is grpc.StatusCode.INVALID_ARGUMENT:
                issue = Issue("registry_refused", f"the service registry refused it: {details}")
                raise MalformedMessage([issue]) from exc
            raise RegistryUnavailable("service_registry", f"{code.name}: {details}") from exc

    async def discover(
        self,
        capabilities: Sequence[str],
        *,
        namespace: str | None = None,
        security_level: SecurityLevel | None = None,
        max_results: int = 100,
    ) -> list[WorkerProfile]:
        requests = [
            pb.DiscoverRequest(
                capabilities=list(capabilities),
                filters=agents.discover_filters(namespace, level),
                max_results=max_results,
            )
            for level in cleared_levels(security_level)
        ]
        replies = await asyncio.gather(
            *(self._discover_once(request) for request in requests), return_exceptions=True
        )
        found: list[pb.AgentInfo] = []
        for reply in replies:
            if isinstance(reply, BaseException):
                raise reply
            found.extend(reply.agents)
        return [agents.worker_of(a) for a in agents.newest_per_worker(found)][:max_results]

    async def _discover_once(self, request: pb.DiscoverRequest) -> pb.DiscoverResponse:
        reply: pb.DiscoverResponse = await self._call(
            lambda: self._stub.DiscoverAgents(request, timeout=self._timeout)
        )
        return reply

    async def register(self, worker: WorkerProfile) -> None:
        """Register as an upstream worker does; a re-registration replaces the previous one."""
        if not worker.capabilities:
            reason = "the service registry refuses a worker without capabilities"
            raise MalformedMessage([Issue("required", reason, "capabilities")])
        request = agents.register_request(worker)
        reply: pb.RegisterResponse = await self._call(
            lambda: self._stub.Register(request, timeout=self._timeout)
        )
        previous = self._registered.get(worker.worker_id)
        self._registered[worker.worker_id] = (reply.agent_id, worker)
        # The registry ignores Register's telemetry and recomputes health from the telemetry of
        # heartbeats: send it once now, as a worker's first heartbeat would.
        await self._heartbeat(reply.agent_id, worker)
        if previous is not None and previous[0] != reply.agent_id:
            try:
                await self._forget(previous[0])
            except (RegistryUnavailable, NotFound) as exc:
                # The new entry stands; the old one expires with the registry's TTL and the
                # newest registration is the one discovery reads meanwhile.
                log.warning("registry_old_entry_kept", worker_id=worker.worker_id, reason=str(exc))

    async def heartbeat(self, worker_id: str, active_tasks: int | None = None) -> None:
        """The worker is alive. ``active_tasks`` has no place in the protocol (see above)."""
        registry_id, profile = self._registered.get(worker_id) or (
            await self._lookup(worker_id),
            None,
        )
        try:
            await self._heartbeat(registry_id, profile)
        except NotFound:
            self._registered.pop(worker_id, None)  # look it up afresh next time
            if profile is None:
                raise
            # The registry let the entry expire (its TTL): register again, as upstream
            # workers do when their heartbeat is refused.
            log.info("registry_re_registering", worker_id=worker_id)
            await self.register(profile)

    async def deregister(self, worker_id: str) -> None:
        known = self._registered.pop(worker_id, None)
        await self._forget(known[0] if known else await self._lookup(worker_id))

    async def _heartbeat(self, registry_id: str, profile: WorkerProfile | None) -> None:
        request = pb.HeartbeatRequest(agent_id=registry_id)
        if profile is not None:
            request.telemetry.CopyFrom(agents.agent_telemetry(profile.telemetry))
        await self._call(lambda: self._stub.Heartbeat(request, timeout=self._timeout))

    async def _forget(self, registry_id: str) -> None:
        request = pb.DeregisterRequest(agent_id=registry_id)
        await self._call(lambda: self._stub.Deregister(request, timeout=self._timeout))

    async def _lookup(self, worker_id: str) -> str:
        """The registry id of a worker registered elsewhere (another replica, a worker agent
        talking to the registry itself, or before a restart)."""
        # No agent_type filter: some registry versions refuse a numeric one on ListAgents.
        request = pb.ListAgentsRequest()
        reply: pb.ListAgentsResponse = await self._call(
            lambda: self._stub.ListAgents(request, timeout=self._timeout)
        )
        for agent in reply.agents:
            if agent.agent_id == worker_id:
                return worker_id
        for agent in agents.newest_per_worker(reply.agents):
            if agents.worker_id_of(agent) == worker_id:
                self._registered[worker_id] = (agent.agent_id, None)
                return agent.agent_id
        raise NotFound(f"worker {worker_id} is not registered")

    # ------------------------------------------------------------ watch

    async def _changed(self) -> None:
        for listener in list(self._listeners):
            try:
                await listener()
            except Exception as exc:  # a listener's failure must not end the watch
                log.warning("registry_change_listener_failed", error=repr(exc))

    async def _watch(self) -> None:
        delay = self._retry_first
        failing = False
        while True:
            # No agent_type filter, for the same reason as ListAgents; any change is worth a
            # fresh discovery.
            call = self._stub.WatchAgents(pb.WatchAgentsRequest())
            try:
                async for event in call:
                    if failing:
                        log.info("registry_watch_resumed", target=self._target)
                        failing = False
                    delay = self._retry_first
                    # The registry sends UPDATED on every heartbeat (fresh telemetry): acting on
                    # those would empty the cache several times a second on a large fleet. Who
                    # is there and whether it is healthy is what discovery answers depend on.
                    if event.event_type != pb.AgentChangeEvent.UPDATED:
                        await self._changed()
                reason = "the registry ended the stream"
            except grpc.aio.AioRpcError as exc:
                if exc.code() is grpc.StatusCode.UNIMPLEMENTED:
                    log.info(
                        "registry_watch_unsupported",
                        target=self._target,
                        detail="discovery relies on the cache TTL alone",
                    )
                    return
                reason = f"{exc.code().name}: {exc.details()}"
            finally:
                call.cancel()  # no-op once it ended; on stop() it frees the stream at once
            if not failing:
                log.warning("registry_watch_interrupted", reason=reason, retry_in_s=delay)
                failing = True
            await self._changed()  # changes may have been missed while not watching
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._retry_max)
