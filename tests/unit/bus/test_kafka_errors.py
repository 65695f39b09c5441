"""aiokafka errors become domain errors; security settings are checked before connecting."""

from __future__ import annotations

import pytest
from aiokafka import errors as kafka_errors

from orchestrator_dynamic.adapters.bus.kafka import KafkaBus, KafkaSecurity
from orchestrator_dynamic.adapters.bus.kafka_errors import translate
from orchestrator_dynamic.domain.errors import (
    BusUnavailable,
    Handling,
    MalformedMessage,
    Unauthorized,
    handling,
)


@pytest.mark.parametrize(
    "exc",
    [
        kafka_errors.KafkaConnectionError("refused"),
        kafka_errors.KafkaTimeoutError(),
        kafka_errors.RequestTimedOutError(),
        kafka_errors.NotLeaderForPartitionError(),
        ConnectionResetError("reset"),
    ],
)
def test_outages_are_retryable_bus_unavailable(exc: BaseException) -> None:
    error = translate(exc, "publish to t")
    assert isinstance(error, BusUnavailable) and error.retryable
    assert "publish to t" in str(error) and type(exc).__name__ in str(error)


@pytest.mark.parametrize(
    "exc",
    [
        kafka_errors.TopicAuthorizationFailedError(),
        kafka_errors.GroupAuthorizationFailedError(),
        kafka_errors.ClusterAuthorizationFailedError(),
        kafka_errors.TransactionalIdAuthorizationFailed(),
        kafka_errors.SaslAuthenticationFailed(),
        kafka_errors.AuthenticationFailedError(),
        kafka_errors.UnsupportedSaslMechanismError(),
    ],
)
def test_authorisation_and_authentication_refusals_are_unauthorized(exc: BaseException) -> None:
    error = translate(exc, "publish to t")
    assert isinstance(error, Unauthorized) and "publish to t" in str(error)
    assert handling(error) is Handling.FAIL  # never retried as if the broker were away


def test_a_record_the_broker_never_takes_names_the_field() -> None:
    error = translate(kafka_errors.MessageSizeTooLargeError(), "publish to t")
    assert isinstance(error, MalformedMessage) and error.field == "value"
    error = translate(kafka_errors.InvalidTopicError(), "publish to t")
    assert isinstance(error, MalformedMessage) and error.field == "topic"


def test_plaintext_needs_nothing_else() -> None:
    assert KafkaSecurity().client_kwargs() == {"security_protocol": "PLAINTEXT"}


def test_sasl_settings_are_passed_as_plain_values() -> None:
    kwargs = KafkaSecurity("SASL_PLAINTEXT", "SCRAM-SHA-512", "svc", "pw").client_kwargs()
    assert kwargs == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "svc",
        "sasl_plain_password": "pw",
    }


def test_ssl_builds_a_context() -> None:
    kwargs = KafkaSecurity("SASL_SSL", "PLAIN", "svc", "pw").client_kwargs()
    assert kwargs["ssl_context"] is not None and kwargs["sasl_mechanism"] == "PLAIN"


@pytest.mark.parametrize(
    ("security", "field"),
    [
        (lambda: KafkaSecurity("SASL_SSL", "", "svc"), "KAFKA_SASL_MECHANISM"),
        (lambda: KafkaSecurity("SASL_PLAINTEXT", "GSSAPI", "svc"), "KAFKA_SASL_MECHANISM"),
        (lambda: KafkaSecurity("SASL_SSL", "PLAIN", ""), "KAFKA_SASL_USERNAME"),
        (lambda: KafkaSecurity("TLS"), "KAFKA_SECURITY_PROTOCOL"),
        (lambda: KafkaBus("  "), "KAFKA_BOOTSTRAP_SERVERS"),
    ],
)
def test_bad_security_settings_name_the_variable(security: object, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        security()  # type: ignore[operator]
