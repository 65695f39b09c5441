"""Who may do what through the HTTP API: scopes (read, admin, worker:<id>), digest entries, the
audit trail of operator actions, and the rate limits on the routes that change something."""

from __future__ import annotations

import pytest

from orchestrator_dynamic.domain.ports import Collection
from orchestrator_dynamic.domain.workflows import WorkflowStatus
from orchestrator_dynamic.entrypoints.api.ratelimit import RateLimits
from orchestrator_dynamic.entrypoints.api.ui_session import csrf_for
from tests.unit.entrypoints.access_rig import Services, bearer, client, result, sha

ADMIN = bearer("admin-plain")
ADMIN_HIDDEN = bearer("admin-hidden")
READ = bearer("read-hidden")
W1 = bearer("w1-secret")
W2 = bearer("w2-plain")


@pytest.fixture
async def services() -> Services:
    made = Services()
    await made.ticket("wf1:t1", "w1")
    await made.ticket("wf1:t2", "w2")
    made.engine.running["wf1"] = WorkflowStatus.RUNNING
    return made


async def test_digest_entries_accept_the_token_never_the_digest(services: Services) -> None:
    async with client(services) as http:
        assert (await http.get("/api/v1/incidents", headers=READ)).status_code == 200
        digest = bearer(sha("read-hidden"))
        assert (await http.get("/api/v1/incidents", headers=digest)).status_code == 401
        as_entry = bearer(f"sha256:{sha('read-hidden')}")
        assert (await http.get("/api/v1/incidents", headers=as_entry)).status_code == 401
        assert (await http.get("/api/v1/incidents", headers=ADMIN)).status_code == 200


async def test_a_worker_token_posts_results_only_for_its_own_tickets(services: Services) -> None:
    async with client(services) as http:
        own = await http.post(
            "/api/v1/tickets/wf1:t1/result", json=result("wf1:t1", "w1"), headers=W1
        )
        assert own.status_code == 202, own.text
        assert own.json()["disposition"] == "delivered"
        # Someone else's ticket, or its own ticket under another agent_id: refused, not delivered.
        other = await http.post(
            "/api/v1/tickets/wf1:t2/result", json=result("wf1:t2", "w1"), headers=W1
        )
        assert other.status_code == 403, other.text
        assert "not allocated to worker 'w1'" in other.json()["detail"]
        posing = await http.post(
            "/api/v1/tickets/wf1:t1/result", json=result("wf1:t1", "w2"), headers=W1
        )
        assert posing.status_code == 403
        unknown = await http.post(
            "/api/v1/tickets/x:9/result", json=result("x:9", "w1"), headers=W1
        )
        assert unknown.status_code == 404
        # The allocated worker's own token: delivered.
        w2 = await http.post(
            "/api/v1/tickets/wf1:t2/result", json=result("wf1:t2", "w2"), headers=W2
        )
        assert w2.status_code == 202
    assert [(r.ticket_id, r.agent_id) for r in services.engine.delivered] == [
        ("wf1:t1", "w1"),
        ("wf1:t2", "w2"),
    ]


async def test_a_worker_token_sends_only_its_own_heartbeats(services: Services) -> None:
    async with client(services) as http:
        registered = await http.post(
            "/api/v1/workers", json={"worker_id": "w1", "capabilities": ["python"]}, headers=ADMIN
        )
        assert registered.status_code == 201
        body = {"active_tasks": 1}
        assert (
            await http.post("/api/v1/workers/w1/heartbeat", json=body, headers=W1)
        ).status_code == 202
        refused = await http.post("/api/v1/workers/w2/heartbeat", json=body, headers=W1)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/workflows"),
        ("GET", "/api/v1/tickets/wf1:t1"),
        ("GET", "/api/v1/workers"),
        ("GET", "/api/v1/audit"),
        ("POST", "/api/v1/decisions"),
        ("POST", "/api/v1/workflows/wf1/approve"),
        ("POST", "/api/v1/workflows/wf1/cancel"),
        ("POST", "/api/v1/workers"),
    ],
)
async def test_a_worker_token_may_do_nothing_else(
    services: Services, method: str, path: str
) -> None:
    async with client(services) as http:
        response = await http.request(method, path, headers=W1, json={})
    assert response.status_code == 403, response.text
    assert "worker token" in response.json()["detail"]


async def test_a_read_token_cannot_report_results(services: Services) -> None:
    async with client(services) as http:
        response = await http.post(
            "/api/v1/tickets/wf1:t1/result", json=result("wf1:t1", "w1"), headers=READ
        )
    assert response.status_code == 403
    assert services.engine.delivered == []


