"""One meaning per setting: ticket back-off and store retries are separate knobs, and no setting
is declared without being read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator_dynamic.bootstrap import flow_options
from orchestrator_dynamic.settings import Settings, load_settings

SRC = Path(__file__).resolve().parents[3] / "src" / "orchestrator_dynamic"
NOT_YET_READ: set[str] = set()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)


def test_ticket_backoff_comes_from_ticket_retry_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKET_RETRY_INITIAL_INTERVAL_MS", "250")
    monkeypatch.setenv("TICKET_RETRY_BACKOFF_COEFFICIENT", "3")
    monkeypatch.setenv("TICKET_RETRY_MAX_INTERVAL_MS", "9000")
    options = flow_options(load_settings())
    assert (options.retry_initial_ms, options.retry_backoff, options.retry_max_ms) == (
        250,
        3.0,
        9000,
    )


def test_store_retry_settings_leave_ticket_backoff_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETRY_INITIAL_INTERVAL_MS", "5")
    monkeypatch.setenv("RETRY_BACKOFF_COEFFICIENT", "7")
    monkeypatch.setenv("RETRY_MAX_INTERVAL_MS", "11")
    settings = load_settings()
    options = flow_options(settings)
    assert (options.retry_initial_ms, options.retry_backoff, options.retry_max_ms) == (
        1_000,
        2.0,
        60_000,
    )
    assert (settings.retry.initial_ms, settings.retry.backoff, settings.retry.max_ms) == (5, 7, 11)


def test_every_setting_is_read_somewhere() -> None:
    """A declared setting nobody reads is a knob that does nothing: remove it or wire it."""
    sources = {p: p.read_text() for p in SRC.rglob("*.py")}
    unread = []
    for name in Settings.model_fields:
        if name in NOT_YET_READ:
            continue
        use = re.compile(rf"\b{name}\b")
        declared = re.compile(rf"^\s+{name}\s*:", re.MULTILINE)
        hits = sum(
            len(use.findall(text)) - len(declared.findall(text)) for text in sources.values()
        )
        if hits <= 0:
            unread.append(name.upper())
    assert unread == []
