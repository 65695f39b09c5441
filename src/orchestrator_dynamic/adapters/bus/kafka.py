"""Kafka bus on aiokafka: the MessageBus port against a Kafka-protocol broker.

Producing: ``acks=all``, idempotent where the broker supports it (a constructor flag, because some
Kafka-protocol brokers do not), and ``send_and_wait`` so ``publish`` returns only once the broker
confirmed the record. aiokafka retries retriable failures itself (leader moves, reconnects) with
``retry_backoff_ms`` between attempts until ``request_timeout_ms`` is spent; only then does the
caller see ``BusUnavailable``.

Consuming: one consumer per subscription, auto-commit off; ``commit`` stores the offset after the
record in the group. With ``group_membership`` the broker balances partitions among the members of
the group (several orchestrator replicas); without it the subscription takes every partition of its
topics and still keeps its offsets in the group (one replica, faster start: no join round).

Topics are created on demand (at subscribe and at the first publish to a topic) so that brokers with
automatic topic creation switched off work too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import errors as kafka_errors
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.helpers import create_ssl_context
from aiokafka.structs import ConsumerRecord, TopicPartition

from orchestrator_dynamic.adapters.bus.kafka_errors import TRANSLATED, translate
from orchestrator_dynamic.domain.errors import BusUnavailable
from orchestrator_dynamic.domain.ports import BusMessage
from orchestrator_dynamic.observability import metrics

TOPIC_ALREADY_EXISTS = 36  # Kafka protocol error code
log = structlog.get_logger(__name__)

JOIN_TIMEOUT_MS = 40_000
RESET_CHECK_S = 2.0
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class KafkaSecurity:
    """Connection security as plain values (the settings layer unwraps secrets)."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str = ""
    sasl_username: str = ""
    sasl_password: str = ""
    ssl_cafile: str = ""

    def __post_init__(self) -> None:
        if self.protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL: unknown protocol {self.protocol!r}")
        if self.protocol.startswith("SASL"):
            if self.sasl_mechanism not in SASL_MECHANISMS:
                raise ValueError(
                    f"KAFKA_SASL_MECHANISM: {self.sasl_mechanism!r} is not one of "
                    f"{', '.join(SASL_MECHANISMS)} (required by {self.protocol})"
                )
            if not self.sasl_username:
                raise ValueError(f"KAFKA_SASL_USERNAME: required by {self.protocol}")

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments shared by aiokafka producers, consumers and admin clients."""
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        if self.protocol in ("SSL", "SASL_SSL"):
            kwargs["ssl_context"] = create_ssl_context(cafile=self.ssl_cafile or None)
        if self.protocol.startswith("SASL"):
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password
        return kwargs


class KafkaBus:
    def __init__(
        self,
        bootstrap_servers: str,
        *,
        security: KafkaSecurity | None = None,
        client_id: str = "orchestrator-dynamic",
        idempotent: bool = True,
        group_membership: bool = True,
        request_timeout_ms: int = 30_000,
        retry_backoff_ms: int = 200,
        linger_ms: int = 0,
        topic_partitions: int = 1,
        topic_replication: int = 1,
    ) -> None:
        if not bootstrap_servers.strip():
            raise ValueError("KAFKA_BOOTSTRAP_SERVERS: empty")
        self._servers = bootstrap_servers
        self._common = {
            "bootstrap_servers": bootstrap_servers,
            "client_id": client_id,
            "request_timeout_ms": request_timeout_ms,
            "retry_backoff_ms": retry_backoff_ms,
            **(security or KafkaSecurity()).client_kwargs(),
        }
        self._idempotent = idempotent
        self._linger_ms = linger_ms
        self.group_membership = group_membership
        self._partitions = topic_partitions
        self._replication = topic_replication
        self._producer: AIOKafkaProducer | None = None
        self._known_topics: set[str] = set()
        self._topics_lock = asyncio.Lock()

    @property
    def common_kwargs(self) -> dict[str, Any]:
        return dict(self._common)

    async def start(self) -> None:
        producer = AIOKafkaProducer(
            acks="all",
            enable_idempotence=self._idempotent,
            linger_ms=self._linger_ms,
            **self._common,
        )
        try:
            await producer.start()
        except TRANSLATED as exc:
            await producer.stop()
            raise translate(exc, self._hint(f"connect to {self._servers}", exc)) from exc
        self._producer = producer

    def _hint(self, where: str, exc: BaseException) -> str:
        if self._idempotent and isinstance(exc, kafka_errors.UnknownError):
            # Brokers without InitProducerId answer the idempotent handshake this way.
            return f"{where} (does the broker support idempotent producers? see KAFKA_ENABLE_IDEMPOTENCE)"
        return where

    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise BusUnavailable("bus", "kafka bus is not started")
        return self._producer

    async def ping(self) -> None:
        producer = self._started()
        try:
            await producer.client.fetch_all_metadata()
        except TRANSLATED as exc:
            raise translate(exc, "metadata") from exc

    async def publish(
        self,
        topic: str,
        value: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Return once the broker acknowledged the record on all in-sync replicas."""
        producer = self._started()
        await self.ensure_topics([topic])
        try:
            await producer.send_and_wait(
                topic,
                value,
                key=key.encode() if key is not None else None,
                headers=[(k, v.encode()) for k, v in (headers or {}).items()],
            )
        except TRANSLATED as exc:
            metrics.CONSUMER_ERRORS.labels(topic, type(exc).__name__).inc()
            # The broker may come back without its topics (lost storage): look again next time.
            self._known_topics.discard(topic)
            raise translate(exc, self._hint(f"publish to {topic}", exc)) from exc
        metrics.MESSAGES_PRODUCED.labels(topic).inc()

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        """Create missing topics; a topic seen once is not checked again."""
        missing = [t for t in topics if t not in self._known_topics]
        if not missing:
            return
        async with self._topics_lock:
            admin = AIOKafkaAdminClient(**self._common)
            try:
                await admin.start()
                existing = set(await admin.list_topics())
                new = [t for t in missing if t not in existing]
                if new:
                    await self._create(admin, new)
            except TRANSLATED as exc:
                raise translate(exc, f"create topics {missing}") from exc
            finally:
                await admin.close()
            self._known_topics.update(missing)

    async def _create(self, admin: AIOKafkaAdminClient, topics: list[str]) -> None:
        response = await admin.create_topics(
            [NewTopic(t, self._partitions, self._replication) for t in topics]
        )
        for topic, code, *rest in response.topic_errors:
            if code not in (0, TOPIC_ALREADY_EXISTS):
                raise BusUnavailable("bus", f"kafka refused to create {topic}: {code} {rest}")

    async def subscribe(self, topics: Sequence[str], group_id: str) -> KafkaSubscription:
        await self.ensure_topics(topics)
        kwargs: dict[str, Any] = {
            "group_id": group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            **self._common,
        }
        if self.group_membership:
            # A JoinGroup answer waits for the group to settle (seconds), longer than an
            # ordinary request may take: give it the client's default room.
            kwargs["request_timeout_ms"] = max(kwargs["request_timeout_ms"], JOIN_TIMEOUT_MS)
            consumer = AIOKafkaConsumer(*topics, **kwargs)
        else:
            consumer = AIOKafkaConsumer(**kwargs)
        try:
            await consumer.start()
            if not self.group_membership:
                consumer.assign(await _partitions(consumer, topics))
        except TRANSLATED as exc:
            await consumer.stop()
            raise translate(exc, f"subscribe {list(topics)} as {group_id}") from exc
        timeout_s = self._common["request_timeout_ms"] / 1000
        return KafkaSubscription(consumer, list(topics), group_id, timeout_s)


