"""API_TOKENS: plain and sha256 entries, the three scopes, and refusals that name the problem."""

from __future__ import annotations

import json

import pytest

from orchestrator_dynamic.entrypoints.api.security import Principal, Scope, TokenAuth
from orchestrator_dynamic.settings import SettingsError, load_settings
from tests.unit.entrypoints.access_rig import TOKENS, sha


def test_each_token_maps_to_its_principal_and_nothing_else_does() -> None:
    auth = TokenAuth(TOKENS)
    assert auth.principal_for("admin-plain") == Principal(
        Scope.ADMIN, None, sha("admin-plain")[:12]
    )
    assert auth.principal_for("w1-secret") == Principal(Scope.WORKER, "w1", sha("w1-secret")[:12])
    assert auth.scope_for("read-hidden") is Scope.READ
    assert auth.scope_for("w2-plain") is Scope.WORKER
    for wrong in (
        "",
        "admin-plai",
        "admin-plain ",
        sha("read-hidden"),
        f"sha256:{sha('read-hidden')}",
    ):
        assert auth.principal_for(wrong) is None, wrong


def test_an_upper_case_digest_entry_works_too() -> None:
    auth = TokenAuth({f"sha256:{sha('t').upper()}": "read"})
    assert auth.scope_for("t") is Scope.READ


@pytest.mark.parametrize(
    ("tokens", "words"),
    [
        ({"t": "writer"}, "read"),
        ({"t": "worker:"}, "read"),
        ({"sha256:abc": "admin"}, "64 hex digits"),
        ({"sha256:" + "g" * 64: "admin"}, "64 hex digits"),
    ],
)
def test_settings_refuse_bad_entries_by_name_without_echoing_them(
    monkeypatch: pytest.MonkeyPatch, tokens: dict[str, str], words: str
) -> None:
    monkeypatch.setenv("API_TOKENS", json.dumps(tokens))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "API_TOKENS" in str(caught.value) and words in str(caught.value)
    assert all(key not in str(caught.value) for key in tokens if key != "t")


def test_settings_keep_the_old_format_and_take_the_new_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKENS", json.dumps(TOKENS))
    settings = load_settings()
    assert settings.api_tokens_map() == TOKENS
    assert TokenAuth(settings.api_tokens_map()).scope_for("w1-secret") is Scope.WORKER


@pytest.mark.parametrize("rate", ["lots", "5/fortnight", ""])
def test_a_bad_rate_limit_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, rate: str) -> None:
    monkeypatch.setenv("API_RATE_LIMIT", rate)
    with pytest.raises(SettingsError, match=r"API_RATE_LIMIT: .*rate like 600/minute"):
        load_settings()
