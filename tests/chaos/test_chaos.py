"""The chaos campaign at its small size (`make chaos` runs the full one): each fault on the
scaled-out topology, two replicas of the worker and intake roles, then a burst on `up`. Every
scenario must end with all plans completed, none lost, no ticket published with two contents
and no agent over capacity."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos import campaign, embedded_load
from tests.chaos.report import Row, table
from tests.topology import Topology

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def topo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    with Topology(tmp_path_factory.mktemp("topology"), workers=2, intakes=2, apis=1) as running:
        yield running


def check(row: Row) -> None:
    assert row.met(), table([row])


@pytest.mark.parametrize(
    "name",
    [
        "worker SIGKILL",
        "intake SIGKILL",
        "temporal SIGKILL+restart",
        "broker SIGSTOP",
        "postgres stopped",
        "redis stopped",
        "worker frozen (zombie)",
    ],
)
def test_fault(topo: Topology, name: str) -> None:
    [row] = list(campaign.topology_rows(topo, {name}))
    check(row)


def test_every_replica_survived_or_was_restarted(topo: Topology) -> None:
    """After the faults, every replica runs (the killed ones were started again)."""
    assert all(proc.alive() for proc in topo.all_replicas()), [
        proc.name for proc in topo.all_replicas() if not proc.alive()
    ]


def test_a_burst_on_up_completes(tmp_path: Path) -> None:
    sizes = campaign.sizes()
    check(embedded_load.embedded_row(tmp_path, sizes.up_plans, sizes.settle_s))
