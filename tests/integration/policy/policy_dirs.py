"""Policy directories for the contract check: ours with one package swapped for another
contract (the platform's older one, a wrong-shaped decision) or taken out."""

from __future__ import annotations

import shutil
from pathlib import Path

from orchestrator_dynamic.settings import DEFAULT_POLICY_DIR

OLDER_DIR = Path(__file__).parents[2] / "fixtures" / "policies" / "older"
PACKAGES = Path("neuralhive") / "orchestrator"
# A decision document without the boolean "allow" our contract requires.
WRONG_SHAPE = """package neuralhive.orchestrator.feature_flags

import rego.v1

decision := {"flags": {}}
"""


def policy_dir(
    target: Path, *, drop: tuple[str, ...] = (), add: dict[str, str] | None = None
) -> Path:
    """A copy of our policies in ``target``, the ``drop`` packages (and their tests) removed and
    the ``add`` modules (name -> Rego text) written in their place."""
    shutil.copytree(DEFAULT_POLICY_DIR, target)
    for name in drop:
        for path in (target / PACKAGES).glob(f"{name}*.rego"):
            path.unlink()
    for name, text in (add or {}).items():
        (target / PACKAGES / f"{name}.rego").write_text(text)
    return target


def with_older_resource_limits(target: Path) -> Path:
    """Ours, but resource_limits as the platform's OPA may still hold it (older contract)."""
    older = (OLDER_DIR / "resource_limits.rego").read_text()
    return policy_dir(target, drop=("resource_limits",), add={"resource_limits": older})


def with_odd_packages(target: Path) -> Path:
    """Ours, but feature_flags answers a wrong-shaped decision and security_constraints is gone."""
    return policy_dir(
        target,
        drop=("feature_flags", "security_constraints"),
        add={"feature_flags": WRONG_SHAPE},
    )
