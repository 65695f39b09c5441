"""aiokafka errors translated into the domain error tree.

Kept apart from the adapter so the mapping can be read (and tested) in one place: anything that
looks like the broker being away is ``BusUnavailable`` (retryable), an authorisation refusal is
``Unauthorized``, and a record the broker will never take is ``MalformedMessage`` naming the field.
"""

from __future__ import annotations

from aiokafka import errors as kafka_errors

from orchestrator_dynamic.domain.errors import (
    BusUnavailable,
    Issue,
    MalformedMessage,
    OrchestratorError,
    Unauthorized,
)

# Refusals of who we are or what we may do: retrying never changes the broker's answer, so they
# must not look like an outage (which is retried without limit).
_AUTH = (
    kafka_errors.TopicAuthorizationFailedError,
    kafka_errors.GroupAuthorizationFailedError,
    kafka_errors.ClusterAuthorizationFailedError,
    kafka_errors.TransactionalIdAuthorizationFailed,
    kafka_errors.DelegationTokenAuthorizationFailed,
    kafka_errors.SaslAuthenticationFailed,
    kafka_errors.AuthenticationFailedError,
    kafka_errors.AuthenticationMethodNotSupported,
    kafka_errors.UnsupportedSaslMechanismError,
    kafka_errors.IllegalSaslStateError,
)
_TOO_LARGE = (kafka_errors.MessageSizeTooLargeError, kafka_errors.RecordListTooLargeError)


def translate(exc: BaseException, where: str) -> OrchestratorError:
    """The domain error for an aiokafka (or socket) failure during ``where``."""
    if isinstance(exc, _AUTH):
        return Unauthorized(f"kafka refused {where}: {type(exc).__name__}")
    if isinstance(exc, _TOO_LARGE):
        issue = Issue("bus.record_too_large", f"the broker refused the record: {exc}", "value")
        return MalformedMessage([issue])
    if isinstance(exc, kafka_errors.InvalidTopicError):
        issue = Issue("bus.invalid_topic", f"the broker refused the topic name: {exc}", "topic")
        return MalformedMessage([issue])
    return BusUnavailable("bus", f"kafka {where}: {type(exc).__name__}: {exc}")


TRANSLATED: tuple[type[BaseException], ...] = (kafka_errors.KafkaError, OSError, TimeoutError)
"""Exceptions the adapter catches and passes through ``translate``."""
