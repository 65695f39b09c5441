"""The web console in a real browser (Debian's chromium through chromedriver) against a real `up`
with API tokens: sign-in, the live plan view, approving from the page, and the refusals.

Screenshots of the list, the plan view and the ticket panel go to CONSOLE_SCREENSHOTS (default
``.test-output/console`` in the repository, not committed).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.conftest import decision_doc
from tests.e2e.service import Service
from tests.e2e.ui.browser import available, chromium

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not available(), reason="needs Debian's chromium and chromium-driver"),
]

TOKENS = {"console-admin": "admin", "console-read": "read"}
ADMIN = {"Authorization": "Bearer console-admin"}
SHOTS = Path(
    os.environ.get("CONSOLE_SCREENSHOTS", Path(__file__).parents[3] / ".test-output/console")
)
T = TypeVar("T")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    # Demo agents at 2 % of each task's estimate: the 5-task plan takes seconds, long enough for
    # the page to see each ticket change, short enough for the suite.
    env = {"API_TOKENS": json.dumps(TOKENS), "DEMO_WORKER_SPEED": "0.02"}
    svc = Service(tmp_path_factory.mktemp("console"), env)
    svc.start(demo_workers=3)
    try:
        yield svc
    finally:
        assert svc.stop() == 0, svc.log.read_text()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    with chromium() as driver:
        driver.implicitly_wait(0)
        yield driver


def wait_for(check: Callable[[], T | None], timeout_s: float = 30, what: str = "") -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or check}")


def submit(svc: Service, fixture: str) -> str:
    doc = decision_doc(fixture)
    doc["decision_id"] = f"{doc['decision_id']}-ui-{time.time_ns()}"
    response = httpx.post(f"{svc.url}/api/v1/decisions", json=doc, headers=ADMIN, timeout=30)
    assert response.status_code == 202, response.text
    return str(doc["decision_id"])


def sign_in(driver: WebDriver, svc: Service, token: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{svc.url}/ui/workflows")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(lambda: driver.current_url.endswith("/ui/workflows"), 10, "the workflows list")


def status_of(svc: Service, workflow_id: str) -> str:
    response = httpx.get(f"{svc.url}/api/v1/workflows/{workflow_id}", headers=ADMIN, timeout=30)
    return str(response.json()["status"])


def test_an_unauthenticated_visitor_gets_the_sign_in_page(service: Service, browser: Any) -> None:
    browser.delete_all_cookies()
    browser.get(f"{service.url}/ui/approvals")
    assert "/ui/signin" in browser.current_url
    assert browser.find_element(By.TAG_NAME, "h1").text == "Sign in"
    assert browser.find_element(By.CSS_SELECTOR, "label[for=token]").text == "API token"
    # the JSON the plan page polls is refused too, not redirected
    graph = httpx.get(f"{service.url}/ui/workflows/any/graph.json", timeout=10)
    assert graph.status_code == 401
    # a wrong token is told so, and gets no cookie
    browser.find_element(By.ID, "token").send_keys("not-a-token")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    alert = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "[role=alert]"), 10)
    assert "Unknown token" in alert[0].text
    assert browser.get_cookie("od_console") is None


def test_the_plan_turns_completed_live_in_dependency_order(service: Service, browser: Any) -> None:
    sign_in(browser, service, "console-admin")
    cookie = browser.get_cookie("od_console")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    workflow_id = submit(service, "approve-5-task-dag")
    browser.get(f"{service.url}/ui/workflows/{workflow_id}")
    loaded = browser.execute_script("return performance.timeOrigin")
    wait_for(
        lambda: len(browser.find_elements(By.CSS_SELECTOR, "#dag-svg a.node")) == 5,
        30,
        "five ticket nodes",
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "a.node[data-status=RUNNING]"), 30)
    browser.save_screenshot(str(SHOTS / "plan-running.png"))
    wait_for(
        lambda: browser.find_element(By.CSS_SELECTOR, "#wf-status").text.endswith("COMPLETED"),
        60,
        "the workflow to complete on the page",
    )
    # the same page all along: updates came from polling, not from reloads
    assert browser.execute_script("return performance.timeOrigin") == loaded
    transitions: list[dict[str, Any]] = browser.execute_script("return window.odTransitions")
    graph = httpx.get(
        f"{service.url}/ui/workflows/{workflow_id}/graph.json",
        cookies={"od_console": "console-admin"},
        timeout=10,
    ).json()["graph"]
    # the answer of the poll in which the page first saw each ticket COMPLETED
    first_completed: dict[str, int] = {}
    for change in transitions:
        if change["status"] == "COMPLETED":
            first_completed.setdefault(change["ticket"], change["poll"])
    assert set(first_completed) == set(graph["nodes"])
    # each ticket was seen not completed before it was seen completed (none arrived finished)...
    for ticket in graph["nodes"]:
        seen = [c["status"] for c in transitions if c["ticket"] == ticket]
        assert seen[0] != "COMPLETED" and seen[-1] == "COMPLETED", (ticket, seen)
    # ...and in a later poll than each of its dependencies (every task runs over a second here,
    # longer than the page's polling interval)
    for dependency, dependant in graph["edges"]:
        assert first_completed[dependency] < first_completed[dependant], (dependency, dependant)
    assert browser.find_element(By.CSS_SELECTOR, "#outcome").is_displayed()
    assert len(graph["critical_path"]) == 4  # build -> unit|scan -> canary -> verify
    assert len(browser.find_elements(By.CSS_SELECTOR, "#dag-svg a.node.crit")) == 4
    assert len(browser.find_elements(By.CSS_SELECTOR, "#dag-svg path.edge")) == 5
    browser.save_screenshot(str(SHOTS / "plan.png"))

    # the ticket panel: why this worker, with every candidate and the chosen one marked
    browser.find_element(By.CSS_SELECTOR, "#tickets tbody tr a").click()
    wait_for(lambda: browser.find_elements(By.ID, "ticket-panel"), 10, "the ticket panel")
    assert browser.find_elements(By.CSS_SELECTOR, "#candidates tbody tr")
    assert "(chosen)" in browser.find_element(By.ID, "candidates").text
    assert "COMPLETED" in browser.find_element(By.ID, "history").text
    # what the worker reported: the demo agents answer with their own id as output
    assert "Output: agent" in browser.find_element(By.ID, "ticket-panel").text
    browser.save_screenshot(str(SHOTS / "ticket.png"))

    browser.get(f"{service.url}/ui/workflows")
    row = browser.find_element(By.CSS_SELECTOR, f"tr[data-workflow='{workflow_id}']")
    assert "COMPLETED" in row.text and "high" in row.text.lower()


def test_review_required_is_approved_from_the_page_and_runs(service: Service, browser: Any) -> None:
    sign_in(browser, service, "console-admin")
    workflow_id = submit(service, "review-required")
    wait_for(lambda: status_of(service, workflow_id) == "AWAITING_APPROVAL", 30)
    # before approval the plan page draws the plan's tasks (no ticket exists yet)
    browser.get(f"{service.url}/ui/workflows/{workflow_id}")
    planned = wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, "#dag-svg a.node[data-status=PLANNED]"),
        10,
        "the planned tasks",
    )
    browser.get(f"{service.url}/ui/approvals")
    card = browser.find_element(By.ID, f"wf-{workflow_id}")
    assert "high" in card.text.lower()  # the risk, with the plan's tasks below it
    assert len(card.find_elements(By.CSS_SELECTOR, "table tbody tr")) == len(planned)
    assert card.find_elements(By.CSS_SELECTOR, "table tbody tr")
    card.find_element(By.CSS_SELECTOR, "textarea[name=reason]").send_keys("checked the plan")
    card.find_element(By.CSS_SELECTOR, "input[name=by]").send_keys("ops-on-call")
    card.find_element(By.CSS_SELECTOR, "button[value=approve]").click()
    wait_for(lambda: f"/ui/workflows/{workflow_id}" in browser.current_url, 10, "the plan page")
    wait_for(lambda: status_of(service, workflow_id) == "COMPLETED", 60, "the approved run")
    view = httpx.get(f"{service.url}/api/v1/workflows/{workflow_id}", headers=ADMIN).json()
    assert view["approval"]["approved"] is True
    assert view["approval"]["by"] == "ops-on-call"
    assert view["approval"]["reason"] == "checked the plan"


def test_a_read_token_sees_no_approve_button_and_forged_posts_are_refused(
    service: Service, browser: Any
) -> None:
    workflow_id = submit(service, "review-required")
    wait_for(lambda: status_of(service, workflow_id) == "AWAITING_APPROVAL", 30)
    sign_in(browser, service, "console-read")
    browser.get(f"{service.url}/ui/approvals")
    card = browser.find_element(By.ID, f"wf-{workflow_id}")
    assert not card.find_elements(By.CSS_SELECTOR, "button[value=approve]")
    assert "read token" in card.text

    decide = f"{service.url}/ui/workflows/{workflow_id}/decide"
    form = {"action": "approve", "reason": "forged", "by": "attacker"}
    # an admin's cookie sent by another site: no CSRF token, and a foreign Origin
    admin = httpx.Client(cookies={"od_console": "console-admin"}, timeout=10)
    with admin:
        approvals = admin.get(f"{service.url}/ui/approvals")
        # no other page may frame the console and click its buttons
        assert "frame-ancestors 'none'" in approvals.headers["content-security-policy"]
        page = approvals.text
        csrf = page.split('name="csrf" value="')[1].split('"')[0]
        no_token = admin.post(decide, data=form, headers={"Origin": service.url})
        wrong_origin = admin.post(
            decide, data={**form, "csrf": csrf}, headers={"Origin": "http://evil.example"}
        )
        no_origin = admin.post(decide, data={**form, "csrf": csrf})
        no_reason = admin.post(
            decide, data={**form, "csrf": csrf, "reason": " "}, headers={"Origin": service.url}
        )
    assert no_reason.status_code == 400 and "reason: required" in no_reason.text
    assert no_token.status_code == 403
    assert wrong_origin.status_code == 403
    assert no_origin.status_code == 403
    # a read session with its own valid token and origin may still not act
    with httpx.Client(cookies={"od_console": "console-read"}, timeout=10) as reader:
        page = reader.get(f"{service.url}/ui/approvals").text
        csrf = page.split('name="csrf" value="')[1].split('"')[0]
        as_reader = reader.post(
            decide, data={**form, "csrf": csrf}, headers={"Origin": service.url}
        )
    assert as_reader.status_code == 403
    assert "only read" in as_reader.text
    assert status_of(service, workflow_id) == "AWAITING_APPROVAL"
    httpx.post(
        f"{service.url}/api/v1/workflows/{workflow_id}/reject",
        json={"reason": "test over"},
        headers=ADMIN,
        timeout=30,
    )


def test_operations_shows_workers_budgets_and_the_engine_link(
    service: Service, browser: Any
) -> None:
    sign_in(browser, service, "console-read")
    browser.get(f"{service.url}/ui/operations")
    workers = browser.find_elements(By.CSS_SELECTOR, "#workers tbody tr")
    assert len(workers) == 3 and "HEALTHY" in workers[0].text
    assert browser.find_element(By.ID, "sla-h").is_displayed()
    assert browser.find_element(By.ID, "dead-letters")
    link = browser.find_element(By.LINK_TEXT, "Temporal UI").get_attribute("href")
    assert link.rstrip("/") == f"http://127.0.0.1:{service.env['TEMPORAL_UI_PORT']}"
    # the list, with what the tests above ran (run last so it shows them all)
    browser.get(f"{service.url}/ui/workflows?q=plan-0005")
    rows = browser.find_elements(By.CSS_SELECTOR, "#workflows tbody tr[data-workflow]")
    assert len(rows) == 2 and all("plan-0005" in r.text for r in rows)
    browser.get(f"{service.url}/ui/workflows?status=COMPLETED")
    rows = browser.find_elements(By.CSS_SELECTOR, "#workflows tbody tr[data-workflow]")
    assert len(rows) == 2 and all("COMPLETED" in r.text for r in rows)
    browser.get(f"{service.url}/ui/workflows")
    rows = browser.find_elements(By.CSS_SELECTOR, "#workflows tbody tr[data-workflow]")
    assert len(rows) == 3
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / "workflows.png"))
    # signing out forgets the cookie: the next page asks to sign in again
    browser.find_element(By.CSS_SELECTOR, "form[action='/ui/signout'] button").click()
    wait_for(lambda: "/ui/signin" in browser.current_url, 10, "the sign-in page")
    assert browser.get_cookie("od_console") is None
    browser.get(f"{service.url}/ui/operations")
    assert "/ui/signin" in browser.current_url
