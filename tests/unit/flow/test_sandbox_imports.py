"""What the workflow sandbox re-imports for every run stays cheap to import.

The sandbox imports flow/workflow.py (and what it imports outside ``imports_passed_through``)
afresh for each workflow run. A pydantic adapter or model built at import time there is built
again at every run: a few milliseconds before any plan's first ticket (it happened once, with
continue-as-new's state adapter). Such things live in passed-through modules.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter

import orchestrator_dynamic.flow
from orchestrator_dynamic.flow.worker import PASSED_THROUGH

# Workflow code: imported by the sandbox on each run (not passed through).
SANDBOXED = ("orchestrator_dynamic.flow.continuation", "orchestrator_dynamic.flow.workflow")


def test_the_modules_checked_are_the_ones_the_sandbox_reimports() -> None:
    for name in SANDBOXED:
        assert not any(name == p or name.startswith(p + ".") for p in PASSED_THROUGH)


def _reimport(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # Put back afterwards: the rest of the suite keeps the classes it imported.
    monkeypatch.delitem(sys.modules, name)
    parent, _, leaf = name.rpartition(".")
    monkeypatch.setattr(sys.modules[parent], leaf, getattr(sys.modules[parent], leaf))
    return importlib.import_module(name)


@pytest.mark.parametrize("name", SANDBOXED)
def test_a_sandboxed_module_builds_no_pydantic_adapter_when_imported(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    importlib.import_module(name)  # its passed-through imports are loaded once, as in a worker
    built: list[object] = []
    original = TypeAdapter.__init__

    def counting(self: TypeAdapter[Any], *args: Any, **kwargs: Any) -> None:
        built.append(args[0] if args else kwargs.get("type"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(TypeAdapter, "__init__", counting)
    module = _reimport(name, monkeypatch)

    assert built == []
    models = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, BaseModel) and v.__module__ == name
    ]
    assert models == []
    assert orchestrator_dynamic.flow is sys.modules["orchestrator_dynamic.flow"]