async def _partitions(consumer: AIOKafkaConsumer, topics: Sequence[str]) -> list[TopicPartition]:
    out: list[TopicPartition] = []
    for topic in topics:
        ids = consumer.partitions_for_topic(topic)
        if not ids:
            await consumer._client.force_metadata_update()  # a topic created a moment ago
            ids = consumer.partitions_for_topic(topic) or {0}
        out.extend(TopicPartition(topic, p) for p in sorted(ids))
    return out


class KafkaSubscription:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        topics: list[str],
        group_id: str,
        commit_timeout_s: float = 30.0,
    ) -> None:
        self._consumer = consumer
        self._commit_timeout_s = commit_timeout_s
        self._topics = topics
        self._group = group_id
        self._last_reset_check = time.monotonic()
        # Partitions whose position was beyond the end at the last look, and that position.
        self._beyond_end: dict[TopicPartition, int] = {}

    async def poll(self, max_records: int = 100, timeout_ms: int = 1000) -> list[BusMessage]:
        try:
            batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
            if not batches:
                await self._check_log_reset()
        except TRANSLATED as exc:
            raise translate(exc, f"poll {self._topics}") from exc
        return [_message(r) for records in batches.values() for r in records]

    async def _check_log_reset(self) -> None:
        """When idle, now and then: a position beyond the end of the log means the broker lost
        or truncated it (some brokers answer such fetches with nothing rather than "offset out of
        range"); start again from the beginning of what is there instead of waiting forever.

        Only on a second look: one end-offset answer, taken while records are being appended,
        can be behind what this consumer already read (seen with tansu under load), and a reset
        on that answer would read the whole log again. A log that was really lost is still
        behind the same position a check later."""
        now = time.monotonic()
        if now - self._last_reset_check < RESET_CHECK_S:
            return
        self._last_reset_check = now
        assigned = list(self._consumer.assignment())
        if not assigned:
            self._beyond_end.clear()
            return
        ends = await self._consumer.end_offsets(assigned)
        beyond: dict[TopicPartition, int] = {}
        for tp in assigned:
            position = await self._consumer.position(tp)
            if position <= ends[tp]:
                continue
            if self._beyond_end.get(tp) != position:
                beyond[tp] = position  # first sighting: look again at the next check
                continue
            starts = await self._consumer.beginning_offsets([tp])
            log.warning(
                "kafka_log_reset",
                topic=tp.topic,
                partition=tp.partition,
                position=position,
                end=ends[tp],
                start=starts[tp],
            )
            self._consumer.seek(tp, starts[tp])
        self._beyond_end = beyond

    async def commit(self, message: BusMessage) -> None:
        tp = TopicPartition(message.topic, message.partition)
        try:
            # aiokafka retries a refused commit without end; bound it so the caller can decide.
            async with asyncio.timeout(self._commit_timeout_s):
                await self._consumer.commit({tp: message.offset + 1})
        except TRANSLATED as exc:
            raise translate(exc, f"commit {message.topic}[{message.partition}]") from exc

    async def lag(self) -> int:
        """End offset minus committed offset, summed over every partition of the topics."""
        try:
            partitions = await _partitions(self._consumer, self._topics)
            ends = await self._consumer.end_offsets(partitions)
            per_topic = dict.fromkeys(self._topics, 0)
            for tp in partitions:
                committed = await self._consumer.committed(tp) or 0
                per_topic[tp.topic] += max(0, ends[tp] - committed)
        except TRANSLATED as exc:
            raise translate(exc, f"lag of {self._group}") from exc
        for topic, waiting in per_topic.items():
            metrics.CONSUMER_LAG.labels(topic, self._group).set(waiting)
        return sum(per_topic.values())

    async def close(self) -> None:
        await self._consumer.stop()


def _message(record: ConsumerRecord[bytes, bytes]) -> BusMessage:
    return BusMessage(
        topic=record.topic,
        value=bytes(record.value or b""),
        key=record.key,
        headers=tuple((k, bytes(v)) for k, v in record.headers),
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp,
    )
