package neuralhive.orchestrator.resource_limits

import rego.v1

ticket(band, timeout, retries) := {
	"task_id": "t1", "risk_band": band, "required_capabilities": ["testing"],
	"parameters": {}, "sla": {"deadline": 2000000, "timeout_ms": timeout, "max_retries": retries},
}

rules(doc) := r if {
	r := {v.rule | some v in decision.violations} with input as doc
}

test_valid_ticket_allowed if {
	decision.allow with input as {"tickets": [ticket("high", 3600000, 3)]}
}

test_timeout_exceeds_max if {
	"timeout_exceeds_max" in rules({"tickets": [ticket("low", 900001, 1)]})
}

test_timeout_at_max_allowed if {
	decision.allow with input as {"tickets": [ticket("medium", 1800000, 2)]}
}

test_retries_exceed_max if {
	"retries_exceed_max" in rules({"tickets": [ticket("critical", 60000, 6)]})
}

test_capability_not_allowed if {
	t := object.union(ticket("low", 60000, 1), {"required_capabilities": ["shell"]})
	"capability_not_allowed" in rules({"tickets": [t], "config": {"allowed_capabilities": ["testing"]}})
}

test_every_capability_allowed_without_a_list if {
	t := object.union(ticket("low", 60000, 1), {"required_capabilities": ["shell", "helm"]})
	decision.allow with input as {"tickets": [t]}
	decision.allow with input as {"tickets": [t], "config": {"allowed_capabilities": []}}
}

test_capability_whitelist_from_config if {
	t := object.union(ticket("low", 60000, 1), {"required_capabilities": ["shell"]})
	decision.allow with input as {"tickets": [t], "config": {"allowed_capabilities": ["shell"]}}
}

test_cpu_exceeds_limit if {
	t := object.union(ticket("low", 60000, 1), {"parameters": {"cpu": "4500m"}})
	"cpu_exceeds_limit" in rules({"tickets": [t]})
}

test_cpu_within_limit if {
	t := object.union(ticket("low", 60000, 1), {"parameters": {"cpu": "4"}})
	decision.allow with input as {"tickets": [t]}
}

test_memory_exceeds_limit if {
	t := object.union(ticket("low", 60000, 1), {"parameters": {"memory": "9Gi"}})
	"memory_exceeds_limit" in rules({"tickets": [t]})
}

test_memory_limit_from_config if {
	t := object.union(ticket("low", 60000, 1), {"parameters": {"memory": "512Mi"}})
	"memory_exceeds_limit" in rules({"tickets": [t], "config": {"max_memory": "256Mi"}})
}

test_too_many_concurrent_tickets if {
	"too_many_concurrent_tickets" in rules({"tickets": [ticket("low", 60000, 1)], "concurrent_tickets": 101})
}

test_hundred_concurrent_tickets_allowed if {
	decision.allow with input as {"tickets": [ticket("low", 60000, 1)], "concurrent_tickets": 100}
}

test_violation_names_task_and_severity if {
	vs := decision.violations with input as {"tickets": [ticket("low", 900001, 1)]}
	some v in vs
	v.severity == "high"
	contains(v.message, "task t1")
}

test_unknown_band_warns if {
	count(decision.warnings) == 1 with input as {"tickets": [ticket("extreme", 60000, 1)]}
}

# The limits of ARCHITECTURE.md, band by band: at the limit allowed, one over refused.
test_retry_limits_by_band if {
	every band, limit in {"critical": 5, "high": 3, "medium": 2, "low": 1} {
		decision.allow with input as {"tickets": [ticket(band, 60000, limit)]}
		"retries_exceed_max" in rules({"tickets": [ticket(band, 60000, limit + 1)]})
	}
}

test_timeout_limits_by_band if {
	every band, limit in {"critical": 7200000, "high": 3600000, "medium": 1800000, "low": 900000} {
		decision.allow with input as {"tickets": [ticket(band, limit, 1)]}
		"timeout_exceeds_max" in rules({"tickets": [ticket(band, limit + 1, 1)]})
	}
}