async def test_every_operator_action_is_audited_accepted_or_refused(services: Services) -> None:
    services.engine.running["wf2"] = WorkflowStatus.AWAITING_APPROVAL
    async with client(services) as http:
        ok = await http.post(
            "/api/v1/workflows/wf2/approve",
            json={"by": "ana", "reason": "looks fine"},
            headers=ADMIN_HIDDEN,
        )
        assert ok.status_code == 202, ok.text
        late = await http.post("/api/v1/workflows/wf2/reject", json={"reason": "x"}, headers=ADMIN)
        assert late.status_code == 202  # the recording engine leaves it awaiting approval
        services.engine.running["wf2"] = WorkflowStatus.RUNNING
        refused = await http.post("/api/v1/workflows/wf2/approve", headers=ADMIN)
        assert refused.status_code == 409
        cancel = await http.post(
            "/api/v1/workflows/wf1/cancel", json={"reason": "stop"}, headers=ADMIN
        )
        assert cancel.status_code == 202
        trail = await http.get("/api/v1/audit", headers=ADMIN)
        assert (await http.get("/api/v1/audit", headers=READ)).status_code == 403
        only_wf2 = await http.get(
            "/api/v1/audit", params={"target": "wf2", "action": "approve"}, headers=ADMIN
        )
    rows = trail.json()
    assert len(rows) == 4
    assert {r["action"] for r in rows} == {"approve", "reject", "cancel"}
    first = next(r for r in rows if r["by"] == "ana")
    assert first["action"] == "approve" and first["target"] == "wf2"
    assert first["outcome"] == "accepted" and first["reason"] == "looks fine"
    assert first["scope"] == "admin" and first["token_id"] == sha("admin-hidden")[:12]
    assert first["source"] == "127.0.0.1" and first["channel"] == "api"
    assert first["timestamp"] == 1_700_000_000_000
    refusal = [r for r in rows if r["outcome"].startswith("refused")]
    assert len(refusal) == 1 and "Conflict" in refusal[0]["outcome"]
    assert {r["outcome"] for r in only_wf2.json()} == {"accepted", refusal[0]["outcome"]}
    stored = await services.store.find(Collection.AUDIT)
    assert not any("admin-plain" in str(r) or "admin-hidden" in str(r) for r in stored)


async def test_mutating_routes_are_rate_limited_per_token(services: Services) -> None:
    services.engine.running["wf2"] = WorkflowStatus.AWAITING_APPROVAL
    limits = RateLimits(operator="2/minute", worker="3/minute")
    async with client(services, limits) as http:
        for _ in range(2):
            assert (
                await http.post("/api/v1/workflows/wf2/approve", headers=ADMIN)
            ).status_code == 202
        over = await http.post("/api/v1/workflows/wf2/approve", headers=ADMIN)
        assert over.status_code == 429
        assert over.headers["content-type"] == "application/problem+json"
        assert 1 <= int(over.headers["retry-after"]) <= 60
        assert over.json()["status"] == 429 and "rate limit" in over.json()["detail"]
        # Another token has its own budget; reads are never limited; workers have theirs.
        assert (
            await http.post("/api/v1/workflows/wf2/approve", headers=ADMIN_HIDDEN)
        ).status_code == 202
        assert (await http.get("/api/v1/workflows/wf2", headers=ADMIN)).status_code != 429
        posts = [
            await http.post(
                "/api/v1/tickets/wf1:t1/result", json=result("wf1:t1", "w1"), headers=W1
            )
            for _ in range(4)
        ]
        assert [p.status_code for p in posts] == [202, 202, 202, 429]
        # Unknown tokens are counted by client address: guessing tokens is limited too.
        guesses = [
            await http.post("/api/v1/workflows/wf2/approve", headers=bearer(f"guess-{i}"))
            for i in range(3)
        ]
        assert [g.status_code for g in guesses] == [401, 401, 429]
    audited = await services.store.find(Collection.AUDIT)
    assert len(audited) == 3  # a request refused by the limit never reached the action


async def test_decisions_have_a_budget_of_their_own(services: Services) -> None:
    """A submitter's burst of plans spends the decisions' budget, not the operators'."""
    services.engine.running["wf2"] = WorkflowStatus.AWAITING_APPROVAL
    limits = RateLimits(operator="1/minute", worker="1/minute", decision="3/minute")
    async with client(services, limits) as http:
        submitted = [
            (await http.post("/api/v1/decisions", json={}, headers=ADMIN)).status_code
            for _ in range(4)
        ]
        assert 429 not in submitted[:3]
        assert submitted[3] == 429
        approved = await http.post("/api/v1/workflows/wf2/approve", headers=ADMIN)
        assert approved.status_code == 202


async def test_the_console_signs_in_with_a_digest_entry_and_audits_its_decisions(
    services: Services,
) -> None:
    services.engine.running["wf2"] = WorkflowStatus.AWAITING_APPROVAL
    origin = {"Origin": "http://127.0.0.1"}
    async with client(services) as http:
        worker = await http.post("/ui/signin", data={"token": "w1-secret"}, headers=origin)
        assert worker.status_code == 403 and "worker token" in worker.text
        assert (
            await http.post("/ui/signin", data={"token": sha("admin-hidden")}, headers=origin)
        ).status_code == 401
        signed = await http.post("/ui/signin", data={"token": "admin-hidden"}, headers=origin)
        assert signed.status_code == 303, signed.text
        form = {
            "action": "approve",
            "reason": "ship it",
            "by": "bo",
            "csrf": csrf_for("admin-hidden"),
        }
        decided = await http.post("/ui/workflows/wf2/decide", data=form, headers=origin)
        assert decided.status_code == 303, decided.text
    assert services.engine.signals == [("approve", "wf2")]
    (entry,) = await services.store.find(Collection.AUDIT)
    assert entry["channel"] == "console" and entry["by"] == "bo" and entry["reason"] == "ship it"
    assert entry["scope"] == "admin" and entry["token_id"] == sha("admin-hidden")[:12]
    assert entry["outcome"] == "accepted" and entry["source"] == "127.0.0.1"
