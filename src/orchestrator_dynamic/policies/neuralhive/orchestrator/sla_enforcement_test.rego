package neuralhive.orchestrator.sla_enforcement

import rego.v1

ticket(band, priority, mode, consistency) := {
	"task_id": "t1", "risk_band": band, "priority": priority, "estimated_duration_ms": 1000,
	"sla": {"deadline": 1060000, "timeout_ms": 60000, "max_retries": 1},
	"qos": {"delivery_mode": mode, "consistency": consistency, "durability": "PERSISTENT"},
}

ok_high := ticket("high", "HIGH", "EXACTLY_ONCE", "STRONG")

rules(doc) := r if {
	r := {v.rule | some v in decision.violations} with input as doc
}

test_valid_ticket_allowed if {
	decision.allow with input as {"tickets": [ok_high], "now_ms": 1000000}
}

test_deadline_in_past_refused_at_plan if {
	"deadline_in_past" in rules({"tickets": [ok_high], "now_ms": 1060000})
}

test_deadline_in_past_only_warns_per_ticket if {
	doc := {"tickets": [ok_high], "now_ms": 1070000, "stage": "ticket"}
	decision.allow with input as doc
	count(decision.warnings) == 1 with input as doc
}

test_deadline_beyond_horizon if {
	"deadline_beyond_horizon" in rules({"tickets": [ok_high], "now_ms": 0, "config": {"max_deadline_horizon_ms": 1000}})
}

test_critical_requires_exactly_once_strong if {
	t := ticket("critical", "CRITICAL", "AT_LEAST_ONCE", "STRONG")
	"qos_insufficient" in rules({"tickets": [t], "now_ms": 1000000})
}

test_high_requires_strong if {
	t := ticket("high", "HIGH", "EXACTLY_ONCE", "EVENTUAL")
	"qos_insufficient" in rules({"tickets": [t], "now_ms": 1000000})
}

test_low_accepts_at_least_once_eventual if {
	t := ticket("low", "LOW", "AT_LEAST_ONCE", "EVENTUAL")
	decision.allow with input as {"tickets": [t], "now_ms": 1000000}
}

test_priority_misaligned if {
	t := ticket("low", "HIGH", "AT_LEAST_ONCE", "EVENTUAL")
	"priority_misaligned" in rules({"tickets": [t], "now_ms": 1000000})
}

test_timeout_below_estimate if {
	t := object.union(ok_high, {"estimated_duration_ms": 40001})
	"timeout_below_estimate" in rules({"tickets": [t], "now_ms": 1000000})
}

test_timeout_exactly_one_and_a_half_estimate_allowed if {
	t := object.union(ok_high, {"estimated_duration_ms": 40000})
	decision.allow with input as {"tickets": [t], "now_ms": 1000000}
}

test_no_estimate_skips_margin if {
	t := object.union(ok_high, {"estimated_duration_ms": null})
	decision.allow with input as {"tickets": [t], "now_ms": 1000000}
}

test_sla_budget_exhausted if {
	"sla_budget_exhausted" in rules({"tickets": [ok_high], "now_ms": 1000000, "sla_budget": {"remaining": 0}})
}

test_sla_budget_low_warns if {
	doc := {"tickets": [ok_high], "now_ms": 1000000, "sla_budget": {"remaining": 0.1}}
	decision.allow with input as doc
	count(decision.warnings) == 1 with input as doc
}

test_unknown_sla_budget_allowed if {
	decision.allow with input as {"tickets": [ok_high], "now_ms": 1000000}
}

test_priority_by_band if {
	every band, priority in {"critical": "CRITICAL", "high": "HIGH", "medium": "NORMAL", "low": "LOW"} {
		t := ticket(band, priority, "EXACTLY_ONCE", "STRONG")
		decision.allow with input as {"tickets": [t], "now_ms": 1000000}
	}
}
