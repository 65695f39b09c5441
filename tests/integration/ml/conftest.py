"""The repository's small samples of the platform's ticket history (every 20th of 10,000
finished tickets over 30 days; a third of the labelled anomalies and a fifteenth of the
labelled normal tickets)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator_dynamic.services.ml.history import History, parse_lines

ML_FIXTURES = Path(__file__).parents[2] / "fixtures" / "ml"
HISTORY = ML_FIXTURES / "ticket-history-sample.jsonl"
LABELLED = ML_FIXTURES / "anomaly-labelled-sample.jsonl"


def read(path: Path) -> History:
    with path.open() as lines:
        return parse_lines(lines, path.name)


@pytest.fixture(scope="session")
def sample() -> History:
    return read(HISTORY)


@pytest.fixture(scope="session")
def labelled() -> History:
    return read(LABELLED)
