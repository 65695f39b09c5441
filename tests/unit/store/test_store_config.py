"""Store configuration: the adapter chosen by URL, retention settings, filter and field checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator_dynamic import bootstrap
from orchestrator_dynamic.adapters.store.indexes import check_field, check_filters, record_timestamp
from orchestrator_dynamic.adapters.store.memory import MemoryStore
from orchestrator_dynamic.adapters.store.mongo import MongoStore
from orchestrator_dynamic.adapters.store.postgres import PostgresStore
from orchestrator_dynamic.adapters.store.sqlite import SqliteStore
from orchestrator_dynamic.services.retention import check_retention
from orchestrator_dynamic.settings import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("sqlite:///tmp/x.db", SqliteStore),
        ("memory://", MemoryStore),
        ("postgresql://u@h/db", PostgresStore),
        ("postgres://u@h/db", PostgresStore),
        ("mongodb://h:27017", MongoStore),
        ("mongodb+srv://cluster.example", MongoStore),
    ],
)
def test_the_store_is_chosen_by_url(url: str, kind: type) -> None:
    assert isinstance(bootstrap.build_store(url, load_settings()), kind)


def test_an_unknown_store_scheme_is_refused_by_name() -> None:
    with pytest.raises(bootstrap.UnsupportedBackend, match="'redis'"):
        bootstrap.build_store("redis://h", load_settings())


def test_mongodb_uri_is_used_when_store_url_is_empty() -> None:
    settings = load_settings(mongodb_uri="mongodb://m:27017")
    assert bootstrap.store_url(settings) == "mongodb://m:27017"
    assert load_settings().store_spool_replay_interval_seconds == 5.0


def test_retention_days_read_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORE_RETENTION_DAYS", '{"telemetry_buffer": 7, "incidents": 365}')
    assert load_settings().store_retention_days == {"telemetry_buffer": 7, "incidents": 365}


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ('{"nope": 7}', "unknown collection 'nope'"),
        ('{"incidents": 0}', "positive number of days"),
        ('{"incidents": "a week"}', "positive number of days"),
        ("[7]", "JSON object"),
        ("{bad", "STORE_RETENTION_DAYS"),
    ],
)
def test_bad_retention_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, raw: str, words: str
) -> None:
    monkeypatch.setenv("STORE_RETENTION_DAYS", raw)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "STORE_RETENTION_DAYS" in str(caught.value)
    assert words in str(caught.value)


def test_check_retention_accepts_known_collections() -> None:
    assert check_retention({"decisions": 30.5}) == {"decisions": 30.5}


@pytest.mark.parametrize("name", ["a;b", "a..b", "", "a.", "doc'); drop", "é"])
def test_field_names_are_dotted_identifiers_only(name: str) -> None:
    with pytest.raises(ValueError, match="bad filter field"):
        check_field(name)


def test_filters_and_timestamps() -> None:
    assert check_filters({"sla_status.compliant": False}) == [(("sla_status", "compliant"), False)]
    with pytest.raises(ValueError, match="filter 'x'"):
        check_filters({"x": {"$gt": 1}})
    assert record_timestamp({"timestamp": 5}) == 5
    assert record_timestamp({}) is None
    with pytest.raises(ValueError, match="timestamp"):
        record_timestamp({"timestamp": True})
