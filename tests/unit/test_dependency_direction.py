"""Dependencies point one way: entrypoints -> bootstrap -> adapters/flow -> services -> domain.

Read from the source (every import statement of every module, function-local ones included), so
an import added anywhere in ``services/`` or ``domain/`` that points the wrong way fails here.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import orchestrator_dynamic

PACKAGE = Path(orchestrator_dynamic.__file__).parent
NAME = "orchestrator_dynamic"
# What services and the domain must never reach: the workflow engine's code, the adapters, the
# composition root and the entrypoints (each depends on them, not the other way round).
OUTWARD = ("flow", "adapters", "entrypoints", "bootstrap", "settings")
# The domain is pure: the standard library, Pydantic and its own modules.
DOMAIN_THIRD_PARTY = {"pydantic", "pydantic_core", "annotated_types"}


def modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


def imports(path: Path) -> list[str]:
    package = ".".join((NAME, *path.relative_to(PACKAGE).parent.parts))
    return imports_in(path.read_text(), package)


def imports_in(source: str, package: str) -> list[str]:
    """Absolute names of every module ``source`` imports (relative imports resolved)."""
    tree = ast.parse(source)
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names.append(base)
            # `from orchestrator_dynamic import flow` names the module in the alias
            names.extend(f"{base}.{alias.name}" for alias in node.names if base == NAME)
    return names


def outward(name: str) -> bool:
    return any(name == f"{NAME}.{o}" or name.startswith(f"{NAME}.{o}.") for o in OUTWARD)


@pytest.mark.parametrize("layer", ["services", "domain"])
def test_services_and_domain_import_nothing_outward(layer: str) -> None:
    wrong = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in modules(layer)
        for name in imports(path)
        if outward(name)
    ]
    assert modules(layer), f"no modules found under {layer}/"
    assert wrong == []


def test_domain_imports_only_stdlib_pydantic_and_itself() -> None:
    """Never temporalio, a driver or the settings: the domain runs anywhere, the sandbox too."""
    allowed = set(sys.stdlib_module_names) | DOMAIN_THIRD_PARTY
    wrong = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in modules("domain")
        for name in imports(path)
        if not name.startswith(f"{NAME}.domain") and name.split(".")[0] not in allowed
    ]
    assert wrong == []


def test_the_check_sees_an_outward_import() -> None:
    """The reader itself: function-local, relative and package-level forms are all caught."""
    source = (
        "from ..flow import payloads\n"
        "from orchestrator_dynamic import adapters\n"
        "def f():\n    import orchestrator_dynamic.flow.gateway\n"
    )
    found = [n for n in imports_in(source, f"{NAME}.services") if outward(n)]
    assert found == [
        "orchestrator_dynamic.flow",
        "orchestrator_dynamic.adapters",
        "orchestrator_dynamic.flow.gateway",
    ]
