"""Shared test helpers: where the wire fixtures live, and loaders for them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
DECISIONS = FIXTURES / "decisions"


def decision_bytes(name: str) -> bytes:
    return (DECISIONS / f"{name}.json").read_bytes()


def decision_doc(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(decision_bytes(name))
    return doc


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
