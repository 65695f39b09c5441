package neuralhive.orchestrator.security_constraints

import rego.v1

ticket(level) := {"task_id": "t1", "security_level": level}

worker(level, ns) := {"worker_id": "w1", "security_level": level, "namespace": ns}

rules(doc) := r if {
	r := {v.rule | some v in decision.violations} with input as doc
}

test_restricted_to_cleared_worker_allowed if {
	decision.allow with input as {"tickets": [ticket("RESTRICTED")], "worker": worker("RESTRICTED", "default")}
}

test_restricted_to_confidential_worker_refused if {
	doc := {"tickets": [ticket("RESTRICTED")], "worker": worker("CONFIDENTIAL", "default")}
	"worker_security_level_insufficient" in rules(doc)
}

test_confidential_to_internal_worker_refused if {
	doc := {"tickets": [ticket("CONFIDENTIAL")], "worker": worker("INTERNAL", "default")}
	"worker_security_level_insufficient" in rules(doc)
}

test_internal_ticket_to_any_worker_allowed if {
	decision.allow with input as {"tickets": [ticket("INTERNAL")], "worker": worker("PUBLIC", "other")}
}

test_namespace_mismatch_refused if {
	doc := {"tickets": [ticket("RESTRICTED")], "worker": worker("RESTRICTED", "other"), "namespace": "prod"}
	"worker_namespace_mismatch" in rules(doc)
}

test_namespace_match_allowed if {
	doc := {"tickets": [ticket("RESTRICTED")], "worker": worker("RESTRICTED", "prod"), "namespace": "prod"}
	decision.allow with input as doc
}

test_destructive_task_without_approval_refused if {
	doc := {"tickets": [ticket("INTERNAL")], "plan": {"destructive_tasks": ["t1"]}}
	"destructive_without_approval" in rules(doc)
}

test_destructive_plan_without_approval_refused if {
	doc := {"tickets": [ticket("INTERNAL")], "plan": {"is_destructive": true}, "approval": {"approved": false}}
	"destructive_without_approval" in rules(doc)
}

test_destructive_task_with_approval_allowed if {
	doc := {"tickets": [ticket("INTERNAL")], "plan": {"destructive_tasks": ["t1"]}, "approval": {"approved": true}}
	decision.allow with input as doc
}

test_ticket_marked_destructive_without_approval_refused if {
	t := object.union(ticket("INTERNAL"), {"metadata": {"destructive": "true"}})
	"destructive_without_approval" in rules({"tickets": [t]})
}

test_other_destructive_task_does_not_refuse if {
	decision.allow with input as {"tickets": [ticket("INTERNAL")], "plan": {"destructive_tasks": ["t2"]}}
}

test_sensitive_without_worker_warns if {
	doc := {"tickets": [ticket("RESTRICTED")]}
	decision.allow with input as doc
	count(decision.warnings) == 1 with input as doc
}
