"""Policies reload when their directory changes (watchfiles), and a broken edit keeps the
policies that were running."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orchestrator_dynamic.adapters.policy.embedded import EmbeddedPolicyEngine
from orchestrator_dynamic.services.policy import RESOURCE_LIMITS
from orchestrator_dynamic.settings import DEFAULT_POLICY_DIR
from tests.fakes import settle
from tests.integration.policy.test_engine_contract import doc_of, ticket

pytestmark = pytest.mark.integration


async def test_edited_policy_is_reloaded(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    rego = folder / "neuralhive" / "orchestrator" / "resource_limits.rego"
    two_cpus = doc_of(ticket(parameters={"cpu": "2"}))
    engine = EmbeddedPolicyEngine(folder)
    await engine.start()
    try:
        assert (await engine.evaluate(RESOURCE_LIMITS, two_cpus)).allow
        rego.write_text(rego.read_text().replace('"max_cpu": "4000m"', '"max_cpu": "1000m"'))
        await settle(lambda: engine.reloads >= 1)
        decision = await engine.evaluate(RESOURCE_LIMITS, two_cpus)
        assert [v.rule for v in decision.violations] == ["cpu_exceeds_limit"]

        rego.write_text("package neuralhive.orchestrator.resource_limits\n\nbroken if {\n")
        await settle(lambda: engine.reload_failures >= 1)
        # The broken file never replaced the running policies.
        assert engine.reloads == 1
        assert not (await engine.evaluate(RESOURCE_LIMITS, two_cpus)).allow
    finally:
        await engine.close()
