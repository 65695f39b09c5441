"""1,000 generated malformed messages, each with a good one behind it, through the local bus.

Real: the local bus, the codec, DecisionIntake, Operations (parsing and validation) and the
dead-letter publisher. The gateway behind Operations is a recorder (no Temporal): what is under test
is that every bad record lands in the DLQ with a reason and that the good ones keep flowing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator_dynamic.adapters.bus.local import LocalBus
from orchestrator_dynamic.domain.model import CognitivePlan, ConsolidatedDecision
from orchestrator_dynamic.services.dead_letters import DeadLetters
from orchestrator_dynamic.services.intake import DecisionIntake
from orchestrator_dynamic.services.operations import Operations
from tests.conftest import decision_doc
from tests.fakes import MemoryStoreFake
from tests.integration.bus.intake_rig import decode_decision
from tests.integration.flow.harness import now_ms

pytestmark = pytest.mark.integration

GOOD = decision_doc("approve-5-task-dag")
OPTIONAL = {"correlation_id", "schema_version", "span_id", "trace_id", "valid_until"}
REQUIRED = sorted(set(GOOD) - OPTIONAL)
EXAMPLES = 1_000


@dataclass
class RecordingGateway:
    """Stands in for FlowGateway: remembers which decisions would have been started."""

    started: list[str] = field(default_factory=list)

    async def start(self, decision: ConsolidatedDecision, plan: CognitivePlan | None = None) -> str:
        self.started.append(decision.decision_id)
        return "started"


def encoded(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def without(name: str) -> tuple[bytes, str]:
    return encoded({k: v for k, v in GOOD.items() if k != name}), name


def retyped(name: str, value: Any) -> tuple[bytes, str]:
    return encoded({**GOOD, name: value}), name


# Each strategy gives the bytes and the field the reason must name ("" = the whole record).
MALFORMED = st.one_of(
    st.sampled_from(REQUIRED).map(without),
    st.builds(
        retyped,
        st.sampled_from(sorted(GOOD)),
        st.lists(st.none(), min_size=1, max_size=3),
    ),
    # Words no number parser accepts ("1e5", "nan" or "inf" would be read as floats).
    st.builds(retyped, st.just("aggregated_confidence"), st.text("xyzXYZ!? -", min_size=1)),
    st.builds(retyped, st.just("cognitive_plan"), st.text(max_size=40)),
    st.integers(1, len(encoded(GOOD)) - 1).map(lambda n: (encoded(GOOD)[:n], "")),
    st.binary(max_size=64).map(lambda b: (b, "")),
    st.binary(max_size=64).map(lambda b: (b"\x00\x00\x00\x00\x01" + b, "")),
)


@dataclass
class Flood:
    bus: LocalBus
    intake: DecisionIntake
    gateway: RecordingGateway
    dlq: Any
    rounds: int = 0


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as loop:
        yield loop


async def open_flood() -> Flood:
    bus = LocalBus(":memory:")
    await bus.start()
    gateway = RecordingGateway()
    operations = Operations(gateway, MemoryStoreFake(), now_ms)  # dead letters are recorded
    intake = DecisionIntake(
        await bus.subscribe(["plans.consensus"], "intake"),
        DeadLetters(bus, "plans.consensus.dlq"),
        decode_decision,
        operations,
    )
    dlq = await bus.subscribe(["plans.consensus.dlq"], "reader")
    return Flood(bus, intake, gateway, dlq)


async def one_round(flood: Flood, bad: bytes, named: str) -> None:
    flood.rounds += 1
    good_id = f"good-{flood.rounds}"
    await flood.bus.publish("plans.consensus", bad)
    await flood.bus.publish("plans.consensus", encoded({**GOOD, "decision_id": good_id}))
    consumed = 0
    while consumed < 2:
        consumed += await flood.intake.run_once(max_records=2, timeout_ms=100)
    [letter] = await flood.dlq.poll(max_records=5, timeout_ms=100)
    await flood.dlq.commit(letter)
    assert letter.value == bad, "the original bytes"
    assert letter.header("dlq.reason"), "a reason"
    assert letter.header("dlq.reason_code")
    assert letter.header("dlq.source.topic") == "plans.consensus"
    assert letter.header("dlq.source.offset") == str((flood.rounds - 1) * 2)
    if named:
        assert (letter.header("dlq.field") or "").startswith(named), letter.header("dlq.reason")
        assert named in (letter.header("dlq.reason") or "")
    assert flood.gateway.started[-1] == good_id, "the good record behind it went through"


def test_every_malformed_message_is_dead_lettered_and_good_ones_keep_flowing(
    runner: asyncio.Runner,
) -> None:
    flood = runner.run(open_flood())

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(MALFORMED)
    def feed(case: tuple[bytes, str]) -> None:
        runner.run(one_round(flood, *case))

    feed()
    assert flood.rounds >= EXAMPLES
    assert flood.intake.dead_lettered == flood.rounds
    assert flood.intake.handled == flood.rounds == len(flood.gateway.started)
    assert runner.run(flood.intake.lag()) == 0
    runner.run(flood.bus.stop())
